"""A real `speco-returns shell` process left open between lines while other processes change the
database under it: a newer tool's upgrade, a restore from a backup."""

from __future__ import annotations

import json

from clihelpers import counts, query, raw
from shellhelpers import ShellProcess, run

from speco_returns.store import MIGRATION_SET

OPEN = ["open", "--type", "standard", "--customer", "Shell Co", "--item", "C1"]


def _shell(tmp_path, db) -> ShellProcess:
    return ShellProcess(tmp_path, SPECO_RETURNS_DB=str(db))


def test_a_write_after_a_newer_tool_upgraded_the_database_is_refused_in_the_open_shell(tmp_path, db_path):
    assert run(tmp_path, *OPEN, SPECO_RETURNS_DB=str(db_path)).returncode == 0
    shell = _shell(tmp_path, db_path)
    try:
        assert json.loads(shell.run("list --json", shows="\n]\n"))[0]["ra"] == "RA-000001"  # a read: the connection is made
        table = "speco_migrations" if isinstance(db_path, str) else "_sqlite_migrations"
        with raw(db_path) as conn:  # another process: a newer speco-returns upgrades the database
            conn.execute(f"INSERT INTO {table} (migration_set, name) VALUES (?, 'm099_from_the_future')", [MIGRATION_SET])
            conn.execute("UPDATE schema_info SET value = '9.1.0' WHERE key = 'upgraded_by'")
        refused = shell.run('note RA-000001 "after the upgrade"', shows="line 2: exit 1\n", on="err")
        assert shell.finish() == 1
    finally:
        shell.kill()
    assert refused.splitlines() == [f"error: this database was upgraded by speco-returns 9.1.0 or later: "
                                    f"upgrade the tool ({db_path})", "line 2: exit 1"]
    assert query(db_path, "SELECT count(*) FROM events WHERE event = 'note'") == [(0,)]
    assert counts(db_path)["returns"] == 1
