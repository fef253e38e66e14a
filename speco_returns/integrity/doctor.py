"""`doctor`: integrity, schema, the history's tamper evidence and each return replayed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from ..db.derived import holds
from ..db.migrations import SCHEMA_VERSION
from ..db.returns import OPEN_SQL
from ..db.schema import SQLITE_CHAIN_TRIGGERS
from ..domain import inputs, lifecycle
from ..domain.keys import NO_RA_NUMBER
from ..errors import ReturnsError
from . import crosscheck

if TYPE_CHECKING:
    from ..db.database import Database

# Filesystems where SQLite's locking is unsafe (SPEC §6): keep the database on a local disk.
MAX_NAMED = 5  # returns named in one problem line
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "fuse.sshfs", "sshfs", "9p", "afs", "ncpfs"}


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


def replay_problems(conn: Database, limit: int = 20) -> list[str]:
    """Each return's history replayed through the state machine and money rules (voids
    included, lifecycle.replay): name every return whose stored state or dates disagree."""
    from ..domain.keys import customer_key
    from ..domain.keys import ra_text as ra_number
    from .sqlite_fanout import customer_key_problem

    problems: list[str] = []
    events = conn.execute("SELECT return_id, id, event, happened_on, detail FROM events ORDER BY return_id, id")
    pending = next(events, None)
    returns = conn.execute("SELECT * FROM returns ORDER BY id")
    has_ra_no = any(d[0] == "ra_no" for d in returns.description)  # before m004 the id was the number
    has_key = any(d[0] == "customer_key" for d in returns.description)  # m013

    def name(r) -> str:
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
            life = lifecycle.replay(r["type"], date.fromisoformat(r["opened_on"]), r["hold_amount_cents"] or 0, mine).life
        except ReturnsError as e:
            problems.append(f"{name(r)}: its history does not replay ({e.problems[0].message})")
            continue
        except (ValueError, KeyError, TypeError) as e:  # a value edited outside the tool
            problems.append(f"{name(r)}: its history holds a value the tool never writes ({inputs.quote(str(e))})")
            continue
        stored = lifecycle.Life.from_row(r)
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


def doctor(store: Database, progress=None) -> dict:
    """Integrity, foreign keys, schema, sizes, counts, the history's tamper evidence (audit.py),
    files left behind; `problems` lists what is wrong."""
    conn = store.raw
    problems, warnings = [], []
    if store.is_server:
        return _doctor_server(store, problems, warnings)
    if progress:
        progress("integrity check", 0, 0)
    version = store.schema_version()
    chains, integrity, upto = None, None, 0
    if version == SCHEMA_VERSION:  # the integrity check, the chains and part of the replay run beside (audit.py)
        from .sqlite_fanout import fast_reads, split, start_chains

        upto = split(fast_reads(conn))
        chains = start_chains(_uri(store.path), upto)
    else:
        from .sqlite_fanout import integrity_check

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
        problems += ledger_days_problems(store)
    problems += serial_hold_problems(store)  # m012's SER-1 flags against their returns' states
    if version >= 4:  # m004: RA numbers in their own column
        problems += missing_ra_problems(store)
    schema = []
    if 0 < version <= SCHEMA_VERSION:  # the append-only triggers: the audit's own check, in its words
        schema = crosscheck.sqlite_schema_problems(store, set(SQLITE_CHAIN_TRIGGERS) if version == SCHEMA_VERSION
                                                   else set())[0]
        problems += schema
    problems += _crosschecks(store, version)
    if version >= 2 and version != SCHEMA_VERSION:  # at this schema the audit below replays (once)
        problems += replay_problems(store)
        if version >= 7:  # at this schema the audit's replay counts them
            problems += crosscheck.unrecorded_notice_problems(store)
    counts: dict[str, int] = {}
    if version >= 2:
        for row in conn.execute("SELECT type || ' ' || status, count(*) FROM returns GROUP BY type, status ORDER BY 1"):
            counts[row[0]] = row[1]
    audit_report: dict = {}
    if version == SCHEMA_VERSION:
        from .sqlite_fanout import audit, stop

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


def _doctor_server(store: Database, problems: list, warnings: list) -> dict:
    """On a PostgreSQL server: its version, the schema, the same ledger check and counts (the
    server checks its own pages and foreign keys; sizes and backups are the server's business)."""
    server_version = store.scalar("SHOW server_version")
    version, pending, counts = _schema_and_counts(store, problems, warnings)
    return {
        "database": store.where,
        "server_version": server_version,
        "schema_version": version,
        "pending_migrations": pending,
        "returns_by_type_and_status": counts,
        "problems": problems,
        "warnings": warnings,
        "ok": not problems,
    }


def _schema_and_counts(store: Database, problems: list, warnings: list) -> tuple[int, int, dict[str, int]]:
    """The server's schema, its ledger's daily totals, each history replayed, and counts."""
    conn = store
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


def _crosschecks(conn: Database, version: int) -> list[str]:
    """The tables outside the chains, against what they derive from (crosscheck.py), both engines."""
    found = []
    if version >= 8:  # m008: reviews
        found += crosscheck.review_problems(conn)
    if version >= 7:  # m007: notices
        found += address_problems(conn)
        found += crosscheck.notice_problems(conn)
    if version >= 14:  # m014: the catalog's digest
        found += catalog_problems(conn)
    return found


def catalog_problems(conn: Database) -> list[str]:
    """Doctor (both engines, from m014): the catalog against its recorded digest."""
    from ..db.chain import catalog_digest

    head = conn.one("SELECT rows, hash FROM chain_heads WHERE name = 'catalog'")
    rows, digest_ = catalog_digest(conn)
    if head is not None and (head[0], head[1]) == (rows, digest_):
        return []
    return [f"the catalog was changed outside the tool ({rows} model(s); its digest was recorded with "
            f"{'no' if head is None else head[0]} row(s) and does not match): list prices and categories decide holds "
            "and VR-3; compare `catalog list` with the price list, then enter it again (`catalog import`)"]


def missing_ra_problems(conn: Database) -> list[str]:
    """Doctor (both engines): a return other than a counter return without its RA number (SPEC
    §1: every one has one), erased outside the tool. Read through the RA number's index."""
    rows = conn.all("SELECT id, type FROM returns WHERE ra_no IS NULL AND type != 'counter' ORDER BY id")
    if not rows:
        return []
    named = ", ".join(f"id {rid} ({type_})" for rid, type_ in rows[:MAX_NAMED])
    return [f"{len(rows)} return(s) have no RA number (changed outside the tool): {named}"
            f"{', ...' if len(rows) > MAX_NAMED else ''}; they are listed as {NO_RA_NUMBER}"]


def address_problems(conn: Database) -> list[str]:
    """Doctor (both engines): open returns whose notices failed and whose e-mail on file the
    `email` package cannot carry (stored before input checked it), one line per return, at most
    MAX_NAMED of them and a line for the rest. Only returns with a failed notice are read: cheap
    at a million."""
    key = f"CASE WHEN type = 'counter' THEN ticket WHEN ra_no IS NOT NULL THEN {conn.engine.ra_text('ra_no')} END"
    rows = conn.all(f"""SELECT {key}, email FROM returns WHERE {OPEN_SQL}
                        AND id IN (SELECT return_id FROM notices WHERE state = 'failed') ORDER BY id""")
    found = []
    for ra, email in rows:
        ra = ra or NO_RA_NUMBER
        refusal = inputs.email_refusal(email) if email else None
        if refusal:
            found.append(f"{ra}: its notices cannot be sent to the e-mail on file '{inputs.quote(email)}' ({refusal}): "
                         f"correct it with `speco-returns edit {ra} --email`")
    if len(found) > MAX_NAMED:
        found[MAX_NAMED:] = [f"{len(found) - MAX_NAMED} more open return(s) whose notices cannot be sent to the e-mail "
                             "on file: `speco-returns notify --dry-run` names them"]
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


def _uri(path: Path) -> str:
    from urllib.parse import quote

    return "file:" + quote(str(path.absolute()))


def serial_hold_problems(conn: Database) -> list[str]:
    """Doctor (both backends): serials whose flag disagrees with their return's state. Both halves
    read only held serials and open returns through their partial indexes: cheap at a million."""
    if "held" not in conn.columns("serials"):
        return []  # before m012
    key = (f"CASE WHEN r.type = 'counter' THEN r.ticket WHEN r.ra_no IS NULL THEN '{NO_RA_NUMBER}' "
           f"ELSE {conn.engine.ra_text('r.ra_no')} END")
    rows = conn.all(
        f"""SELECT s.serial, {key}, r.status, s.held FROM serials s JOIN returns r ON r.id = s.return_id
            WHERE s.held = 1 AND NOT ({holds('r.status')})
            UNION ALL
            SELECT s.serial, {key}, r.status, s.held FROM returns r JOIN serials s ON s.return_id = r.id
            WHERE {holds('r.status')} AND s.held = 0""")
    if not rows:
        return []
    named = "; ".join(f"{serial} on {ra} ({status}) is {'held' if held else 'not held'}"
                      for serial, ra, status, held in rows[:MAX_NAMED])
    return [f"{len(rows)} serial(s) disagree with their return's state under SER-1 (serials.held): {named}"
            f"{' ...' if len(rows) > MAX_NAMED else ''}: a serial on two open returns shows here; cancel one"]
