"""Keeping the data safe: a consistent backup and a health check (`backup`, `doctor`)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from . import crosscheck, files, policy
from .chain import TRIGGERS, catalog_problems
from .derived import serial_hold_problems
from .errors import ReturnsError
from .files import write_whole
from .store import NO_RA_NUMBER, OPEN_SQL, SCHEMA_VERSION, Store

# Filesystems where SQLite's locking is unsafe (SPEC §6): keep the database on a local disk.
MAX_NAMED = 5  # returns named in one problem line
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "fuse.sshfs", "sshfs", "9p", "afs", "ncpfs"}


def backup(store: Store, dest: Path, *, force: bool) -> int:
    """Copy the live database with SQLite's backup API (a consistent snapshot while others
    write) into a temporary file beside `dest`, check it, then rename it into place."""
    if store.url:  # a server keeps its own backups: pg_dump, at the server, once per team
        raise ReturnsError("on a server database, back up with pg_dump (README: A team on one server)")
    dest = dest.expanduser()
    with write_whole(dest, force=force, protected=[store.path], what="backup target") as tmp:
        copy = sqlite3.connect(tmp)
        try:
            store.conn.backup(copy)  # one step: a snapshot taken under a read lock
            # The quick check (pages, records, free list; not index contents) is enough for a copy
            # SQLite's backup API made page by page: the full check was 75% of a backup at 1M.
            # `doctor` runs the full integrity check of the database itself.
            (result,) = copy.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise ReturnsError(f"the copy failed its quick check ({result}); nothing was written")
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
    return dest.stat().st_size


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


def replay_problems(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """Each return's history replayed through the state machine and money rules (voids
    included, history.replay): name every return whose stored state or dates disagree."""
    from . import history
    from .audit import customer_key_problem
    from .store import customer_key, ra_number

    problems: list[str] = []
    events = conn.execute("SELECT return_id, id, event, happened_on, detail FROM events ORDER BY return_id, id")
    pending = next(events, None)
    returns = conn.execute("SELECT * FROM returns ORDER BY id")
    has_ra_no = any(d[0] == "ra_no" for d in returns.description)  # before m004 the id was the number
    has_key = any(d[0] == "customer_key" for d in returns.description)  # m013

    def name(r: sqlite3.Row) -> str:
        if r["type"] == "counter":
            return r["ticket"]
        number = r["ra_no"] if has_ra_no else r["id"]
        return ra_number(number) if number is not None else f"return id {r['id']} {NO_RA_NUMBER}"

    for r in returns:
        mine = []
        while pending is not None and pending["return_id"] <= r["id"]:
            if pending["return_id"] == r["id"]:
                mine.append(pending)
            pending = next(events, None)
        try:
            life = history.replay(r["type"], date.fromisoformat(r["opened_on"]), r["hold_amount_cents"] or 0, mine).life
        except ReturnsError as e:
            problems.append(f"{name(r)}: its history does not replay ({e.problems[0].message})")
            continue
        except (ValueError, KeyError, TypeError) as e:  # a value edited outside the tool (issue 11)
            problems.append(f"{name(r)}: its history holds a value the tool never writes ({policy.quote(str(e))})")
            continue
        stored = history.Life.from_row(r)
        if stored != life:
            was = stored.columns()
            wrong = [f"{c} is {was[c]}, history says {v}" for c, v in life.columns().items() if was[c] != v]
            problems.append(f"{name(r)}: {'; '.join(wrong)}")
        key = customer_key(r["customer"]) if isinstance(r["customer"], str) else None
        if has_key and r["customer_key"] != key:
            problems.append(f"{name(r)}: {customer_key_problem(r['customer_key'], key)}")
        if len(problems) >= limit:
            problems.append("(more returns disagree: only the first are named)")
            break
    return problems


def doctor(store: Store, progress=None) -> dict:
    """Integrity, foreign keys, schema, sizes, counts, the history's tamper evidence (audit.py),
    files left behind; `problems` lists what is wrong."""
    conn = store.conn
    problems, warnings = [], []
    if store.url:
        return _doctor_server(store, problems, warnings)
    if progress:
        progress("integrity check", 0, 0)
    version = store.schema_version()
    chains, integrity, upto = None, None, 0
    if version == SCHEMA_VERSION:  # the integrity check, the chains and part of the replay run beside (audit.py)
        from .audit import fast_reads, split, start_chains

        upto = split(fast_reads(conn))
        chains = start_chains(store.uri, upto)
    else:
        from .chain import integrity_check

        integrity = integrity_check(conn)
    fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        problems.append(f"{len(fk)} row(s) break a foreign key (first in table {fk[0][0]})")
    pending = max(SCHEMA_VERSION - version, 0)
    if version > SCHEMA_VERSION:
        problems.append(f"the database is at schema {version}, newer than this tool ({SCHEMA_VERSION}): "
                        f"{store.newer_message()}; its history was not checked")
    fs = filesystem_type(store.path)
    if fs in NETWORK_FILESYSTEMS:
        problems.append(f"the database is on a network filesystem ({fs}): SQLite's locking is unsafe there; move it to a local disk")
    if version >= 8:  # m008: ledger_days is the ledger summed per day and event, kept by a trigger
        problems += ledger_days_problems(conn)
    problems += serial_hold_problems(conn)  # m012's SER-1 flags against their returns' states
    if version >= 4:  # m004: RA numbers in their own column
        problems += missing_ra_problems(conn)
    schema = []
    if 0 < version <= SCHEMA_VERSION:  # the append-only triggers: the audit's own check, in its words
        schema = crosscheck.sqlite_schema_problems(conn, set(TRIGGERS) if version == SCHEMA_VERSION else set())[0]
        problems += schema
    problems += _crosschecks(conn, version)
    if version >= 2 and version != SCHEMA_VERSION:  # at this schema the audit below replays (once)
        problems += replay_problems(conn)
        if version >= 7:  # at this schema the audit's replay counts them
            problems += crosscheck.unrecorded_notice_problems(conn)
    counts: dict[str, int] = {}
    if version >= 2:
        for row in conn.execute("SELECT type || ' ' || status, count(*) FROM returns GROUP BY type, status ORDER BY 1"):
            counts[row[0]] = row[1]
    audit_report: dict = {}
    if version == SCHEMA_VERSION:
        from .audit import audit, stop

        try:
            audit_report, found = audit(conn, progress, chains, upto)
        finally:
            stop(chains)  # an error on the way: no process is left running
        integrity = audit_report.pop("integrity")
        problems += found
    elif version < SCHEMA_VERSION and not schema:  # a schema not its migrations': a write would not upgrade it
        warnings.append("the history's hash chains are recorded from schema 10: run any write command to upgrade")
    if integrity != ["ok"]:
        problems.insert(0, f"integrity check failed: {'; '.join(integrity[:5])}")
    leftovers = files.stale_temp_files(store.path.parent)
    if leftovers:
        warnings.append(f"{len(leftovers)} temporary file(s) left by a killed export or backup: "
                        f"{', '.join(p.name for p in leftovers[:5])} (the next export or backup to this folder removes them)")
    exposed = [p for p in (store.path, *(Path(f"{store.path}{s}") for s in files.SQLITE_SIDE_FILES))
               if p.exists() and p.stat().st_mode & 0o007]
    if exposed:
        warnings.append(f"readable by every account on this host: {', '.join(str(p) for p in exposed)} (chmod o-rwx)")
    wal = Path(f"{store.path}-wal")
    return {
        "database": str(store.path),
        "integrity": "ok" if integrity == ["ok"] else integrity,
        "foreign_key_violations": len(fk),
        "schema_version": version,
        "pending_migrations": pending,
        "filesystem": fs,
        "database_bytes": store.path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "returns_by_type_and_status": counts,
        **audit_report,
        "stale_temp_files": [str(p) for p in leftovers],
        "problems": problems,
        "warnings": warnings,
        "ok": not problems,
    }


def _doctor_server(store: Store, problems: list, warnings: list) -> dict:
    """On a PostgreSQL server: its version, the schema, the same ledger check and counts (the
    server checks its own pages and foreign keys; sizes and backups are the server's business)."""
    from .dialect import shown

    (server_version,) = store.conn.execute("SHOW server_version").fetchone()
    version, pending, counts = _schema_and_counts(store, problems, warnings)
    return {
        "database": shown(store.url),
        "server_version": server_version,
        "schema_version": version,
        "pending_migrations": pending,
        "returns_by_type_and_status": counts,
        "problems": problems,
        "warnings": warnings,
        "ok": not problems,
    }


def _schema_and_counts(store: Store, problems: list, warnings: list) -> tuple[int, int, dict[str, int]]:
    """The server's schema, its ledger's daily totals, each history replayed, and counts."""
    conn = store.conn
    version = store.schema_version()
    pending = max(SCHEMA_VERSION - version, 0)
    if version > SCHEMA_VERSION:
        problems.append(f"the database is at schema {version}, newer than this tool ({SCHEMA_VERSION}): "
                        f"{store.newer_message()}; its history was not checked")
        return version, pending, {}
    if version >= 8:  # m008: ledger_days is the ledger summed per day and event, kept by a trigger
        problems += ledger_days_problems(conn)
    problems += serial_hold_problems(conn)  # m012's SER-1 flags against their returns' states
    if version >= 4:  # m004: RA numbers in their own column
        problems += missing_ra_problems(conn)
    problems += crosscheck.server_schema_problems(conn)
    problems += _crosschecks(conn, version)
    if version >= 2:
        problems += replay_problems(conn)
    if version >= 7:
        problems += crosscheck.unrecorded_notice_problems(conn)
    counts: dict[str, int] = {}
    if version >= 2:
        for row in conn.execute("SELECT type || ' ' || status, count(*) FROM returns GROUP BY type, status ORDER BY 1"):
            counts[row[0]] = row[1]
    return version, pending, counts


def _crosschecks(conn, version: int) -> list[str]:
    """The tables outside the chains, against what they derive from (crosscheck.py), both backends."""
    found = []
    if version >= 8:  # m008: reviews
        found += crosscheck.review_problems(conn)
    if version >= 7:  # m007: notices
        found += address_problems(conn)
        found += crosscheck.notice_problems(conn)
    if version >= 14:  # m014: the catalog's digest
        found += catalog_problems(conn)
    return found


def missing_ra_problems(conn) -> list[str]:
    """Doctor (both backends): a return other than a counter return without its RA number (SPEC
    §1: every one has one), erased outside the tool. Read through the RA number's index."""
    rows = conn.execute("SELECT id, type FROM returns WHERE ra_no IS NULL AND type != 'counter' ORDER BY id").fetchall()
    if not rows:
        return []
    named = ", ".join(f"id {rid} ({type_})" for rid, type_ in rows[:MAX_NAMED])
    return [f"{len(rows)} return(s) have no RA number (changed outside the tool): {named}"
            f"{', ...' if len(rows) > MAX_NAMED else ''}; they are listed as {NO_RA_NUMBER}"]


def address_problems(conn) -> list[str]:
    """Doctor (both backends): open returns whose notices failed and whose e-mail on file the
    `email` package cannot carry (stored before input checked it), one line per return, at most
    MAX_NAMED of them and a line for the rest. Only returns with a failed notice are read: cheap
    at a million."""
    key = "CASE WHEN type = 'counter' THEN ticket WHEN ra_no IS NOT NULL THEN printf('RA-%06d', ra_no) END"
    rows = conn.execute(f"""SELECT {key}, email FROM returns WHERE {OPEN_SQL}
                            AND id IN (SELECT return_id FROM notices WHERE state = 'failed') ORDER BY id""").fetchall()
    found = []
    for ra, email in rows:
        ra = ra or NO_RA_NUMBER
        refusal = policy.email_refusal(email) if email else None
        if refusal:
            found.append(f"{ra}: its notices cannot be sent to the e-mail on file '{policy.quote(email)}' ({refusal}): "
                         f"correct it with `speco-returns edit {ra} --email`")
    if len(found) > MAX_NAMED:
        found[MAX_NAMED:] = [f"{len(found) - MAX_NAMED} more open return(s) whose notices cannot be sent to the e-mail on file: "
                         "`speco-returns notify --dry-run` names them"]
    return found


def ledger_days_problems(conn) -> list[str]:
    """Doctor's check (SQLite and server alike) that ledger_days still sums the ledger per day and event."""
    sums = """SELECT happened_on AS day, event, count(*), sum(amount_cents), sum(holds_change), sum(charges_change)
              FROM ledger GROUP BY happened_on, event"""
    kept = "SELECT day, event, rows, amount_cents, holds_change, charges_change FROM ledger_days"
    (drift,) = conn.execute(f"""SELECT count(DISTINCT day) FROM (SELECT day FROM ({sums} EXCEPT {kept}) AS a
                                UNION ALL SELECT day FROM ({kept} EXCEPT {sums}) AS b) AS drift""").fetchone()
    if not drift:
        return []
    return [f"the ledger's daily totals (ledger_days) disagree with the ledger on {drift} day(s): "
            "`report` would be wrong; restore from a backup"]
