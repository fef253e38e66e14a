"""Issue 11, decisions 4-10: the database file. Reads never create it, read-only copies are
readable (as another, unprivileged account: tests run as root, where permissions do not
bite), nothing created is world-accessible, a newer schema is refused for writes, outputs
never overwrite the database, damage is named as such, and a killed export or backup's
temporary files are cleaned up by the next one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clihelpers import counts, ok, refused
from typer.testing import CliRunner

from speco_returns import files
from speco_returns.cli import app

pytestmark = pytest.mark.first_run("the database file as the tool creates it: its folder, its permissions, its neighbours, its bytes")

NOBODY = 65534
READS = [["show", "RA-000001"], ["list"], ["overdue", "--check"], ["check", "-t", "standard", "-i", "CAM-1"],
         ["serial", "find", "SN0001"], ["export", "returns"], ["export", "ledger"], ["catalog", "list"], ["doctor"],
         ["backup", "{tmp}/copy.db"]]
WRITES = [["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1"], ["catalog", "add", "CAM-1", "--category", "camera"],
          ["note", "RA-000001", "hi"]]


def _args(args: list[str], tmp: Path) -> list[str]:
    return [a.format(tmp=tmp) for a in args]


@pytest.fixture
def seeded(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
    ok(cli("open", "-t", "advanced", "-c", "Acme", "-i", "CAM-1", "-s", "SN0001", "-y"))
    ok(cli("link", "RA-000001"))
    ok(cli("hold", "RA-000001", "--ref", "AUTH-1"))


# --- 4. a missing database is never created by a read ---------------------------------------


def _command_paths(group, prefix=()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (click's, or the one typer brings)
            found += _command_paths(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


# Every command of the app, as the test's table must know it: a command added later fails
# test_every_command_is_classified until it is put here (SPEC §4: a command that writes no
# return or catalog row refuses a missing database; a write creates one in a folder that exists).
READ, WRITE, NONE = "read", "write", "none"
EVERY_COMMAND = {
    ("policy",): (NONE, []),
    ("check",): (READ, ["-t", "standard", "-i", "CAM-1"]),
    ("open",): (WRITE, ["-t", "standard", "-c", "Acme", "-i", "CAM-1"]),
    ("show",): (READ, ["RA-000001"]),
    ("list",): (READ, []),
    ("serial", "add"): (WRITE, ["RA-000001", "SN0001"]),
    ("serial", "remove"): (WRITE, ["RA-000001", "SN0001"]),
    ("serial", "find"): (READ, ["SN0001"]),
    ("link",): (WRITE, ["RA-000001"]),
    ("hold",): (WRITE, ["RA-000001", "--ref", "AUTH-1"]),
    ("ship",): (WRITE, ["RA-000001"]),
    ("deliver",): (WRITE, ["RA-000001"]),
    ("unit-shipped",): (WRITE, ["RA-000001"]),
    ("receive",): (WRITE, ["RA-000001"]),
    ("charge",): (WRITE, ["RA-000001"]),
    ("refund",): (WRITE, ["RA-000001", "--ref", "RF-1"]),
    ("complete",): (WRITE, ["RA-000001"]),
    ("cancel",): (WRITE, ["RA-000001", "--reason", "r"]),
    ("void",): (WRITE, ["RA-000001", "--reason", "r"]),
    ("edit",): (WRITE, ["RA-000001", "--phone", "555-0100"]),
    ("note",): (WRITE, ["RA-000001", "hi"]),
    ("overdue",): (READ, ["--check"]),
    ("notify",): (READ, []),  # writes notices of returns already there, never a database
    ("export", "ledger"): (READ, []),
    ("export", "holds"): (READ, []),
    ("export", "returns"): (READ, []),
    ("report", "quality"): (READ, []),
    ("codes", "list"): (READ, []),
    ("codes", "add"): (WRITE, ["fault", "no-audio"]),
    ("codes", "retire"): (WRITE, ["fault", "ir-night"]),
    ("finding",): (WRITE, ["RA-000001", "no-fault-found"]),
    ("catalog", "add"): (WRITE, ["CAM-1", "--category", "camera"]),
    ("catalog", "import"): (WRITE, ["{work}/models.csv"]),
    ("catalog", "list"): (READ, []),
    ("catalog", "history"): (READ, ["CAM-1"]),  # a server's; a file's says so
    ("backup",): (READ, ["{work}/copy.db"]),
    ("doctor",): (READ, []),
    ("admin", "roles"): (NONE, []),
    ("admin", "copy"): (READ, ["--to", "postgresql:///nowhere"]),
    ("shell",): (NONE, []),  # runs the lines it is given: each read or write as above
    ("deliveries", "import"): (READ, ["{work}/models.csv", "--format", "easypost"]),  # records on returns already there
    ("deliveries", "serve"): (NONE, []),  # refuses to start without a webhook secret; with one, as a read
    ("slip",): (READ, ["RA-000001", "--output", "{work}/RA-000001.pdf"]),
}
# A read's other forms, which once created the database.
MORE_READS = [["show", "RA-000001", "--notice", "opened"], ["notify", "--dry-run"], ["notify", "--dry-run", "--outbox", "{work}"],
              ["report"], ["report", "--json"], ["report", "quality", "--json"], ["report", "quality", "--html", "{work}/q.html"],
              ["codes", "list", "--json"], ["check", "--json", "-t", "standard", "-i", "CAM-1"], ["doctor", "--json"],
              ["deliveries", "import", "--inbox"], ["deliveries", "import", "{work}", "--format", "easypost", "--dry-run"],
              ["slip", "RA-000001", "--label", "--output", "{work}/label.pdf"]]


def test_every_command_is_classified():
    import typer.main

    assert sorted(_command_paths(typer.main.get_command(app))) == sorted(EVERY_COMMAND)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """What the commands' arguments name, beside (not in) the database's folder; mail settings set."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "models.csv").write_text("model,category,list_price\nCAM-1,camera,100\n", encoding="utf-8")
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", "returns@speco.example")
    monkeypatch.setenv("SPECO_RETURNS_SMTP", "smtp://127.0.0.1:9?tls=off")
    return folder


