"""What a team's server enforces whoever writes, in psql as much as through the tool (m018):

- the write lock: a row lock on the one row of `speco_write_lock`, which only writing roles may
  UPDATE (db/roles.py), released with the transaction; a reader cannot take it;
- `agent` on every history, ledger and review row, and a return's `opened_by`, is the session's
  login (`session_user`), set by the server: never taken from the row;
- a history row's detail is a JSON object;
- a return's type never changes (so no return becomes virtual by UPDATE); its RA number, ticket
  and opening facts change only by the database's owner; a new return takes the next RA number;
- the derived tables (chain_heads' history and ledger heads, ledger_days, serials.held) are kept
  by triggers running as the owner (SECURITY DEFINER, a fixed search_path with pg_temp last, so
  a login's temporary table cannot stand in for one of ours), never written by a login;
- `serial remove` deletes through one function, which removes a serial from an open (not
  closed) return only:
  no login has DELETE on any table.

The owner (the role that owns the tables, or a superuser) is trusted with the schema; every
change it makes to a return is still recorded (db/changes.py) and `doctor` checks the triggers.
SQLite has one user per file: none of this applies there.
"""

from __future__ import annotations

from ..domain.states import CLOSED

SEARCH_PATH = "SET search_path = public, pg_temp"
# True when the session's login owns the table (or is a superuser, who is every role).
OWNER = "pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')"
LOCK_TABLE = "speco_write_lock"
# What a write takes first (db/engines/postgres.py): the one row's lock, held to COMMIT.
TAKE_LOCK = f"SELECT id FROM {LOCK_TABLE} WHERE id = 1 FOR UPDATE"
# Who holds it: the transaction that locked the row, and its session (readable by any login).
LOCK_HOLDER = (f"""SELECT a.usename, a.application_name, a.xact_start FROM pg_locks l
    JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
      AND l.transactionid = (SELECT xmax FROM {LOCK_TABLE} WHERE id = 1) """
               """AND a.pid <> pg_backend_pid()""")
AGENT_TABLES = ("events", "ledger", "reviews")
CHAINED = ("events", "ledger")
FIXED_COLUMNS = ("id", "ra_no", "ticket", "opened_on", "opened_at", "opened_by",
                 "hold_amount_cents")

# Triggers `admin copy` sets aside while it loads a desk's rows as they were (their agents,
# their RA numbers, their chain heads carried across), in its one transaction.
COPY_SKIPS = {
    **{table: [f"{table}_agent_is_login"] for table in AGENT_TABLES},
    "returns": ["returns_opened_by_login", "returns_ra_in_order"],
}
for _table in CHAINED:
    COPY_SKIPS[_table].append(f"{_table}_chain_head")

