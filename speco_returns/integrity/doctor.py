"""`doctor`: one doctor for both engines. It migrates nothing and reads the database as it is:
the storage (SQLite's own checks; a server checks its own pages), the schema against its
migrations, the checks of integrity/checks.py, and at this tool's schema the history's tamper
evidence: both hash chains and every return replayed against what is stored. `problems`
lists what is wrong; the JSON report keeps the details."""

from __future__ import annotations

from pathlib import Path

from .. import files
from ..db import audit
from ..db.connection import Database
from ..db.migrations import SCHEMA_VERSION
from ..db.schema import SQLITE_CHAIN_TRIGGERS
from . import chains, fanout, replay
from .checks import CHECKS, notice_events
from .schema import schema_problems

# Filesystems where SQLite's locking is unsafe (SPEC §6): keep the database on a local disk.
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "fuse.sshfs", "sshfs",
                       "9p", "afs", "ncpfs"}
MAX_NAMED = 20


def filesystem_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding `path`, read from /proc/mounts (None elsewhere)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = str(path.resolve())
    best, kind = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


def doctor(db: Database, progress=None) -> dict:
    """On a server, every check reads one snapshot (several streams read side by side, and
    a write committed meanwhile must not look like a disagreement); a SQLite file's checks
    run beside each other in worker processes, each with its own (fanout.py)."""
    if db.is_server:
        with db.read():
            return _doctor(db, progress)
    return _doctor(db, progress)


def _doctor(db: Database, progress=None) -> dict:
    version = db.schema_version()
    current, newer = version == SCHEMA_VERSION, version > SCHEMA_VERSION
    problems: list[str] = []
    warnings: list[str] = []
    report: dict = {"database": db.where}
    workers, upto, integrity = None, replay.ALL, None
    try:
        if db.is_server:
            report["server_version"] = audit.server_version(db)
        else:
            if progress:
                progress("integrity check", 0, 0)
            # the integrity check, the chains and half the replay run beside (fanout.py)
            if current:
                db.engine.fast_reads(db.raw)
                upto = fanout.split(db)
                workers = fanout.start(db.path, upto)
            else:
                integrity = audit.integrity_check(db)
            fk = audit.foreign_key_violations(db)
            if fk:
                problems.append(f"{len(fk)} row(s) break a foreign key (first in table {fk[0][0]})")
            report["foreign_key_violations"] = len(fk)
        report["schema_version"] = version
        report["pending_migrations"] = max(SCHEMA_VERSION - version, 0)
        if newer:
            problems.append(f"the database is at schema {version}, newer than this tool "
                            f"({SCHEMA_VERSION}): {db.newer_message()}; "
                            "its history was not checked")
        if not db.is_server:
            fs = filesystem_type(db.path)
            report["filesystem"] = fs
            if fs in NETWORK_FILESYSTEMS:
                problems.append(f"the database is on a network filesystem ({fs}): "
                                "SQLite's locking is unsafe there; move it to a local disk")
        schema: list[str] = []
        if not newer:
            for check in CHECKS:
                if version >= check.since:
                    problems += check.run(db)
            if version > 0:
                # named by their own check
                skip = set(SQLITE_CHAIN_TRIGGERS) if current and not db.is_server else set()
                schema = schema_problems(db, skip)[0]
                problems += schema
        report["returns_by_type_and_status"] = (audit.counts_by_type_and_status(db)
                                                if version >= 2 else {})
        if current:
            problems += _tamper_evidence(db, report, workers, upto, progress)
            integrity = report.pop("integrity", integrity)
        elif not newer:
            if version >= 2:
                problems += replay.older_schema_problems(db)
            if version >= 7:
                problems += notice_events(db)
            if not schema:  # a schema not its migrations': a write would not upgrade it
                warnings.append("the history's hash chains are recorded from schema 10: "
                                "run any write command to upgrade")
    finally:
        fanout.stop(workers)  # an error on the way: no process is left running
    if not db.is_server:
        if integrity != ["ok"]:
            problems.insert(0, f"integrity check failed: {'; '.join(integrity[:5])}")
        report = {"database": report.pop("database"),
                  "integrity": "ok" if integrity == ["ok"] else integrity,
                  **report, **_files(db, warnings)}
    return {**report, "problems": problems, "warnings": warnings, "ok": not problems}


def _tamper_evidence(db: Database, report: dict, workers, upto: int, progress) -> list[str]:
    """At this tool's schema: the triggers that keep history append-only, every return replayed
    (half of it in a worker on SQLite), both chains (a worker's on SQLite), RA numbers."""
    problems = []
    missing = [] if db.is_server else chains.sqlite_trigger_problems(db)
    if missing:
        problems.append(f"append-only trigger(s) missing or changed: {', '.join(missing)}")
    parts = [replay.replay(db, progress, -replay.ALL, upto)]
    if upto < replay.ALL:
        rest = fanout.result(db, f"replay:{upto}:{replay.ALL}", workers, progress)
        parts.append((rest["lines"], rest["found"]))
    lines, disagree = replay.joined(parts)
    problems += lines
    if not db.is_server:
        report["integrity"] = fanout.result(db, "integrity", workers, progress)["integrity"]
    verified = (fanout.result(db, "chains", workers, progress)["chains"] if not db.is_server
                else chains.verify_all(db, progress))
    problems += chains.problem_lines(verified)
    if disagree:
        named = "; ".join(f"{d['ra']}: {d['problems'][0]}" for d in disagree[:MAX_NAMED])
        problems.append(f"{len(disagree)}{'+' if len(disagree) >= replay.MAX_LISTED else ''} "
                        f"return(s) disagree with their history: "
                        f"{named}{' ...' if len(disagree) > MAX_NAMED else ''}")
    report.update({
        "triggers": "ok" if not missing else missing,
        "chain_breaks": {table: bad[:replay.MAX_LISTED] for table, (bad, _) in verified.items()},
        "ra_gaps": audit.ra_gaps(db),
        "disagreements": disagree + [{"ra": line.split(":", 1)[0],
                                      "problems": [line.split(": ", 1)[-1]]}
                                     for line in lines if not line.startswith("(")],
    })
    return problems


def _files(db: Database, warnings: list[str]) -> dict:
    """A desk's files: sizes, temporary files a killed export left, who may read them."""
    leftovers = files.stale_temp_files(db.path.parent)
    if leftovers:
        warnings.append(f"{len(leftovers)} temporary file(s) left by a killed export or backup: "
                        f"{', '.join(p.name for p in leftovers[:5])} "
                        "(the next export or backup to this folder removes them)")
    exposed = [p for p in (db.path, *(Path(f"{db.path}{s}") for s in files.SQLITE_SIDE_FILES))
               if p.exists() and p.stat().st_mode & 0o007]
    if exposed:
        warnings.append("readable by every account on this host: "
                        f"{', '.join(str(p) for p in exposed)} (chmod o-rwx)")
    wal = Path(f"{db.path}-wal")
    return {"database_bytes": db.path.stat().st_size,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
            "stale_temp_files": [str(p) for p in leftovers]}
