"""Who may do what on a team's server: three group roles, `admin roles [--apply]`.

- speco_agent: uses the tool; history (events) and the ledger take rows, never UPDATE/DELETE.
- speco_supervisor: an agent who may also charge, refund, void and approve a virtual return.
- speco_accounting: reads and exports only.

The owner of the database (who ran `createdb`) runs the migrations and this SQL; the team's
logins are made members (`GRANT speco_agent TO ann`). The supervisor's moments are checked by
triggers, so a refusal names the role it needs, whatever client wrote the row.
"""

from __future__ import annotations

ROLES = ("speco_agent", "speco_supervisor", "speco_accounting")

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

STATEMENTS = [
    """DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'speco_agent') THEN CREATE ROLE speco_agent NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'speco_supervisor') THEN CREATE ROLE speco_supervisor NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'speco_accounting') THEN CREATE ROLE speco_accounting NOLOGIN; END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO speco_agent, speco_accounting', current_database());
END $$""",
    "GRANT speco_agent TO speco_supervisor",
    "GRANT USAGE ON SCHEMA public TO speco_agent, speco_accounting",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO speco_agent, speco_accounting",
    "GRANT INSERT ON ALL TABLES IN SCHEMA public TO speco_agent",
    "GRANT UPDATE ON returns, catalog, notices, reviews, ledger_days, chain_heads, carrier_inbox TO speco_agent",
    "GRANT DELETE ON serials TO speco_agent",  # `serial remove`
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO speco_agent",
    "REVOKE UPDATE, DELETE, TRUNCATE ON events, ledger FROM speco_agent, speco_accounting",
    # Tables a later migration adds (run by the owner) are readable and writable the same way.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO speco_agent, speco_accounting",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT ON TABLES TO speco_agent",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO speco_agent",
    _SUPERVISOR_CHECK,
    """CREATE OR REPLACE TRIGGER ledger_supervisor_only BEFORE INSERT ON ledger FOR EACH ROW
  WHEN (NEW.event IN ('charged', 'refunded')) EXECUTE FUNCTION speco_supervisor_only('a charge or a refund')""",
    """CREATE OR REPLACE TRIGGER events_supervisor_only BEFORE INSERT ON events FOR EACH ROW
  WHEN (NEW.event = 'void') EXECUTE FUNCTION speco_supervisor_only('a void')""",
    """CREATE OR REPLACE TRIGGER returns_supervisor_only BEFORE INSERT ON returns FOR EACH ROW
  WHEN (NEW.type = 'virtual') EXECUTE FUNCTION speco_supervisor_only('approving a virtual return')""",
]


def script() -> str:
    """The SQL `admin roles` prints: run it as the database's owner (psql -f, or --apply)."""
    return "".join(f"{s};\n\n" for s in STATEMENTS) + (
        "-- Then make each login a member of one role, e.g.:\n"
        "--   CREATE ROLE ann LOGIN; GRANT speco_agent TO ann;\n"
        "--   GRANT speco_supervisor TO dana;  GRANT speco_accounting TO lee;\n")


def apply(store) -> None:
    """Run the script in one write transaction (all of it, or none)."""
    with store.write():
        for statement in STATEMENTS:
            store.execute(statement)