M018_POSTGRES = [
    f"CREATE TABLE {LOCK_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1))",
    f"INSERT INTO {LOCK_TABLE} (id) VALUES (1)",
    # A server whose roles an older version set up keeps writing after the upgrade (until the
    # owner applies this version's roles: db/roles.py).
    f"""DO $$ BEGIN
         IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'speco_agent') THEN """
       f"""GRANT SELECT, UPDATE ON {LOCK_TABLE} TO speco_agent; END IF;
       END $$""",
    """CREATE FUNCTION speco_agent_is_login() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN NEW.agent := session_user; RETURN NEW; END $$""",
    *(f"""CREATE TRIGGER {table}_agent_is_login BEFORE INSERT ON {table}
          FOR EACH ROW EXECUTE FUNCTION speco_agent_is_login()""" for table in AGENT_TABLES),
    """CREATE FUNCTION speco_opened_by_login() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN NEW.opened_by := session_user; RETURN NEW; END $$""",
    """CREATE TRIGGER returns_opened_by_login BEFORE INSERT ON returns
       FOR EACH ROW EXECUTE FUNCTION speco_opened_by_login()""",
    f"""CREATE FUNCTION speco_ra_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE next_no bigint;
       BEGIN
         IF NEW.ra_no IS NULL OR {OWNER} THEN RETURN NEW; END IF;
         SELECT coalesce(max(ra_no), 0) + 1 INTO next_no FROM returns;
         IF NEW.ra_no <> next_no THEN
           RAISE EXCEPTION 'RA numbers are issued in order: the next is %, not % (you are %)', """
       """next_no, NEW.ra_no,
             session_user USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER returns_ra_in_order BEFORE INSERT ON returns
       FOR EACH ROW EXECUTE FUNCTION speco_ra_in_order()""",
    f"""CREATE FUNCTION speco_return_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.type IS DISTINCT FROM OLD.type THEN
           RAISE EXCEPTION 'a return''s type never changes (it is %; you are %)', OLD.type, """
       f"""session_user
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         IF ({', '.join(f'NEW.{c}' for c in FIXED_COLUMNS)}) IS DISTINCT FROM """
       f"""({', '.join(f'OLD.{c}' for c in FIXED_COLUMNS)})
            AND NOT {OWNER} THEN
           RAISE EXCEPTION 'a return''s RA number, ticket and opening facts never change """
       """(you are %)', session_user
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER returns_fixed BEFORE UPDATE ON returns FOR EACH ROW """
    """EXECUTE FUNCTION speco_return_fixed()""",
    # The chains' heads follow each row as the owner's doing (the row's hash is the client's:
    # doctor recomputes the chain, so a row that does not extend it is named with its agent).
    "CREATE FUNCTION speco_chain_head() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
    f"""{SEARCH_PATH} AS $$
       BEGIN
         INSERT INTO chain_heads AS h (name, last_id, rows, hash) """
       """VALUES (TG_TABLE_NAME, NEW.id, 1, NEW.hash)
         ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, rows = h.rows + 1, """
       """hash = excluded.hash;
         RETURN NULL;
       END $$""",
    *(f"""CREATE TRIGGER {table}_chain_head AFTER INSERT ON {table}
          FOR EACH ROW EXECUTE FUNCTION speco_chain_head()""" for table in CHAINED),
    # Every login reads the heads; only the owner's triggers write the chains' (and a supervisor
    # the catalog's digest: db/roles.py adds that policy with the roles).
    "ALTER TABLE chain_heads ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY chain_heads_read ON chain_heads FOR SELECT USING (true)",
    # A history row's detail is a JSON object, as the tool writes it (`show` reads it back);
    # NOT VALID: rows already there are doctor's to name, not a reason to refuse the upgrade.
    """ALTER TABLE events ADD CONSTRAINT events_detail_json
       CHECK (detail IS NULL OR jsonb_typeof(detail::jsonb) = 'object') NOT VALID""",
    f"ALTER FUNCTION speco_ledger_days_add() SECURITY DEFINER {SEARCH_PATH}",
    f"ALTER FUNCTION speco_return_holds() {SEARCH_PATH}",
    "CREATE FUNCTION speco_remove_serial(of_return bigint, number text) RETURNS boolean "
    f"""LANGUAGE plpgsql
       SECURITY DEFINER {SEARCH_PATH} AS $$
       BEGIN
         DELETE FROM serials s USING returns r
           WHERE s.return_id = of_return AND s.serial = number AND r.id = s.return_id
             AND r.status NOT IN ({', '.join(repr(c) for c in CLOSED)});
         RETURN FOUND;
       END $$""",
    "REVOKE EXECUTE ON FUNCTION speco_remove_serial(bigint, text) FROM PUBLIC",
]


def holder_text(row) -> str | None:
    """`login ann (psql, since 10:02:03 UTC)` from LOCK_HOLDER's row, or None."""
    if row is None:
        return None
    login, app, since = row
    when = (f", since {since.astimezone(since.tzinfo).strftime('%H:%M:%S %Z').strip()}"
            if since else "")
    return f"login {login} ({app or 'no application name'}{when})"
