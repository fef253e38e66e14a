"""A real `speco-returns shell` process left open between lines while other processes change the
database under it: a newer tool's upgrade, a restore from a backup."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest
from clihelpers import counts, query, raw
from shellhelpers import ShellProcess, run

from speco_returns.db.database import MIGRATION_SET

pytestmark = pytest.mark.slow  # real processes: CONTRIBUTING.md

OPEN = ["open", "--type", "standard", "--customer", "Shell Co", "--item", "C1"]


def _shell(tmp_path, db) -> ShellProcess:
    return ShellProcess(tmp_path, SPECO_RETURNS_DB=str(db))


def test_a_write_after_a_newer_tool_upgraded_the_database_is_refused_in_the_open_shell(
        tmp_path, db_path):
    assert run(tmp_path, *OPEN, SPECO_RETURNS_DB=str(db_path)).returncode == 0
    shell = _shell(tmp_path, db_path)
    try:
        # a read: the connection is made
        assert json.loads(shell.run("list --json", shows="\n]\n"))[0]["ra"] == "RA-000001"
        shell.settle()
        table = "speco_migrations" if isinstance(db_path, str) else "_sqlite_migrations"
        with raw(db_path) as conn:  # another process: a newer speco-returns upgrades the database
            conn.execute(f"INSERT INTO {table} (migration_set, name) VALUES (?, "
                         "'m099_from_the_future')", [MIGRATION_SET])
            conn.execute("UPDATE schema_info SET value = '9.1.0' WHERE key = 'upgraded_by'")
        refused = shell.run('note RA-000001 "after the upgrade"', shows="line 3: exit 1\n",
                            on="err")
        assert shell.finish() == 1
    finally:
        shell.kill()
    assert refused.splitlines() == ["error: this database was upgraded by speco-returns 9.1.0 or "
                                    f"later: upgrade the tool ({db_path})", "line 3: exit 1"]
    assert query(db_path, "SELECT count(*) FROM events WHERE event = 'note'") == [(0,)]
    assert counts(db_path)["returns"] == 1


def _copy_over(backup, db) -> None:
    """`cp backup db`: the same file (inode), its bytes rewritten."""
    with open(backup, "rb") as src, open(db, "r+b") as dst:
        dst.truncate(0)
        shutil.copyfileobj(src, dst)
        dst.flush()
        os.fsync(dst.fileno())


@pytest.mark.sqlite_only("a restore is a file copied or moved into place (docs/admin.md, Backup "
                         "and doctor); a server's is pg_restore")
@pytest.mark.parametrize("how", ["cp", "mv"])
def test_a_restore_made_while_the_shell_waits_is_what_its_next_command_reads_and_stays(
        tmp_path, db_path, how):
    """The documented restore (copy the backup over the file, or move it into place, and remove the
    -wal and -shm), made by another process between two lines of an open shell: the next line
    reads the restored file, a write after it lands there, and the shell's exit writes none of
    its old pages over it."""
    assert run(tmp_path, *OPEN, SPECO_RETURNS_DB=str(db_path)).returncode == 0
    backup = tmp_path / "backup.db"
    assert run(tmp_path, "backup", str(backup), SPECO_RETURNS_DB=str(db_path)).returncode == 0
    shell = _shell(tmp_path, db_path)
    try:
        for n in range(2, 5):  # written through the shell, after the backup
            assert json.loads(shell.run(shlex.join([*OPEN, "--json"]),
                                        shows="\n}\n"))["ra"] == f"RA-{n:06d}"
        shell.settle()  # the shell waits for its next line: the restore is made now
        if how == "cp":
            _copy_over(backup, db_path)
        else:
            os.replace(backup, db_path)
        for suffix in ("-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        assert [r["ra"] for r in json.loads(shell.run("list --json",
                                                      shows="\n]\n"))] == ["RA-000001"]
        assert shell.run('note RA-000001 "after the restore"',
                         shows="note added\n").endswith("RA-000001: note added\n")
        assert shell.finish() == 0
    finally:
        shell.kill()
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert query(db_path, "SELECT ra_no FROM returns") == [(1,)]
    assert query(db_path, "SELECT count(*) FROM events WHERE event = 'note'") == [(1,)]
    listed = run(tmp_path, "list", "--json", SPECO_RETURNS_DB=str(db_path))
    assert [r["ra"] for r in json.loads(listed.stdout)] == ["RA-000001"]
