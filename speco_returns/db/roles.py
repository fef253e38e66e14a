"""Who may do what on a team's server: four group roles, `admin roles [--apply]`.

Grants follow what each role's commands do, not tables: everything is revoked first, then
each role gets the statements its commands run, column by column where a command changes only
some columns. No login has DELETE anywhere (`serial remove` goes through one function), nor any
write to the derived tables (chain heads, ledger_days, serials.held: the owner's triggers keep
them, db/guards.py), the migrations, the schema or the audit (db/changes.py).

- speco_agent: the agents' commands: opens returns, records their events and ledger rows,
  edits contact fields, adds and removes serials, decides nothing about money.
- speco_supervisor: an agent who may also charge, refund, void, approve a virtual return
  (triggers name the role), keep the catalog (list prices set holds), keep the fault and
  finding codes (`codes add`, `codes retire`) and send notices.
- speco_nightly: the nightly job (`deliveries import`, `overdue`, `notify`, `doctor --anchor`)
  and `deliveries serve`: reads everything, writes notices, the carrier inbox, and a carrier's
  deliveries (their history events and the clock's columns); no void (a carrier's later date
  over an earlier one is left to a supervisor), no contact field, no money.
- speco_accounting: reads and exports only.

The database's owner runs the migrations and this SQL (it needs CREATEROLE to create the roles;
or a superuser runs what `admin roles` prints); each login is made a member of one role.
"""

from __future__ import annotations

import re

from .guards import LOCK_TABLE

ROLES = ("speco_agent", "speco_supervisor", "speco_accounting", "speco_nightly")
WRITERS = ("speco_agent", "speco_nightly")  # the roles that take the write lock
READERS = ("speco_agent", "speco_accounting", "speco_nightly")  # speco_supervisor reads as an agent

# A return's columns its history moves (domain.lifecycle.Life), and those `edit` corrects.
LIFE_UPDATES = ("status", "last_event_on", "shipped_on", "delivered_on", "due_on", "unit_shipped_on", "received_on",
                "charged_on", "closed_on", "hold_active", "hold_ref", "hold_expires",
                "hold_estimated")
RETURN_UPDATES = (*LIFE_UPDATES, "customer", "customer_key", "email", "phone", "distributor", "approved_by", "reason",
                  "fault", "finding", "finding_on")  # edit --fault; receive --finding, finding RA CODE
NOTICE_UPDATES = ("state", "claimed_by", "claimed_at", "attempts", "last_error", "sent_at")

# role -> (table, privileges) pairs: what its commands write.
GRANTS = {
    "speco_agent": [
        ("returns", f"INSERT, UPDATE ({', '.join(RETURN_UPDATES)})"),  # open; every event; edit
        ("items", "INSERT"),                                             # open
        ("serials", "INSERT (return_id, item_id, serial)"),              # open, serial add
        ("events", "INSERT"),                                            # every command's history row
        ("ledger", "INSERT"),                                            # hold, release (charges: supervisors)
        ("hold_lapses", "INSERT, UPDATE (settled_on)"),                  # a hold's expiry; its end
        ("reviews", "INSERT, UPDATE (decided_on, decision)"),            # a late unit; its decision
        ("carrier_inbox", "UPDATE (applied_at)"),                        # deliveries import --inbox
        (LOCK_TABLE, "UPDATE"),                                          # the write lock
    ],
    "speco_supervisor": [
        ("catalog", "INSERT, UPDATE (description, category, list_price_cents, updated_at)"),  # catalog add, import
        ("codes", "INSERT, UPDATE (title, added_on, added_by, retired_on, retired_by)"),  # codes add, retire
        ("chain_heads", "INSERT, UPDATE (rows, hash)"),  # the catalog's digest only (the policy below)
        ("notices", f"INSERT, UPDATE ({', '.join(NOTICE_UPDATES)})"),
    ],
    "speco_nightly": [
        ("notices", f"INSERT, UPDATE ({', '.join(NOTICE_UPDATES)})"),  # notify
        ("events", "INSERT"),                                          # a sent notice, a carrier's delivery
        ("returns", f"UPDATE ({', '.join(LIFE_UPDATES)})"),            # deliveries import: the clock
        ("carrier_inbox", "INSERT, UPDATE (applied_at)"),              # deliveries serve; import --inbox
        (LOCK_TABLE, "UPDATE"),
    ],
}