@pytest.mark.parametrize("path", sorted(EVERY_COMMAND), ids=" ".join)
def test_every_command_on_a_missing_database(cli, tmp_path, work, path):
    kind, args = EVERY_COMMAND[path]
    args = [a.format(work=work) for a in args]
    folder = tmp_path / "db"
    folder.mkdir()
    for target in (folder / "typo.db", folder / "unmounted" / "returns.db"):
        result = cli("--db", str(target), *path, *args, input="")
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        if kind == READ:
            assert refused(result) == [f"error: no database at {target}"]
    # a write creates the database where the folder exists, never a folder; the rest create nothing
    assert sorted(p.name for p in folder.iterdir()) == (["typo.db"] if kind == WRITE else [])
    assert sorted(p.name for p in work.iterdir()) == ["models.csv"]


@pytest.mark.parametrize("args", MORE_READS, ids=" ".join)
def test_every_form_of_a_read_on_a_missing_database_creates_nothing(cli, tmp_path, work, args):
    missing = tmp_path / "db" / "typo.db"
    missing.parent.mkdir()
    result = cli("--db", str(missing), *[a.format(work=work) for a in args])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines() == ([] if "--json" in args and "check" in args else [f"error: no database at {missing}"])
    assert list(missing.parent.iterdir()) == [] and sorted(p.name for p in work.iterdir()) == ["models.csv"]


