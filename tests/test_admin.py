"""`backup` and `doctor` through the CLI, and the filesystem check behind doctor's warning."""

from __future__ import annotations

import json
import sqlite3

import pytest
from builders import MIGRATION_NAMES, older_database
from clihelpers import ok, refused

from speco_returns.db.database import open_database
from speco_returns.integrity import doctor as admin

BACKUP = "a backup copies the file (on a server: pg_dump, test_pg.py)"


@pytest.fixture
def one_return(cli):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1"))


@pytest.mark.sqlite_only(BACKUP)
def test_backup_copies_every_row(cli, one_return, tmp_path):
    copy = tmp_path / "backup.db"
    ok(cli("backup", str(copy)))
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT customer FROM returns").fetchall() == [("Acme",)]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.sqlite_only(BACKUP)
def test_backup_never_overwrites_without_force(cli, one_return, tmp_path):
    copy = tmp_path / "backup.db"
    copy.write_text("keep me")
    lines = refused(cli("backup", str(copy)))
    assert "--force" in lines[0]
    assert copy.read_text() == "keep me"
    ok(cli("backup", str(copy), "--force"))
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM returns").fetchone() == (1,)


@pytest.mark.sqlite_only(BACKUP)
@pytest.mark.parametrize("where", ["missing/backup.db", "."])
def test_backup_to_a_missing_folder_or_a_folder_is_one_clear_line(cli, one_return, tmp_path, where):
    refused(cli("backup", str(tmp_path / where)))
    assert not [p for p in tmp_path.rglob("*.tmp")], "a temporary file was left"


@pytest.mark.sqlite_only(BACKUP)
def test_backup_onto_the_database_itself_is_refused(cli, one_return, db_path):
    refused(cli("backup", str(db_path), "--force"))
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM returns").fetchone() == (1,)


@pytest.mark.sqlite_only("SQLite's integrity_check, foreign keys and file size (a server's doctor: "
                         "test_pg.py)")
def test_doctor_reports_a_healthy_database(cli, one_return):
    report = json.loads(ok(cli("doctor", "--json")).stdout)
    assert report["ok"] is True
    assert report["integrity"] == "ok"
    assert report["foreign_key_violations"] == 0
    assert report["schema_version"] == len(MIGRATION_NAMES)
    assert report["pending_migrations"] == 0
    assert report["returns_by_type_and_status"] == {"standard authorized": 1}
    assert report["database_bytes"] > 0
    human = ok(cli("doctor"))
    assert "healthy" in human.stdout


@pytest.mark.first_run("a file not created")
def test_doctor_without_a_database_says_so_and_creates_none(cli, db_path):
    refused(cli("doctor"))
    assert not db_path.exists()


@pytest.mark.sqlite_only("foreign keys are off on a plain SQLite connection")
def test_doctor_finds_a_broken_foreign_key(cli, one_return, db_path):
    conn = sqlite3.connect(db_path)  # foreign keys are off on a plain connection
    conn.execute("INSERT INTO items (return_id, model, qty) VALUES (999, 'GHOST', 1)")
    conn.commit()
    conn.close()
    result = cli("doctor", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["foreign_key_violations"] == 1
    assert "foreign key" in result.stderr


@pytest.mark.sqlite_only("a file that is not a database")
def test_doctor_on_a_file_that_is_not_a_database_is_one_line(cli, db_path):
    db_path.write_bytes(b"this is not sqlite" * 100)
    lines = refused(cli("doctor"))
    assert len(lines) == 1


def test_doctor_reports_pending_migrations_without_applying_them(cli, blank_db):
    older_database(blank_db, "m002_returns").close()
    report = json.loads(ok(cli("--db", str(blank_db), "doctor", "--json")).stdout)
    assert report["schema_version"] == 1
    assert report["pending_migrations"] == len(MIGRATION_NAMES) - 1
    db = open_database(blank_db, migrate=False)
    try:
        assert not db.engine.table_exists(db.raw, "returns")
    finally:
        db.close()


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /srv/shared nfs4 rw,relatime 0 0
//nas/returns /mnt/nas cifs rw 0 0
user@host:/data /mnt/ssh fuse.sshfs rw 0 0
/dev/sdb1 /srv/shared/local ext4 rw 0 0
"""


@pytest.mark.parametrize(
    "path,kind",
    [
        ("/home/ann/returns.db", "ext4"),
        ("/srv/shared/returns.db", "nfs4"),
        ("/srv/shared/local/returns.db", "ext4"),  # the deepest mount point wins
        ("/mnt/nas/returns.db", "cifs"),
        ("/mnt/ssh/x/returns.db", "fuse.sshfs"),
        ("/srv/sharedness/returns.db", "ext4"),  # a prefix of the name is not the mount point
    ],
)
def test_filesystem_type_reads_the_deepest_mount(path, kind, tmp_path):
    from pathlib import Path

    assert admin.filesystem_type(Path(path), MOUNTS) == kind


@pytest.mark.sqlite_only("a database file on a network filesystem")
@pytest.mark.parametrize("kind", ["nfs4", "cifs", "fuse.sshfs"])
def test_doctor_refuses_a_network_filesystem(cli, one_return, monkeypatch, kind):
    monkeypatch.setattr(admin, "filesystem_type", lambda path, mounts=None: kind)
    result = cli("doctor", "--json")
    assert result.exit_code == 1
    assert kind in result.stderr and "local disk" in result.stderr