# The functions a role may run (serial remove's one deletion): name -> (argument types, role).
EXECUTES = {"speco_remove_serial": ("bigint, text", "speco_agent")}

# Rows only a supervisor inserts, whatever the grants (a trigger each, naming the act):
# table -> (column, values, the act).
SUPERVISOR_ROWS = {
    "ledger": ("event", ("charged", "refunded"), "a charge or a refund"),
    "events": ("event", ("void",), "a void"),
    "returns": ("type", ("virtual",), "approving a virtual return"),
}

_SUPERVISOR_CHECK = """CREATE OR REPLACE FUNCTION speco_supervisor_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_has_role(current_user, 'speco_supervisor', 'MEMBER')
     OR current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
     OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% needs the speco_supervisor role (you are %)', TG_ARGV[0], current_user
    USING ERRCODE = 'insufficient_privilege';
END $$"""

def _among(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return f"= {quoted[0]}" if len(quoted) == 1 else f"IN ({', '.join(quoted)})"


_ALL = ", ".join(ROLES)
_OWNER = "(SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'returns'::regclass)"

STATEMENTS = [
    f"""DO $$ BEGIN
{''.join(f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{r}') THEN CREATE ROLE {r} NOLOGIN; END IF;{chr(10)}"
         for r in ROLES)}  EXECUTE format('GRANT CONNECT ON DATABASE %I TO {_ALL}', current_database());
END $$""",
    "GRANT speco_agent TO speco_supervisor",
    f"GRANT USAGE ON SCHEMA public TO {_ALL}",
    # Nothing but what follows: a grant an older version made (UPDATE of whole tables, DELETE,
    # the derived tables) goes.
    f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {_ALL}",
    f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {_ALL}",
    f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {', '.join(READERS)}",
    *(f"GRANT {privileges} ON {table} TO {role}" for role, pairs in GRANTS.items() for table, privileges in pairs),
    f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {', '.join(WRITERS)}, speco_supervisor",
    *(f"GRANT EXECUTE ON FUNCTION {name}({args}) TO {role}" for name, (args, role) in EXECUTES.items()),  # serial remove
    # A table a later migration adds is readable by the reading roles; what a role may write
    # there comes with the next `admin roles --apply`.
    f"""DO $$ BEGIN
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public REVOKE INSERT ON TABLES FROM speco_agent', {_OWNER});
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO {', '.join(READERS)}', {_OWNER});
END $$""",
    # A supervisor keeps the catalog's digest, and no other head (row-level security, m018).
    "DROP POLICY IF EXISTS catalog_digest ON chain_heads",
    """CREATE POLICY catalog_digest ON chain_heads FOR ALL TO speco_supervisor
  USING (name = 'catalog') WITH CHECK (name = 'catalog')""",
    _SUPERVISOR_CHECK,
    *(f"""CREATE OR REPLACE TRIGGER {table}_supervisor_only BEFORE INSERT ON {table} FOR EACH ROW
  WHEN (NEW.{column} {_among(values)}) EXECUTE FUNCTION speco_supervisor_only('{act}')"""
      for table, (column, values, act) in SUPERVISOR_ROWS.items()),
]


# --- which role a refused statement needs -------------------------------------------------

_REFUSED = re.compile(r"permission denied for (table|function) (\w+)")
_WRITE = re.compile(r"\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)\s*(?:\(([^)]*)\)|SET\s+(.*?)(?:\bWHERE\b|$))",
                    re.IGNORECASE | re.DOTALL)
_PRIVILEGE = re.compile(r"(INSERT|UPDATE|SELECT|DELETE)(?:\s*\(([^)]*)\))?")


def refusal(message: str, statement: tuple[str, object] | None) -> str:
    """The line a permission the server refused means: the role(s) whose grants (GRANTS, the
    supervisor-only rows, EXECUTES) allow the refused statement on the refused table."""
    found = _REFUSED.search(message)
    ask = "ask the database's owner (speco-returns admin roles)"
    if found is None or (found.group(1) == "table" and statement is None):
        return f"permission denied on the server ({message}): this login's role may not do this: {ask}"
    kind, name = found.groups()
    if kind == "function":
        act, allowed = f"running {name}", [EXECUTES[name][1]] if name in EXECUTES else []
    else:
        verb, values = _statement(name, *statement)
        act = "writing (the write lock)" if name == LOCK_TABLE else f"{verb} on {name}"
        allowed = [r for r in ROLES if _may(r, name, verb, values)]
    if "speco_agent" in allowed and "speco_supervisor" in allowed:
        allowed.remove("speco_supervisor")  # a supervisor is an agent
    if not allowed:
        return f"permission denied on the server ({message}): no role may do this, only the database's owner"
    return f"permission denied on the server ({message}): {act} needs the {' or '.join(allowed)} role: {ask}"


def _statement(table: str, sql: str, params) -> tuple[str, dict]:
    """The refused statement's verb on `table` and {column: value} (None where not known)."""
    write = _WRITE.match(sql)
    if write is None or write.group(2).lower() != table:
        return ("UPDATE" if re.search(r"\bFOR\s+UPDATE\b", sql, re.IGNORECASE) else "SELECT"), {}
    verb = write.group(1).split()[0].upper()
    if verb == "INSERT":
        columns = [c.strip() for c in (write.group(3) or "").split(",")]
        row = params[0] if params and isinstance(params[0], (list, tuple)) else params  # executemany: its rows
        values = list(row) if isinstance(row, (list, tuple)) and len(row) == len(columns) else [None] * len(columns)
        return verb, dict(zip(columns, values, strict=True))
    return verb, dict.fromkeys(re.findall(r"(\w+)\s*=", write.group(4) or ""))


def _may(role: str, table: str, verb: str, values: dict) -> bool:
    if verb == "SELECT":
        return role in READERS or role == "speco_supervisor"
    pairs = [*GRANTS.get(role, []), *(GRANTS["speco_agent"] if role == "speco_supervisor" else [])]
    granted = any(v == verb and (columns is None or set(values) <= {c.strip() for c in columns.split(",")})
                  for t, privileges in pairs if t == table for v, columns in _privileges(privileges))
    column, only, _ = SUPERVISOR_ROWS.get(table, (None, (), None))
    return granted and not (verb == "INSERT" and role != "speco_supervisor" and values.get(column) in only)


def _privileges(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _PRIVILEGE.finditer(text)]


def script() -> str:
    """The SQL `admin roles` prints: run it as the database's owner with CREATEROLE (--apply), or
    as a superuser (psql -d DBNAME -f)."""
    return "".join(f"{s};\n\n" for s in STATEMENTS) + (
        "-- Then make each login a member of one role, e.g.:\n"
        "--   CREATE ROLE ann LOGIN; GRANT speco_agent TO ann;\n"
        "--   GRANT speco_supervisor TO dana;  GRANT speco_accounting TO lee;  GRANT speco_nightly TO nightly;\n")


def missing(db) -> str | None:
    """What the login lacks to run the script (None: nothing). Read before anything is written."""
    me, superuser, createrole = db.one("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles "
                                       "WHERE rolname = current_user")
    if superuser:
        return None
    owner = db.scalar("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('returns')")
    if owner is not None and not db.scalar("SELECT pg_has_role(current_user, ?, 'MEMBER')", [owner]):
        return (f"{me} does not own the tool's tables ({owner} does): run it as {owner}, or have a superuser run "
                "the statements `speco-returns admin roles` prints")
    absent = [r for r in ROLES if not db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = ?", [r])]
    if absent and not createrole:
        return (f"{me} may not create roles (it needs CREATEROLE) and {', '.join(absent)} do not exist yet: as a "
                f"superuser run `ALTER ROLE {me} CREATEROLE`, or run the statements `speco-returns admin roles` prints")
    return None


def apply(store) -> None:
    """Run the script in one write transaction (all of it, or none)."""
    from ..errors import ReturnsError

    with store.read():
        lacking = missing(store)
    if lacking:
        raise ReturnsError(f"admin roles --apply: {lacking}")
    with store.write():
        for statement in STATEMENTS:
            store.execute(statement)