def test_check_json_on_a_missing_database_prints_its_document(cli, tmp_path):
    """SPEC §4: check --json always prints its document; a missing database is one of its violations."""
    missing = tmp_path / "typo.db"
    result = cli("--db", str(missing), "check", "--json", "-t", "standard", "-i", "CAM-1")
    assert result.exit_code == 1 and result.stderr == ""
    assert json.loads(result.stdout) == {"eligible": False, "warnings": [],
                                         "violations": [{"rule": None, "message": f"no database at {missing}"}]}
    result = cli("--db", str(missing), "check", "--json", "-i", "CAM-1")  # with an input problem: both, one document
    assert result.exit_code == 1
    assert [v["message"] for v in json.loads(result.stdout)["violations"]] == [
        "missing --type: standard, counter (otc), advanced (ar) or virtual", f"no database at {missing}"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", WRITES, ids=" ".join)
def test_a_write_creates_a_database_only_in_a_folder_that_exists(cli, tmp_path, args):
    target = tmp_path / "unmounted" / "returns.db"
    lines = refused(cli("--db", str(target), *args))
    assert lines == [f"error: folder {target.parent} does not exist: create it first, or check --db"]
    assert not target.parent.exists()


@pytest.mark.parametrize("args", READS[:3] + WRITES[:1], ids=" ".join)
def test_a_folder_is_refused_as_the_database(cli, tmp_path, args):
    (line,) = refused(cli("--db", str(tmp_path), *_args(args, tmp_path)))
    assert line.startswith(f"error: {tmp_path} is a folder: give the database file")


def test_the_default_folder_is_made_on_first_use(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SPECO_RETURNS_DB")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    refused(cli("list"))  # a read does not make it
    assert not (tmp_path / "home").exists()
    ok(cli("catalog", "add", "CAM-1", "--category", "camera"))
    db = tmp_path / "home" / ".config" / "speco-returns" / "returns.db"
    assert db.is_file()
    assert not db.parent.stat().st_mode & 0o007


# --- 5. read-only access, as an account that cannot write ------------------------------------


def as_nobody(args: list[str], env: dict[str, str]) -> dict:
    """Run the CLI in a forked child that has given up root for `nobody`: the kernel's own
    permission checks apply. Everything the command imports is imported before the switch."""
    import speco_returns.admin.backup  # noqa: F401
    import speco_returns.cli.output  # noqa: F401
    import speco_returns.cli.render  # noqa: F401
    import speco_returns.db.exports  # noqa: F401
    import speco_returns.integrity.doctor  # noqa: F401
    import speco_returns.integrity.fanout  # noqa: F401

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = CliRunner().invoke(app, args, env=env)
            out = {"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
                   "exception": repr(result.exception)}
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = {"code": -1, "stdout": "", "stderr": repr(e), "exception": repr(e)}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


needs_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"), reason="needs root to become nobody")


@pytest.fixture
def shared(cli):
    """A database owned by root, readable by all (an old one: 0644) in a folder `nobody` may
    not write; `out` is a folder it may write. Under /tmp: pytest's own folder is root's only."""
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="speco-shared-"))
    top.chmod(0o755)
    folder = top / "shared"
    folder.mkdir()
    db = folder / "returns.db"
    ok(cli("--db", str(db), "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
    ok(cli("--db", str(db), "open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-s", "SN0001"))
    db.chmod(0o644)
    folder.chmod(0o755)
    out = top / "out"
    out.mkdir()
    out.chmod(0o777)
    yield db, out
    shutil.rmtree(top)


def _env(db: Path) -> dict[str, str]:
    return {"SPECO_RETURNS_DB": str(db), "SPECO_RETURNS_AGENT": "report", "COLUMNS": "200"}


@needs_root
@pytest.mark.parametrize("args", [a for a in READS if a[0] != "backup"] + [["backup", "{tmp}/copy.db"]], ids=" ".join)
@pytest.mark.parametrize("folder_mode", [0o755, 0o777], ids=["read-only folder", "writable folder"])
def test_reads_work_for_an_account_that_cannot_write_and_leave_nothing(shared, args, folder_mode):
    db, out = shared
    db.parent.chmod(folder_mode)
    before = sorted(p.name for p in db.parent.iterdir())
    result = as_nobody(_args(args, out), _env(db))
    assert result["code"] in (0, 3), result  # overdue --check: 0 here
    assert sorted(p.name for p in db.parent.iterdir()) == before
    assert not [p for p in db.parent.iterdir() if p.stat().st_uid == NOBODY]


@needs_root
def test_reads_see_what_a_writer_has_not_checkpointed(shared):
    """The owner has the database open with commits still in its WAL: the reader sees them."""
    db, out = shared
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE catalog SET description = 'seen from the WAL'")
        writer.commit()
        assert Path(f"{db}-wal").stat().st_size > 0
        result = as_nobody(["catalog", "list", "--json"], _env(db))
        assert result["code"] == 0, result
        assert json.loads(result["stdout"])[0]["description"] == "seen from the WAL"
    finally:
        writer.close()
    assert not [p for p in db.parent.iterdir() if p.stat().st_uid == NOBODY]


@needs_root
def test_a_write_by_an_account_that_cannot_write_is_one_line(shared):
    db, _ = shared
    result = as_nobody(["note", "RA-000001", "hi"], _env(db))
    assert result["code"] == 1 and result["stderr"].startswith("error: ") and "Traceback" not in result["stderr"]


@pytest.mark.slow
def test_reads_work_on_a_read_only_filesystem(cli, db_path, seeded, tmp_path):
    """A real read-only mount (tmpfs remounted ro, in a private mount namespace)."""
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0 and not os.environ.get("CI"):
        pytest.skip("no mount namespaces here")
    sqlite3.connect(db_path).close()  # checkpointed: one file to copy
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    tool = f"{sys.executable} -m speco_returns --db {mnt}/returns.db"
    script = (f"mount -t tmpfs tmpfs {mnt} && cp {db_path} {mnt}/ && mount -o remount,ro {mnt} && "
              f"{tool} list --json && {tool} doctor --json >/dev/null && {tool} export ledger && "
              f"{{ {tool} note RA-000001 hi; echo exit=$?; }} && ls -a {mnt}")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SPECO_RETURNS_AGENT": "t"})
    assert result.returncode == 0, result.stderr
    assert '"ra": "RA-000001"' in result.stdout and "hold-authorized" in result.stdout
    assert result.stderr == (f"error: cannot write {mnt}/returns.db: this account or filesystem may only read it "
                             "(read commands still work)\n")
    assert "exit=1" in result.stdout and result.stdout.rstrip().endswith(".\n..\nreturns.db")


# --- 6. nothing created is world-accessible --------------------------------------------------


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o640), (0o007, 0o660), (0o077, 0o600), (0o000, 0o660)])
def test_nothing_created_is_world_accessible_and_the_group_follows_the_umask(cli, tmp_path, mask, expected):
    db = tmp_path / "returns.db"
    old = os.umask(mask)
    try:
        ok(cli("--db", str(db), "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
        keep = sqlite3.connect(db)  # held open, so the -wal and -shm stay to be looked at
        keep.execute("SELECT count(*) FROM catalog").fetchone()
        ok(cli("--db", str(db), "open", "-t", "standard", "-c", "Acme", "-i", "CAM-1"))
        ok(cli("--db", str(db), "backup", str(tmp_path / "copy.db")))
        ok(cli("--db", str(db), "export", "returns", "--output", str(tmp_path / "returns.csv")))
        made = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), tmp_path / "copy.db", tmp_path / "returns.csv"]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in made}
        keep.close()
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(modes, expected)


