"""Schema objects the tool keeps by name (what migrations create and doctor expects)."""

from __future__ import annotations

# SQLite's append-only history and ledger (m002) and no REPLACE (m010: REPLACE deletes without
# firing a DELETE trigger), made again by chain.rebuild after it writes the hashes.
SQLITE_CHAIN_TRIGGERS = {
    "events_no_update": "CREATE TRIGGER events_no_update BEFORE UPDATE ON events\n"
                        "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "events_no_delete": "CREATE TRIGGER events_no_delete BEFORE DELETE ON events\n"
                        "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "ledger_no_update": "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger\n"
                        "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
    "ledger_no_delete": "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger\n"
                        "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
    "events_no_replace": "CREATE TRIGGER events_no_replace BEFORE INSERT ON events\n"
                         "            WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)\n"
                         "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "ledger_no_replace": "CREATE TRIGGER ledger_no_replace BEFORE INSERT ON ledger\n"
                         "            WHEN EXISTS (SELECT 1 FROM ledger WHERE id = NEW.id)\n"
                         "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
}
