"""Who may do what on a team's server: four group roles, `admin roles [--apply]`.

Grants follow what each role's commands do, not tables: everything is revoked first, then
each role gets the statements its commands run, column by column where a command changes only
some columns. No login has DELETE anywhere (`serial remove` goes through one function), nor any
write to the derived tables (chain heads, ledger_days, serials.held: the owner's triggers keep
them, db/guards.py), the migrations, the schema or the audit (db/changes.py).

- speco_agent: the agents' commands: opens returns, records their events and ledger rows,
  edits contact fields, adds and removes serials, decides nothing about money.
- speco_supervisor: an agent who may also charge, refund, void, approve a virtual return
  (triggers name the role), keep the catalog (list prices set holds) and send notices.
- speco_nightly: the nightly job (`deliveries import`, `overdue`, `notify`, `doctor --anchor`)
  and `deliveries serve`: reads everything, writes notices, the carrier inbox, and a carrier's
  deliveries (their history events and the clock's columns); no void (a carrier's later date
  over an earlier one is left to a supervisor), no contact field, no money.
- speco_accounting: reads and exports only.

The database's owner runs the migrations and this SQL (it needs CREATEROLE to create the roles;
or a superuser runs what `admin roles` prints); each login is made a member of one role.
"""

from __future__ import annotations

from .guards import LOCK_TABLE

ROLES = ("speco_agent", "speco_supervisor", "speco_accounting", "speco_nightly")
WRITERS = ("speco_agent", "speco_nightly")  # the roles that take the write lock
READERS = ("speco_agent", "speco_accounting", "speco_nightly")  # speco_supervisor reads as an agent

# A return's columns its history moves (domain.lifecycle.Life), and those `edit` corrects.
LIFE_UPDATES = ("status", "last_event_on", "shipped_on", "delivered_on", "due_on", "unit_shipped_on", "received_on",
                "charged_on", "closed_on", "hold_active", "hold_ref", "hold_expires")
RETURN_UPDATES = (*LIFE_UPDATES, "customer", "customer_key", "email", "phone", "distributor", "approved_by", "reason")
NOTICE_UPDATES = ("state", "claimed_by", "claimed_at", "attempts", "last_error", "sent_at")

# role -> (table, privileges) pairs: what its commands write.
GRANTS = {
    "speco_agent": [
        ("returns", f"INSERT, UPDATE ({', '.join(RETURN_UPDATES)})"),  # open; every event; edit
        ("items", "INSERT"),                                             # open
        ("serials", "INSERT (return_id, item_id, serial)"),              # open, serial add
        ("events", "INSERT"),                                            # every command's history row
        ("ledger", "INSERT"),                                            # hold, release (charges: supervisors)
        ("reviews", "INSERT, UPDATE (decided_on, decision)"),            # a late unit; its decision
        ("carrier_inbox", "UPDATE (applied_at)"),                        # deliveries import --inbox
        (LOCK_TABLE, "UPDATE"),                                          # the write lock
    ],
    "speco_supervisor": [
        ("catalog", "INSERT, UPDATE (description, category, list_price_cents, updated_at)"),  # catalog add, import
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
    "GRANT EXECUTE ON FUNCTION speco_remove_serial(bigint, text) TO speco_agent",  # serial remove
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
    """CREATE OR REPLACE TRIGGER ledger_supervisor_only BEFORE INSERT ON ledger FOR EACH ROW
  WHEN (NEW.event IN ('charged', 'refunded')) EXECUTE FUNCTION speco_supervisor_only('a charge or a refund')""",
    """CREATE OR REPLACE TRIGGER events_supervisor_only BEFORE INSERT ON events FOR EACH ROW
  WHEN (NEW.event = 'void') EXECUTE FUNCTION speco_supervisor_only('a void')""",
    """CREATE OR REPLACE TRIGGER returns_supervisor_only BEFORE INSERT ON returns FOR EACH ROW
  WHEN (NEW.type = 'virtual') EXECUTE FUNCTION speco_supervisor_only('approving a virtual return')""",
]


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