# --- 7. a database upgraded by a newer version ---------------------------------------------------


def _upgrade_to_the_future(db: Path, reads_need: int) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('speco-returns', 'm099_future', '2031-01-01')")
        conn.execute("INSERT OR REPLACE INTO schema_info VALUES ('upgraded_by', '9.1.0'), ('reads_need_schema', ?)",
                     [str(reads_need)])
    conn.close()


def test_a_newer_database_is_refused_for_writes_and_read_where_compatible(cli, db_path, seeded):
    _upgrade_to_the_future(db_path, reads_need=5)
    before = counts(db_path)
    for args in (["note", "RA-000001", "hi"], ["open", "-t", "standard", "-c", "A", "-i", "CAM-1"]):
        assert refused(cli(*args)) == [
            f"error: this database was upgraded by speco-returns 9.1.0 or later: upgrade the tool ({db_path})"]
    assert counts(db_path) == before
    assert "Acme" in ok(cli("show", "RA-000001")).stdout
    result = cli("doctor", "--json")
    assert result.exit_code == 1
    assert any("newer than this tool" in p for p in json.loads(result.stdout)["problems"])


def test_a_newer_database_with_an_incompatible_schema_is_not_read(cli, db_path, seeded):
    _upgrade_to_the_future(db_path, reads_need=99)
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE returns RENAME COLUMN phone TO telephone")
    conn.close()
    for args in (["show", "RA-000001"], ["list"], ["export", "returns"]):
        assert refused(cli(*args)) == [
            f"error: this database was upgraded by speco-returns 9.1.0 or later: upgrade the tool ({db_path})"]


# --- 8. outputs never overwrite the database ----------------------------------------------------


