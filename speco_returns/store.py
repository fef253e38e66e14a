"""The local SQLite store: connection, migrations, and every read and write.

Each write is one `BEGIN IMMEDIATE` transaction (`Store.write`): it takes the write lock
before it reads, so concurrent agents queue on the busy timeout instead of failing with
"database is locked", and a crash leaves a return recorded whole or not at all.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from . import history, notices, policy
from .derived import holds
from .dialect import SQLite, is_url
from .errors import DatabaseBusy, ReturnsError, SerialTaken
from .policy import Clock, Product, Request

SCHEMA_VERSION = 14  # the number of migrations in migrations.py (a test keeps them equal)
# The oldest schema this tool can read without migrating it (a read-only database cannot be
# migrated), and the value recorded for newer tools: a database at SCHEMA_VERSION is
# readable by any tool that knows schema READS_NEED_SCHEMA (m010 only added columns and tables).
READS_NEED_SCHEMA = 9
MIGRATION_SET = "speco-returns"
BUSY_TIMEOUT_MS = 5000
# Word for word the WHERE of the partial indexes returns_advanced_open (m003, which the overdue
# query names with INDEXED BY) and returns_open (m005): a test keeps them equal.
OPEN_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in policy.CLOSED))
_RA = re.compile(r"RA-([0-9]{1,18})", re.IGNORECASE)


# What a return whose RA number was erased outside the tool is called (doctor names it as a
# problem): every view still shows it, never a traceback.
NO_RA_NUMBER = "(no RA number)"


def ra_number(ra_no: int | None) -> str:
    return NO_RA_NUMBER if ra_no is None else f"RA-{ra_no:06d}"


def _key(row: sqlite3.Row) -> str:
    """What an agent calls a return: its RA number, or a counter return's ticket ID."""
    return row["ticket"] if row["type"] == "counter" else ra_number(row["ra_no"])


def _casefold(text: str | None) -> str | None:
    """Customer names match NFKC-casefolded: 'ＡＣＭＥ', 'Acme' and 'ACME' are one customer."""
    if text is None:
        return None
    import unicodedata

    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


customer_key = _casefold  # returns.customer_key (m013): what VR-2 and `list --customer` compare, on both backends


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Now:
    """The CLI's clock reading, passed down: nothing below the CLI reads the time."""

    today: date
    stamp: str  # when recorded, ISO 8601 UTC
    agent: str