@pytest.mark.parametrize("name", ["returns.db", "returns.db-wal", "returns.db-shm", "returns.db-journal", "link",
                                  "hardlink"])
@pytest.mark.parametrize("command", ["export", "backup"])
def test_no_output_may_be_the_database_or_one_of_its_files(cli, db_path, seeded, name, command):
    (db_path.parent / "link").symlink_to(db_path)
    os.link(db_path, db_path.parent / "hardlink")
    Path(f"{db_path}-journal").write_bytes(b"")
    keep = sqlite3.connect(db_path)  # keeps the -wal and -shm
    keep.execute("SELECT 1 FROM returns").fetchone()
    before = counts(db_path)
    target = str(db_path.parent / name)
    args = ["export", "returns", "--output", target, "--force"] if command == "export" else ["backup", target, "--force"]
    (line,) = refused(cli(*args))
    assert "is the database or one of its files" in line
    keep.close()
    assert counts(db_path) == before
    assert ok(cli("doctor", "--json"))


# --- 9. a damaged file is named as such ------------------------------------------------------------


def test_text_that_is_not_utf8_in_the_file_is_reported_as_a_damaged_database(cli, db_path, seeded):
    ok(cli("open", "-t", "standard", "-c", "Zebulon Quist", "-i", "CAM-1"))
    sqlite3.connect(db_path).close()  # checkpoint: the name is in the main file now
    data = bytearray(db_path.read_bytes())
    at = data.index(b"Zebulon Quist")
    data[at:at + 4] = b"\xff\xfe\xff\xfe"
    db_path.write_bytes(bytes(data))
    for args in (["list"], ["show", "RA-000002"], ["list", "--customer", "zeb"]):
        assert refused(cli(*args)) == [
            f"error: the database {db_path} is damaged (unreadable text or pages): run `speco-returns doctor`, "
            "and restore the latest `speco-returns backup` copy"], args


# --- 10. a killed export's or backup's temporary files ------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_the_next_export_removes_a_killed_ones_temporary_files_and_doctor_reports_them(cli, db_path, seeded, tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".returns.csv.{dead}.abcd1234.tmp", tmp_path / f".copy.db.{dead}.efgh5678.tmp",
             tmp_path / f".copy.db.{dead}.efgh5678.tmp-journal"]
    live = tmp_path / f".other.csv.{os.getpid()}.ijkl9012.tmp"  # a running export's: left alone
    for p in [*stale, live]:
        p.write_text("partial")
    report = json.loads(ok(cli("doctor", "--json")).stdout)
    assert sorted(report["stale_temp_files"]) == sorted(str(p) for p in stale)
    assert any("temporary file(s) left by a killed export or backup" in w for w in report["warnings"])
    ok(cli("export", "returns", "--output", str(tmp_path / "new.csv")))
    assert not any(p.exists() for p in stale) and live.exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["export", "backup"])
def test_kill_9_during_an_export_or_backup_then_the_next_one_cleans_up(cli, db_path, seeded, tmp_path, command):
    """A real process killed with SIGKILL while its temporary file exists."""
    for n in range(300):
        ok(cli("open", "-t", "standard", "-c", f"Customer {n}", "-i", "CAM-1:3"))
    out = tmp_path / "out"
    out.mkdir()
    args = ["export", "returns", "--output", str(out / "r.csv")] if command == "export" else ["backup", str(out / "c.db")]
    env = {**os.environ, "SPECO_RETURNS_DB": str(db_path), "SPECO_RETURNS_AGENT": "t"}
    killed = False
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-m", "speco_returns", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if any(p.name.endswith(".tmp") for p in out.iterdir()):
                proc.send_signal(signal.SIGKILL)
                break
        # Killed mid-write only if the signal landed before the rename: on a busy machine the
        # process can finish between seeing its temp file and the kill. Then try again.
        killed = proc.wait(timeout=30) == -signal.SIGKILL and any(".tmp" in p.name for p in out.iterdir())
        if killed:
            break
        for p in out.iterdir():
            p.unlink()
    assert killed, "the process always finished before its temporary file could be seen"
    left = [p for p in out.iterdir() if ".tmp" in p.name]
    assert left and files.stale_temp_files(out) == sorted(left)
    ok(cli(*args, "--force"))
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