class Store:
    """`read=True`: a read command. It never creates a database, and it reads a database it
    cannot write (a reporting account, a read-only mount, a backup) without leaving a file
    behind. Otherwise a write: a new database only in a folder that exists (`make_folder`
    for the default folder), never world-accessible; `create=False` for a write that adds
    nothing but to returns already there (`notify`): no database, no write."""

    def __init__(self, path: str | Path, *, migrate: bool = True, read: bool = False, make_folder: bool = False,
                 diagnose: bool = False, create: bool = True):
        from . import files

        self.url = self.login = None
        self.dialect = SQLite()
        if is_url(path):  # a PostgreSQL server (issue 14): the same store, the server's dialect
            self._connect_server(str(path), migrate=migrate, read=read, diagnose=diagnose)
            return
        self.path = Path(path)
        self.readonly = False
        if self.path.is_dir():
            raise ReturnsError(f"{self.path} is a folder: give the database file, such as {self.path / 'returns.db'}")
        if not self.path.exists():
            if read or diagnose or not create:
                raise ReturnsError(f"no database at {self.path}")
            files.create_private(self.path, make_folder=make_folder)
        elif not files.writable(self.path):
            if not (read or diagnose):
                raise ReturnsError(f"cannot write {self.path}: this account or filesystem may only read it "
                                   "(read commands still work)")
            self.readonly = True
        try:
            self.uri = self._uri()
            self.conn = sqlite3.connect(self.uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as e:
            raise ReturnsError(f"cannot open database {self.path}: {e}") from None
        self.conn.row_factory = sqlite3.Row
        # SQLite's lower() and NOCASE know only A-Z: customer matching ignores case in any script.
        self.conn.create_function("casefold", 1, _casefold, deterministic=True)
        self.conn.create_function("visible", 1, policy.visible, deterministic=True)
        try:
            for pragma in (
                f"busy_timeout = {BUSY_TIMEOUT_MS}",  # first: the others may wait on a lock
                "synchronous = FULL",
                "foreign_keys = ON",
                "secure_delete = ON",
            ):
                self.conn.execute(f"PRAGMA {pragma}")
            if not self.readonly:
                self._use_wal()
            if not diagnose:  # doctor reports a newer schema instead of refusing it
                self._check_version(read=read)
        except BaseException:
            self.conn.close()
            raise
        if migrate and not self.readonly:
            self._migrate()

    def _connect_server(self, url: str, *, migrate: bool, read: bool, diagnose: bool) -> None:
        from . import pg

        self.path, self.uri, self.url, self.dialect, self.readonly = None, None, url, pg.DIALECT, False
        self.conn = pg.connect(url)
        try:
            # On a server the recorded agent is the database login: --agent cannot impersonate.
            (self.login,) = self.conn.execute("SELECT current_user").fetchone()
            if not diagnose:
                self._check_version(read=read)
            if migrate:
                self._migrate()
        except BaseException:
            self.conn.close()
            raise

    def _uri(self) -> str:
        """A file we may not write is opened read-only; without a WAL to read, as immutable,
        so SQLite creates no -wal/-shm (owned by us, in someone else's folder)."""
        from urllib.parse import quote

        uri = "file:" + quote(str(self.path.absolute()))
        if not self.readonly:
            return uri
        wal, shm = Path(f"{self.path}-wal"), Path(f"{self.path}-shm")
        if wal.exists() and shm.exists():
            return uri + "?mode=ro"
        if wal.exists() and wal.stat().st_size > 0:
            raise ReturnsError(f"{self.path} has unfinished writes in {wal} that only an account that can "
                               "write the database can finish: run any command as that account first")
        return uri + "?immutable=1"

    def _check_version(self, *, read: bool) -> None:
        """A database upgraded by a newer tool: no writes at all; reads only where that tool
        recorded that this schema can still read it."""
        version = self.schema_version()
        if version <= SCHEMA_VERSION:
            if self.readonly and version < READS_NEED_SCHEMA:
                raise ReturnsError(f"{self.path} is at schema {version} and needs an upgrade, which this account "
                                   "cannot write: run any command once as an account that can write it")
            return
        info = self.schema_info()
        if read and int(info.get("reads_need_schema", version)) <= SCHEMA_VERSION:
            return
        raise ReturnsError(self.newer_message(info))

    def newer_message(self, info: dict | None = None) -> str:
        info = self.schema_info() if info is None else info
        by = f"speco-returns {info['upgraded_by']} or later" if info.get("upgraded_by") else "a newer speco-returns"
        return f"this database was upgraded by {by}: upgrade the tool ({self.path or self.where})"

    @property
    def where(self) -> str:
        """The database as messages name it: its file, or its URL without a password."""
        from .dialect import shown

        return shown(self.url) if self.url else str(self.path)

    def schema_info(self) -> dict[str, str]:
        if self.url:
            (exists,) = self.conn.execute("SELECT to_regclass('schema_info') IS NOT NULL").fetchone()
            return {k: v for k, v in self.conn.execute("SELECT key, value FROM schema_info")} if exists else {}
        try:
            return {k: v for k, v in self.conn.execute("SELECT key, value FROM schema_info")}
        except sqlite3.OperationalError:  # before m010
            return {}

    def _use_wal(self) -> None:
        """WAL is kept in the file, so this is a read once a file has it. Switching a new
        file can fail at once with "locked" while another process opens it too (SQLite does
        not wait on the busy handler there): retry within the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        self.conn.close()

    # --- transactions and migrations --------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction, committed or rolled back whole, refused on a
        database a newer tool upgraded (checked here, not when connecting)."""
        try:
            for statement in self.dialect.begin_write:
                self.conn.execute(statement)
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise DatabaseBusy() from None
            raise
        except ReturnsError:  # the server's write lock not had within lock_timeout: busy
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self._may_write()
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _may_write(self) -> None:
        """Checked at the start of every write, under its lock: a connection kept open (the
        shell's) may have been made before a newer tool upgraded the database."""
        if self.schema_version() > SCHEMA_VERSION:
            raise ReturnsError(self.newer_message())

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads that take several queries."""
        for statement in self.dialect.begin_read:
            self.conn.execute(statement)
        try:
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        if self.url:
            from . import pg

            return pg.schema_version(self.conn, MIGRATION_SET)
        try:
            (n,) = self.conn.execute(
                "SELECT count(*) FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET]
            ).fetchone()
        except sqlite3.OperationalError:  # no migrations table yet: a new database
            return 0
        return n

    def _migrate(self) -> None:
        if self.schema_version() >= SCHEMA_VERSION:  # the common case costs one query
            return
        if self.url:
            from . import pg

            return pg.migrate(self.conn, MIGRATION_SET, {"schema": str(SCHEMA_VERSION),
                                                         "reads_need_schema": str(READS_NEED_SCHEMA)})
        from sqlite_utils import Database

        from . import __version__
        from .migrations import migrations

        db = Database(self.conn, execute_plugins=False)
        with self.write():  # several processes may open a new file at once: one migrates
            migrations.apply(db)
            self.conn.executemany(  # what an older tool reads to say who upgraded it
                "INSERT OR REPLACE INTO schema_info (key, value) VALUES (?, ?)",
                [("upgraded_by", __version__), ("schema", str(SCHEMA_VERSION)),
                 ("reads_need_schema", str(READS_NEED_SCHEMA))],
            )

    # --- catalog --------------------------------------------------------------------

    def upsert_products(self, products: list[Product], now: Now) -> int:
        with self.write() as conn:
            conn.executemany(
                """INSERT INTO catalog (model, description, category, list_price_cents, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (model) DO UPDATE SET
                     description = coalesce(excluded.description, catalog.description),
                     category = excluded.category,
                     list_price_cents = coalesce(excluded.list_price_cents, catalog.list_price_cents),
                     updated_at = excluded.updated_at""",
                [(p.model, p.description, p.category, p.list_price, now.stamp) for p in products],
            )
            from .chain import record_catalog

            record_catalog(conn)  # doctor compares the catalog with it
        return len(products)

    def _stream(self, sql: str, args=()) -> Iterator:
        """Rows as the database reads them, in flat memory at a million: SQLite's cursor steps
        through the file; on a server, a server-side cursor fetches a few thousand at a time."""
        return self.conn.stream(sql, args) if self.url else self.conn.execute(sql, args)

    def products(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM catalog ORDER BY model").fetchall()

    def _catalog(self, models: list[str]) -> dict[str, Product]:
        marks = ",".join("?" * len(models))
        rows = self.conn.execute(f"SELECT * FROM catalog WHERE model IN ({marks})", models)
        return {
            r["model"].upper(): Product(r["model"].upper(), r["category"], r["list_price_cents"], r["description"])
            for r in rows
        }

    # --- opening a return ----------------------------------------------------------------

    def facts(self, req: Request, on: date) -> policy.Facts:
        models = [m for m, _ in req.items]
        serials = [s for _, s in req.serials]
        facts = policy.Facts(catalog=self._catalog(models), serial_owners=self._serial_owners(serials, None))
        if req.ticket:
            row = self.conn.execute("SELECT id FROM returns WHERE ticket = ?", [req.ticket]).fetchone()
            facts.ticket_owner = req.ticket if row else None
        if req.type == "virtual" and req.customer:
            (facts.recent_virtual_units,) = self.conn.execute(
                """SELECT coalesce(sum(i.qty), 0) FROM returns r JOIN items i ON i.return_id = r.id
                   WHERE r.opened_on BETWEEN ? AND ? AND r.type = 'virtual'
                     AND r.status != 'cancelled' AND r.customer_key = ?""",
                [(on - timedelta(days=30)).isoformat(), on.isoformat(), _casefold(req.customer)],
            ).fetchone()
        return facts

    def _serial_owners(self, serials: list[str], exclude_id: int | None) -> dict[str, str]:
        if not serials:
            return {}
        marks = ",".join("?" * len(serials))
        rows = self.conn.execute(
            # A late return's unit is back at Speco: it holds no serial against SER-1 (SPEC §2).
            f"""SELECT s.serial, r.ra_no, r.type, r.ticket FROM serials s JOIN returns r ON r.id = s.return_id
                WHERE s.serial IN ({marks}) AND {holds("r.status")} AND r.id IS NOT ?""",
            [*serials, exclude_id],
        )
        return {r["serial"]: _key(r) for r in rows}

    @contextmanager
    def _ser1_backstop(self, serials: list[str], key: str | None = None) -> Iterator[None]:
        """Around a write that may hold serials: SER-1 refused by the database (m012's unique index,
        derived.py) rather than by the check inside the write, because a writer that skipped the
        store's check got there first. After the rollback, the same SER-1 line the check gives,
        naming the return that holds the serial now. `key`: the return written to (its own
        serials, when `serials` is empty, are the candidates)."""
        try:
            yield
        except (sqlite3.IntegrityError, SerialTaken) as e:
            if not isinstance(e, SerialTaken) and str(e) != "UNIQUE constraint failed: serials.serial":
                raise
            exclude = None
            if key is not None:
                exclude = self._find(key)["id"]
                serials = serials or [s for (s,) in self.conn.execute("SELECT serial FROM serials WHERE return_id = ?",
                                                                      [exclude])]
            taken = [e.serial] if isinstance(e, SerialTaken) and e.serial else []
            owners = self._serial_owners(list(dict.fromkeys([*taken, *serials])), exclude)
            if not owners:
                raise SerialTaken(*taken) from None
            raise ReturnsError(*(policy.Violation("SER-1", f"serial {s} is already on open return {o}")
                                 for s, o in owners.items())) from None

    def check(self, req: Request, on: date, *, missing_reported: bool = False) -> policy.CheckResult:
        """Eligibility only: reads, writes nothing."""
        with self.read():
            return policy.check(req, self.facts(req, on), missing_reported=missing_reported)

    def open_return(
        self, req: Request, contact: dict, note: str | None, on: date, now: Now, expect_hold: int | None = None
    ) -> tuple[str, list]:
        """Check and record a return whole in one transaction; returns (key, warnings).

        `expect_hold`: the hold amount the agent confirmed; refused if prices changed since."""
        policy.check_event_date(on, now.today, policy.MIN_DATE)
        with self._ser1_backstop([s for _, s in req.serials]), self.write() as conn:
            facts = self.facts(req, on)
            result = policy.check(req, facts)
            if result.violations:
                raise ReturnsError(*result.violations)
            hold = result.hold_amount
            if expect_hold is not None and hold != expect_hold:
                raise ReturnsError(policy.Violation("AR-3", f"a list price changed while you confirmed: the hold is now "
                                                    f"{policy.format_usd(hold)}; nothing was written, open it again"))
            status = policy.INITIAL[req.type]
            ra_no = None
            if req.type != "counter":  # counter returns are keyed by ticket: no RA number
                (ra_no,) = conn.execute("SELECT coalesce(max(ra_no), 0) + 1 FROM returns").fetchone()
            cur = conn.execute(
                """INSERT INTO returns (type, status, customer, email, phone, ticket, distributor,
                     approved_by, reason, hold_amount_cents, opened_on, opened_at, opened_by, last_event_on, ra_no,
                     customer_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [req.type, status, req.customer, contact.get("email"), contact.get("phone"),
                 req.ticket if req.type == "counter" else None, req.distributor, req.approved_by,
                 req.reason, hold, on.isoformat(), now.stamp, now.agent, on.isoformat(), ra_no, customer_key(req.customer)],
            )
            return_id = cur.lastrowid
            for model, qty in req.items:
                product = facts.catalog.get(model)
                item_id = conn.execute(
                    """INSERT INTO items (return_id, model, description, category, qty, list_price_cents)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    [return_id, model, product and product.description, product and product.category,
                     qty, product and product.list_price],
                ).lastrowid
                conn.executemany(
                    "INSERT INTO serials (return_id, item_id, serial) VALUES (?, ?, ?)",
                    [(return_id, item_id, s) for s in result.serials[model]],
                )
            detail = {"note": note} if note else {}
            self._event(return_id, "open", on, now, status, detail)
            key = req.ticket if req.type == "counter" else ra_number(ra_no)
        return key, result.warnings

    # --- finding returns -------------------------------------------------------------------

    def _find(self, key: str) -> sqlite3.Row:
        import unicodedata

        key = key.strip()
        policy.require_utf8("RA number", key)
        key = unicodedata.normalize("NFKC", key[:200])  # tickets are stored NFKC (policy.parse_ticket)
        m = _RA.fullmatch(key)
        if m:
            row = self.conn.execute("SELECT * FROM returns WHERE ra_no = ?", [int(m.group(1))]).fetchone()
        else:
            row = self.conn.execute("SELECT * FROM returns WHERE ticket = ?", [key]).fetchone()
        if row is None:
            raise ReturnsError(f"no return {policy.quote(key)}: give an RA number or a counter return's ticket ID")
        return row

    def get(self, key: str) -> dict:
        """One return as the `show` document (SPEC §4)."""
        with self.read() as conn:
            r = self._find(key)
            items = conn.execute("SELECT * FROM items WHERE return_id = ? ORDER BY id", [r["id"]]).fetchall()
            serials: dict[int, list[str]] = {}
            for s in conn.execute("SELECT item_id, serial FROM serials WHERE return_id = ? ORDER BY id", [r["id"]]):
                serials.setdefault(s["item_id"], []).append(s["serial"])
            events = conn.execute("SELECT * FROM events WHERE return_id = ? ORDER BY id", [r["id"]]).fetchall()
        return document(r, items, serials, events)

    def list_returns(
        self, type_: str | None, status: str | None, customer: str | None, include_closed: bool,
        search: str | None = None, limit: int | None = None,
    ) -> Iterator[dict]:
        """Rows as SQLite reads them, newest first (a million with --all stream in flat memory);
        at most `limit` (None: all)."""
        where, args = self._list_where(type_, status, customer, include_closed, search)
        sql = "SELECT ra_no, type, ticket, status, customer, opened_on FROM returns" + where + " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return (
            {"ra": _key(r), "type": r["type"], "status": r["status"], "customer": r["customer"], "opened_on": r["opened_on"]}
            for r in self.conn.execute(sql, args)
        )

    def count_returns(
        self, type_: str | None, status: str | None, customer: str | None, include_closed: bool, search: str | None = None,
        *, closed_only: bool = False,
    ) -> int:
        """How many `list_returns` would give without a limit (`closed_only`: how many closed ones match)."""
        where, args = self._list_where(type_, status, customer, True if closed_only else include_closed, search)
        if closed_only:
            where += (" AND " if where else " WHERE ") + f"NOT ({OPEN_SQL})"
        (n,) = self.conn.execute("SELECT count(*) FROM returns" + where, args).fetchone()
        return n

    def _list_where(self, type_, status, customer, include_closed, search) -> tuple[str, dict]:
        where, args = [], {}
        if (not include_closed and status is None) or (status is not None and policy.is_open(status)):
            where.append(OPEN_SQL)  # an open state: the same condition lets the open index serve it
        for column, value in (("type", type_), ("status", status)):
            if value:
                where.append(f"{column} = :{column}")
                args[column] = value
        if customer:
            policy.require_utf8("customer", customer)
            where.append("instr(customer_key, :customer) > 0")
            args["customer"] = customer_key(customer)
        if search is not None:
            from . import search as searching

            sql, search_args = searching.where(search)
            where.append(sql)
            args.update(search_args)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def find_serial(self, serial: str) -> list[dict]:
        rows = self.conn.execute(
            """SELECT r.ra_no, r.type, r.ticket, r.status, r.customer, r.opened_on, i.model
               FROM serials s JOIN returns r ON r.id = s.return_id JOIN items i ON i.id = s.item_id
               WHERE s.serial = ? ORDER BY r.id DESC""",
            [serial],
        )
        return [
            {"ra": _key(r), "type": r["type"], "status": r["status"], "customer": r["customer"],
             "opened_on": r["opened_on"], "model": r["model"], "open": policy.is_open(r["status"])}
            for r in rows
        ]

    # --- events ------------------------------------------------------------------------

    def _event(self, return_id: int, event: str, on: date, now: Now, status: str, detail: dict) -> None:
        """The one place history is written: chained (chain.py), with the digest of the
        return's record as the event leaves it, so every kind of event is covered."""
        from . import chain

        chain.append(self.conn, "events", {
            "return_id": return_id, "event": event, "happened_on": on.isoformat(), "recorded_at": now.stamp,
            "agent": now.agent, "status": status, "detail": json.dumps(detail, sort_keys=True) if detail else None,
            "digest": chain.digest(self.conn, return_id)}, self._columns("events"))

    def _ledger(self, r: sqlite3.Row, move: history.Move, on: date, now: Now) -> None:
        """The one place ledger rows are written, chained (chain.py): the signed columns follow
        from the event and the amount (policy.LEDGER_SIGNS)."""
        from . import chain

        holds, charges = policy.ledger_changes(move.event, move.amount)
        chain.append(self.conn, "ledger", {
            "return_id": r["id"], "happened_on": on.isoformat(), "event": move.event, "amount_cents": move.amount,
            "hold_ref": move.ref, "agent": now.agent, "recorded_at": now.stamp, "holds_change": holds,
            "charges_change": charges, "reason": move.reason}, self._columns("ledger"))

    def _columns(self, table: str) -> list[str]:
        from . import chain

        cache = self.__dict__.setdefault("_chain_columns", {})
        if table not in cache:
            cache[table] = chain.columns(self.conn, table)
        return cache[table]

    def record(self, key: str, event: str, on: date, now: Now, **detail) -> tuple[str, list[history.Move]]:
        """Move a return through one event of SPEC §3 (state machine in policy); returns its key
        and the money the event moved."""
        detail = {k: v.isoformat() if isinstance(v, date) else v for k, v in detail.items() if v is not None}
        with self.write():
            r = self._find(key)
            policy.check_event_date(on, now.today, date.fromisoformat(r["last_event_on"]))
            life, moves = self._step(r, event, on, detail)
            self._apply(r, life, moves, on, now)
            self._review(r, event, life.status, on, now)
            self._event(r["id"], event, on, now, life.status, detail)
        return _key(r), moves

    def _step(self, r: sqlite3.Row, event: str, on: date, detail: dict) -> tuple[history.Life, list[history.Move]]:
        """The state machine, then the rules the event needs beyond it, then its effect."""
        policy.transition(r["type"], r["status"], event)
        self._guard(r, event, on, detail)
        if event == "complete" and r["status"] == "late-return" and not detail.get("note"):
            raise ReturnsError("a late return is closed with the supervisor's decision: complete --note TEXT")
        return history.step(r["type"], history.Life.from_row(r), event, on, detail, r["hold_amount_cents"] or 0)

    def preview(self, key: str, event: str, on: date, **detail) -> tuple[str, sqlite3.Row, list[history.Move]]:
        """What `event` would move (reads, writes nothing); refused as `record` would refuse it."""
        detail = {k: v.isoformat() if isinstance(v, date) else v for k, v in detail.items() if v is not None}
        with self.read():
            r = self._find(key)
            _, moves = self._step(r, event, on, detail)
            return _key(r), r, moves

    def _guard(self, r: sqlite3.Row, event: str, on: date, detail: dict) -> None:
        """The rules an event needs beyond the state machine: the hold's dates and AR-4."""
        if event == "hold":
            if detail.get("expires") and detail["expires"] < on.isoformat():
                raise ReturnsError(f"--expires {detail['expires']} is before the hold's date {on}")
            (last_hold,) = self.conn.execute(
                "SELECT max(happened_on) FROM events WHERE return_id = ? AND event = 'hold'", [r["id"]]).fetchone()
            if last_hold and on.isoformat() < last_hold:
                raise ReturnsError(f"date {on} is before the hold it replaces ({last_hold})")
            self._new_reference(r, detail["ref"], "a re-authorization has a new reference from the processor")
        if event == "ship" and r["type"] in policy.SERIAL_RULE:
            self._serials_complete(r)
        if event == "ship" and r["type"] == "advanced":  # AR-2: the hold in force on the ship date
            refusal = policy.ship_refusal(clock_from_events(self._events(r["id"], on)), on)
            if refusal:
                raise ReturnsError(refusal)
        if event == "charge":
            if not r["hold_active"]:  # its charge was reversed at the processor, which used the hold up
                raise ReturnsError(policy.Violation("AR-4", "no card hold is in force to charge: its charge was reversed "
                                                    "at the processor; re-authorize with `hold --ref NEW` first"))
            refusal = policy.charge_refusal(clock_from_events(self._events(r["id"], on)), on, detail.get("reason"))
            if refusal:
                raise ReturnsError(refusal)
        if event == "refund":
            charged, refunded = self.conn.execute(
                """SELECT coalesce(sum(CASE event WHEN 'charged' THEN amount_cents END), 0),
                          coalesce(sum(CASE event WHEN 'refunded' THEN amount_cents END), 0)
                   FROM ledger WHERE return_id = ?""", [r["id"]]).fetchone()
            cents = policy.refund_amount(detail.get("amount"), charged, refunded)
            detail["amount"] = policy.format_amount(cents)  # the history keeps what was refunded

    def _new_reference(self, r: sqlite3.Row, ref: str, why: str) -> None:
        """A processor's reference names one movement on a return's ledger: a reference already
        there (any letter case; a voided hold's too) is refused, so the ledger and `export holds`
        keep one row per reference and authorization (SPEC §7)."""
        used = self.conn.execute(
            "SELECT event, happened_on FROM ledger WHERE return_id = ? AND lower(hold_ref) = lower(?) ORDER BY id LIMIT 1",
            [r["id"], ref]).fetchone()
        if used:
            raise ReturnsError(f"reference {ref} is already on {_key(r)}'s ledger ({used[0]} on {used[1]}): {why}")

    def _serials_complete(self, r: sqlite3.Row) -> None:
        """AR-1, VR-4: one serial per unit whenever the replacement ships (`serial remove` may
        have taken one off since the return was opened)."""
        rule = policy.SERIAL_RULE[r["type"]]
        short = self.conn.execute(
            """SELECT i.model, i.qty, (SELECT count(*) FROM serials s WHERE s.item_id = i.id) AS have
               FROM items i WHERE i.return_id = ? ORDER BY i.id""", [r["id"]]).fetchall()
        problems = [policy.Violation(rule, f"one serial number per unit is required before the replacement ships: "
                                           f"{i['model']} has {i['qty']} unit(s) and {i['have']} serial(s); `serial add` first")
                    for i in short if i["have"] < i["qty"]]
        if problems:
            raise ReturnsError(*problems)

    def _events(self, return_id: int, until: date) -> list[sqlite3.Row]:
        """The return's events dated on or before `until`: what was in force that day."""
        return self.conn.execute(
            "SELECT return_id, event, happened_on, detail FROM events WHERE return_id = ? AND happened_on <= ? ORDER BY id",
            [return_id, until.isoformat()],
        ).fetchall()

    def _review(self, r: sqlite3.Row, event: str, new: str, on: date, now: Now) -> None:
        """A late return is not a money movement: the charge goes to a supervisor's review, and
        their decision (`refund`, or `complete --note`) closes it (SPEC §2, §5)."""
        if event == "receive" and new == "late-return":
            self.conn.execute(
                """INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, agent, recorded_at)
                   SELECT return_id, ?, amount_cents, hold_ref, ?, ? FROM ledger
                   WHERE return_id = ? AND event = 'charged' ORDER BY id DESC LIMIT 1""",
                [on.isoformat(), now.agent, now.stamp, r["id"]])
        elif r["status"] == "late-return":
            self.conn.execute(
                "UPDATE reviews SET decided_on = ?, decision = ? WHERE return_id = ? AND decided_on IS NULL",
                [on.isoformat(), "refunded" if event == "refund" else "charge stands", r["id"]])

    def _apply(self, r: sqlite3.Row, life: history.Life, moves: list, on: date, now: Now) -> None:
        """Store the columns the history decides and write the ledger rows it moved (SPEC §5)."""
        changes = {c: v for c, v in life.columns().items() if v != r[c]}
        if changes:
            sets = ", ".join(f"{c} = ?" for c in changes)
            self.conn.execute(f"UPDATE returns SET {sets} WHERE id = ?", [*changes.values(), r["id"]])
        for move in moves:
            self._ledger(r, move, on, now)

    def plan_void(self, key: str, on: date, ref: str | None = None) -> tuple[str, sqlite3.Row, history.Replay]:
        """What `void` would undo (reads, writes nothing): (key, the return, the plan)."""
        with self.read():
            r = self._find(key)
            return _key(r), r, self._plan_void(r, on, ref=ref)

    def _plan_void(self, r: sqlite3.Row, on: date, reason: str | None = None, ref: str | None = None) -> history.Replay:
        events = self.conn.execute(
            "SELECT id, event, happened_on, detail FROM events WHERE return_id = ? ORDER BY id", [r["id"]]).fetchall()
        plan = history.plan_void(r["type"], date.fromisoformat(r["opened_on"]), r["hold_amount_cents"] or 0, events, on,
                                 reason, ref)
        if ref:
            self._new_reference(r, ref, "a charge's reversal has its own reference from the processor")
        return plan

    def void(self, key: str, reason: str, on: date, now: Now, expect_event: int | None = None,
             ref: str | None = None) -> tuple[str, history.Replay]:
        """Undo the latest event of a return's life (SPEC §3): a `void` event, the state and
        columns before that event restored, the money it moved moved back. `expect_event`: the
        id of the event the agent saw and confirmed; refused if another agent wrote since.
        `ref`: the processor's reversal of a charge (a charge is voided only with it)."""
        with self._ser1_backstop([], key), self.write():
            r = self._find(key)
            policy.check_event_date(on, now.today, policy.MIN_DATE)
            plan = self._plan_void(r, on, reason, ref)
            target = plan.voidable
            if expect_event is not None and target["id"] != expect_event:
                raise ReturnsError("the return changed while you confirmed: nothing was written, look at it again")
            if policy.is_open(plan.life.status) and not policy.is_open(r["status"]):  # serials held again
                serials = [s for (s,) in self.conn.execute("SELECT serial FROM serials WHERE return_id = ?", [r["id"]])]
                owners = self._serial_owners(serials, r["id"])
                if owners:
                    raise ReturnsError(*(policy.Violation("SER-1", f"serial {s} is now on open return {o}: "
                                                          f"{_key(r)} cannot be reopened") for s, o in owners.items()))
            self._apply(r, plan.life, plan.undo, on, now)
            self._event(r["id"], "void", on, now, plan.life.status,
                        {"voided": target["event"], "voided_on": target["happened_on"], "reason": reason,
                         **({"ref": ref} if ref else {})})
        return _key(r), plan

    def note(self, key: str, text: str, on: date, now: Now) -> str:
        with self.write():
            r = self._find(key)
            policy.check_event_date(on, now.today, date.fromisoformat(r["last_event_on"]))
            self._event(r["id"], "note", on, now, r["status"], {"note": text})
        return _key(r)

    # Fields `edit` corrects, and the type that uses each (None: every type). A field a rule
    # requires (OTC-1, VR-1) or the customer's name can be corrected but not emptied.
    EDITABLE = {"customer": None, "email": None, "phone": None, "distributor": "counter",
                "approved_by": "virtual", "reason": "virtual"}
    REQUIRED = {"customer": None, "distributor": "OTC-1", "approved_by": "VR-1", "reason": "VR-1"}

    def edit(self, key: str, fields: dict, now: Now) -> tuple[str, list[tuple[str, str | None, str | None]]]:
        """Correct contact and approval fields; an `edit` event keeps old and new (dated today,
        like serial edits: it does not bound later dates). Returns (key, [(field, old, new)])."""
        with self.write():
            r = self._find(key)
            for name, value in fields.items():
                only = self.EDITABLE[name]
                if only and r["type"] != only:
                    raise ReturnsError(f"{_key(r)} is {policy.a_type(r['type'])} return: it has no "
                                       f"{name.replace('_', ' ')} ({policy.a_type(only)} return's field)")
                if value is None and name in self.REQUIRED:
                    raise ReturnsError(policy.Violation(self.REQUIRED[name], f"{name.replace('_', ' ')} cannot be emptied"))
            changed = [(name, r[name], value) for name, value in fields.items() if r[name] != value]
            if changed:
                columns = {name: value for name, _, value in changed}
                if "customer" in columns:  # m013: the key VR-2 and `list --customer` compare follows the name
                    columns["customer_key"] = customer_key(columns["customer"])
                sets = ", ".join(f"{name} = ?" for name in columns)
                self.conn.execute(f"UPDATE returns SET {sets} WHERE id = ?", [*columns.values(), r["id"]])
                self._event(r["id"], "edit", now.today, now, r["status"],
                            {"changes": [{"field": n, "from": old, "to": new} for n, old, new in changed]})
        return _key(r), changed

    # --- serials ---------------------------------------------------------------------

    def add_serials(self, key: str, serials: list[tuple[str | None, str]], now: Now) -> str:
        with self._ser1_backstop([s for _, s in serials], key), self.write() as conn:
            r = self._open_for_serials(key)
            items = conn.execute("SELECT id, model, qty FROM items WHERE return_id = ?", [r["id"]]).fetchall()
            have = conn.execute("SELECT i.model, s.serial FROM serials s JOIN items i ON i.id = s.item_id "
                                "WHERE s.return_id = ?", [r["id"]]).fetchall()
            existing = {s["serial"] for s in have}
            for _, serial in serials:
                if serial in existing:
                    raise ReturnsError(f"serial {serial} is already on {_key(r)}")
            combined = [(h["model"], h["serial"]) for h in have] + serials
            assigned = policy.assign_serials([(i["model"], i["qty"]) for i in items], combined)
            owners = self._serial_owners([s for _, s in serials], r["id"])
            if owners:
                raise ReturnsError(*(policy.Violation("SER-1", f"serial {s} is already on open return {o}")
                                     for s, o in owners.items()))
            item_ids = {i["model"]: i["id"] for i in items}
            new = {s for _, s in serials}
            rows = [(r["id"], item_ids[m], s) for m, found in assigned.items() for s in found if s in new]
            conn.executemany("INSERT INTO serials (return_id, item_id, serial) VALUES (?, ?, ?)", rows)
            self._event(r["id"], "serial-add", now.today, now, r["status"], {"serials": [s for _, _, s in rows]})
        return _key(r)

    def remove_serial(self, key: str, serial: str, now: Now) -> str:
        with self.write() as conn:
            r = self._open_for_serials(key)
            cur = conn.execute("DELETE FROM serials WHERE return_id = ? AND serial = ?", [r["id"], serial])
            if cur.rowcount == 0:
                raise ReturnsError(f"serial {serial} is not on {_key(r)}")
            self._event(r["id"], "serial-remove", now.today, now, r["status"], {"serials": [serial]})
        return _key(r)

    def _open_for_serials(self, key: str) -> sqlite3.Row:
        r = self._find(key)
        if not policy.is_open(r["status"]):
            raise ReturnsError(f"{_key(r)} is {r['status']}: serials are edited only on open returns")
        return r

    # --- the nightly check -------------------------------------------------------------

    def overdue(self, as_of: date, within: int | None) -> list[dict]:
        """Rows of SPEC §4 `overdue`, reading only events dated on or before `as_of`."""
        day = as_of.isoformat()
        with self.read() as conn:
            # INDEXED BY: left to itself the planner takes returns_opened_on and reads every row.
            returns = conn.execute(
                f"""SELECT id, ra_no, customer, email, phone, hold_amount_cents FROM returns INDEXED BY returns_advanced_open
                    WHERE type = 'advanced' AND {OPEN_SQL} AND opened_on <= :day
                    UNION
                    SELECT id, ra_no, customer, email, phone, hold_amount_cents FROM returns INDEXED BY returns_advanced_closed
                    WHERE type = 'advanced' AND closed_on > :day AND opened_on <= :day""",
                {"day": day},
            ).fetchall()
            returns.sort(key=lambda r: (r["ra_no"] is not None, r["ra_no"] or 0))  # rows keep this order within a state
            events = self._events_upto([r["id"] for r in returns], day)
        rows = []
        for r in returns:
            clock = clock_from_events(events.get(r["id"], []))
            for state, days in policy.overdue_states(clock, as_of, within):
                rows.append({
                    "ra": ra_number(r["ra_no"]), "customer": r["customer"], "state": state,
                    "delivered_on": _iso(clock.delivered_on), "due_on": _iso(clock.due_on),
                    "days_overdue": days, "hold_amount": _amount(r["hold_amount_cents"]),
                    "email": r["email"], "phone": r["phone"],
                    "shipped_on": _iso(clock.shipped_on), "unit_shipped_on": _iso(clock.unit_shipped_on),
                    "hold_expires": _iso(clock.hold_expires),
                    "unit_tracking": _unit_tracking(events.get(r["id"], [])),
                })
        order = {s: i for i, s in enumerate(policy.OVERDUE_STATES)}
        rows.sort(key=lambda row: order[row["state"]])  # stable: by RA number within a state (RA-999999, RA-1000000)
        return rows

    def _by_return(self, sql: str, ids: list[int], *args) -> dict[int, list[sqlite3.Row]]:
        """Rows of `sql` (with `{ids}` for the placeholders) per return, 500 returns a query."""
        found: dict[int, list[sqlite3.Row]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self.conn.execute(sql.format(ids=",".join("?" * len(chunk))), [*chunk, *args]):
                found.setdefault(row["return_id"], []).append(row)
        return found

    def _events_upto(self, ids: list[int], day: str) -> dict[int, list[sqlite3.Row]]:
        return self._by_return("""SELECT return_id, event, happened_on, status, detail FROM events
                                  WHERE return_id IN ({ids}) AND happened_on <= ? ORDER BY id""", ids, day)

    # --- customer notices (notify, show --notice) -----------------------------------------------

    def notice_candidates(self, as_of: date, key: str | None = None) -> list[tuple[int, notices.ReturnFacts, set]]:
        """Open returns with their facts as of `as_of` and the notices already sent, each as
        (id, facts, {(kind, days, about)}). All of them through the partial index returns_open
        (m005): the work grows with the open returns, not with the history. `key`: one return."""
        day = as_of.isoformat()
        with self.read() as conn:
            if key is not None:
                returns = [self._find(key)]
            else:
                returns = conn.execute(f"SELECT * FROM returns INDEXED BY returns_open WHERE {OPEN_SQL} "
                                       "AND opened_on <= ? ORDER BY id", [day]).fetchall()
            ids = [r["id"] for r in returns]
            events = self._events_upto(ids, day)
            items = self._by_return("SELECT * FROM items WHERE return_id IN ({ids}) ORDER BY id", ids)
            serials = self._by_return("SELECT return_id, item_id, serial FROM serials WHERE return_id IN ({ids}) ORDER BY id", ids)
            sent = self._by_return("SELECT return_id, kind, days, about_on FROM notices WHERE return_id IN ({ids}) "
                                   "AND state = 'sent'", ids)
        found = []
        for r in returns:
            history = events.get(r["id"], [])
            by_item: dict[int, list[str]] = {}
            for s in serials.get(r["id"], []):
                by_item.setdefault(s["item_id"], []).append(s["serial"])
            facts = notices.ReturnFacts(
                key=_key(r), type=r["type"], status=history[-1]["status"] if history else r["status"],
                customer=r["customer"], email=r["email"], phone=r["phone"], opened_on=date.fromisoformat(r["opened_on"]),
                items=tuple(notices.Item(i["model"], i["qty"], i["list_price_cents"], tuple(by_item.get(i["id"], [])))
                            for i in items.get(r["id"], [])),
                clock=clock_from_events(history), hold_amount=r["hold_amount_cents"], distributor=r["distributor"])
            done = {(n["kind"], n["days"], date.fromisoformat(n["about_on"])) for n in sent.get(r["id"], [])}
            found.append((r["id"], facts, done))
        return found

    def claim_notice(self, return_id: int, n: notices.Notice, message_id: str, now: Now, claimant: str,
                     is_stale: Callable[[sqlite3.Row], bool]) -> str | None:
        """Claim a notice for sending, in one write transaction: two runs never both get it.
        Returns the Message-ID to send it with (a retry keeps the first one), or None when it
        was sent, is being sent by a live run (`is_stale` says which are not), or the return
        closed since it was found due."""
        key = [return_id, n.kind, n.days, n.about.isoformat()]
        with self.write() as conn:
            (status,) = conn.execute("SELECT status FROM returns WHERE id = ?", [return_id]).fetchone()
            if not policy.is_open(status):
                return None
            row = conn.execute("SELECT * FROM notices WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ?",
                               key).fetchone()
            if row is None:
                conn.execute("""INSERT INTO notices (return_id, kind, days, about_on, state, message_id, claimed_by, claimed_at)
                                VALUES (?, ?, ?, ?, 'sending', ?, ?, ?)""", [*key, message_id, claimant, now.stamp])
                return message_id
            if row["state"] == "sent" or (row["state"] == "sending" and not is_stale(row)):
                return None
            conn.execute("UPDATE notices SET state = 'sending', claimed_by = ?, claimed_at = ? WHERE id = ?",
                         [claimant, now.stamp, row["id"]])
            return row["message_id"]

    def notice_sent(self, return_id: int, n: notices.Notice, now: Now, detail: dict) -> None:
        """Mark a claimed notice sent and add the `notice` event (with its Message-ID) to the history."""
        with self.write() as conn:
            conn.execute("""UPDATE notices SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL
                            WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ?""",
                         [now.stamp, return_id, n.kind, n.days, n.about.isoformat()])
            (status,) = conn.execute("SELECT status FROM returns WHERE id = ?", [return_id]).fetchone()
            self._event(return_id, "notice", now.today, now, status, detail)

    def notice_failed(self, return_id: int, n: notices.Notice, error: str) -> None:
        """A claimed notice that did not go out: pending again, tried on the next run."""
        with self.write() as conn:
            conn.execute("""UPDATE notices SET state = 'failed', attempts = attempts + 1, last_error = ?
                            WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ? AND state = 'sending'""",
                         [error, return_id, n.kind, n.days, n.about.isoformat()])

    # --- accounting (streamed: rows go out as SQLite reads them) -------------------------------

    def ledger_rows(self, start: date | None, end: date | None) -> Iterator[tuple]:
        from .export import sql_defuse, sql_visible

        return self._stream(
            f"""SELECT l.happened_on, {sql_visible(sql_defuse(_SQL_KEY))}, {sql_visible(sql_defuse("r.customer"))},
                       r.type, l.event, {_SQL_AMOUNT.format("l.amount_cents")}, 'USD',
                       {sql_visible(sql_defuse("l.hold_ref"))}, {sql_visible(sql_defuse("l.agent"))},
                       {_SQL_AMOUNT.format("l.holds_change")}, {_SQL_AMOUNT.format("l.charges_change")},
                       {sql_visible(sql_defuse("l.reason"))}
                FROM ledger l JOIN returns r ON r.id = l.return_id
                WHERE l.happened_on BETWEEN ? AND ? ORDER BY l.happened_on, l.id""",
            _range(start, end),
        )

    def holds_rows(self, start: date | None, end: date | None) -> Iterator[tuple]:
        """`export holds`: one row per authorization of a return touched in the range (authorized,
        settled or refunded in it), its state as of the range's end (SPEC §5)."""
        from .export import sql_defuse, sql_visible

        # Holds of one return follow each other (a re-authorization releases the old one
        # first), so the first release or charge after an authorization settles it, and
        # refunds after that charge are refunds of it.
        return self._stream(
            f"""WITH h AS (
                  SELECT a.id, a.return_id, a.happened_on AS authorized_on, a.amount_cents, a.hold_ref,
                         (SELECT s.id FROM ledger s WHERE s.return_id = a.return_id AND s.id > a.id
                            AND s.event IN ('hold-released', 'charged') AND s.happened_on <= :end
                          ORDER BY s.id LIMIT 1) AS settle_id
                  FROM ledger a INDEXED BY ledger_happened_on
                  WHERE a.event = 'hold-authorized' AND a.happened_on <= :end
                    AND a.return_id IN (SELECT return_id FROM ledger WHERE happened_on BETWEEN :start AND :end)
                ), hs AS (
                  SELECT h.*, s.event AS settle_event, s.happened_on AS settled_on,
                         (SELECT sum(f.amount_cents) FROM ledger f WHERE f.return_id = h.return_id AND s.event = 'charged'
                            AND f.event = 'refunded' AND f.id > s.id AND f.happened_on <= :end) AS refunded_cents,
                         (SELECT max(f.happened_on) FROM ledger f WHERE f.return_id = h.return_id AND s.event = 'charged'
                            AND f.event = 'refunded' AND f.id > s.id AND f.happened_on <= :end) AS refunded_on
                  FROM h LEFT JOIN ledger s ON s.id = h.settle_id
                )
                SELECT {sql_visible(sql_defuse(_SQL_KEY))}, {sql_visible(sql_defuse("r.customer"))},
                       {sql_visible(sql_defuse("r.email"))}, {_SQL_AMOUNT.format("hs.amount_cents")},
                       {sql_visible(sql_defuse("hs.hold_ref"))}, hs.authorized_on,
                       (SELECT json_extract(e.detail, '$.expires') FROM events e
                        WHERE e.return_id = hs.return_id AND e.event = 'hold' AND e.happened_on = hs.authorized_on
                          AND json_extract(e.detail, '$.ref') = hs.hold_ref ORDER BY e.id DESC LIMIT 1),
                       CASE WHEN hs.settle_event IS NULL THEN 'active'
                            WHEN hs.settle_event = 'charged' THEN
                              CASE WHEN hs.refunded_cents IS NULL THEN 'charged' ELSE 'refunded' END
                            WHEN EXISTS (SELECT 1 FROM events e WHERE e.return_id = hs.return_id AND e.event = 'cancel'
                                           AND e.happened_on = hs.settled_on) THEN 'cancelled'
                            ELSE 'released' END,
                       hs.settled_on,
                       {_SQL_AMOUNT.format("CASE hs.settle_event WHEN 'charged' THEN hs.amount_cents ELSE 0 END")},
                       {_SQL_AMOUNT.format("coalesce(hs.refunded_cents, 0)")},
                       CASE WHEN hs.settle_event = 'charged' AND EXISTS (
                              SELECT 1 FROM reviews v WHERE v.return_id = hs.return_id AND v.happened_on <= :end
                                AND (v.decided_on IS NULL OR v.decided_on > :end)) THEN 'yes' ELSE 'no' END
                FROM hs JOIN returns r ON r.id = hs.return_id
                WHERE hs.authorized_on >= :start OR hs.settled_on >= :start OR hs.refunded_on >= :start
                ORDER BY hs.authorized_on, hs.id""",
            dict(zip(("start", "end"), _range(start, end), strict=True)),
        )

    def return_rows(self, start: date | None, end: date | None) -> Iterator[tuple]:
        from .export import sql_defuse, sql_visible

        # Each item's serials are read once: defused inside the subquery, not around it (an
        # expression around it would run it once per mention).
        serials = (f"(SELECT {sql_defuse('s')} FROM (SELECT group_concat(serial, ';') AS s "
                   "FROM (SELECT serial FROM serials WHERE item_id = i.id ORDER BY id) AS o) AS c)")  # aliases: PostgreSQL needs them
        # Everything: scan the returns in id order, the order wanted, with no sort and no
        # temporary files (288 MB at a million). A range: the opened_on index, then a small sort.
        where = "WHERE r.opened_on BETWEEN :start AND :end" if start or end else ""
        status, due, closed, as_of = "r.status", "r.due_on", "r.closed_on", ""
        if end:  # as of --to (SPEC §7), so a past month's file never changes: see _RETURNS_AS_OF
            status, due, closed, as_of = "coalesce(x.status, r.status)", _DUE_AS_OF, _CLOSED_AS_OF, _RETURNS_AS_OF
        return self._stream(
            f"""SELECT {sql_visible(sql_defuse(_SQL_KEY))}, r.type, {status}, {sql_visible(sql_defuse("r.customer"))}, r.opened_on,
                       {sql_defuse("i.model")}, i.category, i.qty, {_SQL_AMOUNT.format("i.list_price_cents")},
                       {serials}, {due}, {closed}
                FROM returns r {as_of} JOIN items i ON i.return_id = r.id
                {where} ORDER BY r.id, i.id""",
            dict(zip(("start", "end"), _range(start, end), strict=True)) if where else {},
        )


_SQL_KEY = (f"CASE WHEN r.type = 'counter' THEN r.ticket WHEN r.ra_no IS NULL THEN '{NO_RA_NUMBER}' "
            "ELSE printf('RA-%06d', r.ra_no) END")  # as _key()
# `export returns --to END`: each return as its history stood at the end of END. Every event
# records the state it left (events.status), so the state then is that of the return's last
# event (by id: the order recorded) dated on or before END, found through events_return; a
# void counts from its own date, like the ledger's reversing rows. closed_on then: the stored
# one when it is on or before END (the closing event still in force), else the date of the
# last event of its life on or before END (the one that closed it then: a charged return
# completed after END, a close voided after END). due_on: once delivered on or before END.
_RETURNS_AS_OF = ("LEFT JOIN events x ON x.id = (SELECT max(a.id) FROM events a "
                  "WHERE a.return_id = r.id AND a.happened_on <= :end)")
_CLOSED_AS_OF = (
    "CASE WHEN coalesce(x.status, r.status) IN ({closed}) THEN CASE WHEN r.closed_on <= :end THEN r.closed_on "
    "ELSE (SELECT c.happened_on FROM events c WHERE c.return_id = r.id AND c.happened_on <= :end "
    "AND c.event IN ({life}) ORDER BY c.id DESC LIMIT 1) END END"
).format(closed=", ".join(f"'{s}'" for s in policy.CLOSED), life=", ".join(f"'{e}'" for e in policy.EVENTS))
_DUE_AS_OF = "CASE WHEN r.delivered_on <= :end THEN r.due_on END"
# Amounts leave SQLite already formatted (`1299.00`): integer cents, never a float.
# Negative ones (the ledger's signed columns) as `-499.98`: a plain number in a spreadsheet.
_SQL_AMOUNT = ("CASE WHEN {0} IS NULL THEN NULL WHEN {0} < 0 THEN printf('-%d.%02d', -({0}) / 100, -({0}) % 100) "
               "ELSE printf('%d.%02d', {0} / 100, {0} % 100) END")


def _range(start: date | None, end: date | None) -> list[str]:
    return [(start or policy.MIN_DATE).isoformat(), (end or policy.MAX_DATE).isoformat()]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _amount(cents: int | None) -> str | None:
    return None if cents is None else policy.format_amount(cents)


def _unit_tracking(events: list[sqlite3.Row]) -> str | None:
    """The tracking number of the customer's latest return shipment (`unit-shipped`), if recorded."""
    shipped = [e for e in events if e["event"] == "unit-shipped"]
    return json.loads(shipped[-1]["detail"] or "{}").get("tracking") if shipped else None


def clock_from_events(events: list[sqlite3.Row]) -> Clock:
    """The clock as the given events say: the overdue check passes only those up to as-of."""
    f: dict = {"hold_active": False}
    dates = {"ship": "shipped_on", "deliver": "delivered_on", "unit-shipped": "unit_shipped_on",
             "charge": "charged_on", "cancel": "cancelled_on"}
    for e in history.effective(events):  # a voided event never happened, for the clock too
        name, on = e["event"], date.fromisoformat(e["happened_on"])
        if name in dates:
            f[dates[name]] = on
        if name == "receive":
            f.setdefault("received_on", on)
        if name == "hold":
            detail = json.loads(e["detail"] or "{}")
            f["hold_active"], f["hold_expires"] = True, _d(detail.get("expires"))
        if name in ("receive", "charge", "cancel", "void"):  # a void kept here: a charge reversed at the processor
            f["hold_active"] = False
    return Clock(**f)


def document(r: sqlite3.Row, items: list, serials: dict[int, list[str]], events: list) -> dict:
    """The `open` / `show` JSON document (SPEC §4 keys, and more)."""
    due = _d(r["due_on"])
    doc_items = [
        {"model": i["model"], "description": i["description"], "category": i["category"], "qty": i["qty"],
         "list_price": _amount(i["list_price_cents"]), "serials": serials.get(i["id"], [])}
        for i in items
    ]
    warnings = []
    rule = policy.SERIAL_RULE.get(r["type"])
    if rule and policy.is_open(r["status"]):
        for item in doc_items:
            if len(item["serials"]) < item["qty"]:
                warnings.append({"rule": rule, "message": f"{item['model']} needs one serial per unit: "
                                 f"{item['qty']} unit(s), {len(item['serials'])} serial(s)"})
    return {
        "ra": _key(r), "type": r["type"], "status": r["status"], "customer": r["customer"],
        "email": r["email"], "phone": r["phone"], "ticket": r["ticket"], "distributor": r["distributor"],
        "approved_by": r["approved_by"], "reason": r["reason"],
        "hold_amount": _amount(r["hold_amount_cents"]) if r["type"] == "advanced" else None,
        "hold_ref": r["hold_ref"], "hold_active": bool(r["hold_active"]), "hold_expires": r["hold_expires"],
        "opened_on": r["opened_on"], "shipped_on": r["shipped_on"], "delivered_on": r["delivered_on"],
        "due_on": r["due_on"] if r["type"] == "advanced" else None,
        "unit_shipped_on": r["unit_shipped_on"], "received_on": r["received_on"],
        "charged_on": r["charged_on"], "closed_on": r["closed_on"],
        "next_step": policy.next_step(r["type"], r["status"], due),
        "warnings": warnings,
        "items": doc_items,
        "events": [
            {"event": e["event"], "on": e["happened_on"], "agent": e["agent"], "recorded_at": e["recorded_at"],
             "status": e["status"], **json.loads(e["detail"] or "{}")}
            for e in events
        ],
    }
