"""The nightly job exactly as the docs give it: the settings file read by a real `/bin/sh` and
by systemd's documented EnvironmentFile grammar (the same values), the crontab's lines run as
cron runs them (`/bin/sh`, `PATH=/usr/bin:/bin`, the crontab's own assignments, `\\%`), and
the systemd unit and timer checked by `systemd-analyze verify`, its ExecStart run after
systemd's own `$` substitution. Real processes of the installed command, on both engines."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import smtpserver
from clihelpers import ok

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = Path(sys.executable).with_name("speco-returns")
CRON_PATH = "/usr/bin:/bin"  # what cron gives a job
TODAY = "2026-11-26"


def docs() -> str:
    """The reader's file that holds the nightly job (docs/admin.md once the docs are split)."""
    admin = ROOT / "docs" / "admin.md"
    return admin.read_text() if admin.exists() else (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", docs(), re.S)


def cron_blocks() -> tuple[str, str, str]:
    """(the nightly crontab with its assignments, the month's books line, the carrier reports
    line)."""
    found = blocks("cron")
    [nightly] = [b for b in found if "SHELL=" in b]
    [books] = [b for b in found if " export " in b]
    [reports] = [b for b in found if "deliveries import" in b]
    return nightly, books, reports


def settings_block() -> str:
    [block] = [b for b in blocks("sh") if b.startswith("# /etc/speco/speco-returns.env")]
    return block


def unit_blocks() -> tuple[str, str]:
    [service] = [b for b in blocks("ini") if "[Service]" in b]
    [timer] = [b for b in blocks("ini") if "[Timer]" in b]
    return service, timer


# --- systemd's EnvironmentFile grammar, as systemd.exec(5) documents it ---------------------------


def systemd_environment_file(text: str) -> dict[str, str]:
    """Empty lines and lines starting with `#` or `;` are ignored; KEY=VALUE, whitespace around
    the value dropped; a value in '...' is verbatim and may span lines; in "..." the shell's
    double-quote escapes (\\" \\\\ \\` \\$, a backslash-newline joins); unquoted, a backslash keeps
    the next character and one at the end of a line joins the next. A line without `=`, or whose
    key is not a variable name (`export KEY=...`), is ignored, as systemd ignores it."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        end = text.find("\n", i)
        end = n if end < 0 else end
        line = text[i:end]
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in line:
            i = end + 1
            continue
        key, _, _ = line.partition("=")
        j = i + len(key) + 1
        while j < n and text[j] in " \t":
            j += 1
        value, j = _value(text, j)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            out[key.strip()] = value
        nl = text.find("\n", j)
        i = n if nl < 0 else nl + 1
    return out


def _value(text: str, j: int) -> tuple[str, int]:
    n = len(text)
    if j < n and text[j] == "'":
        close = text.index("'", j + 1)
        return text[j + 1:close], close + 1
    if j < n and text[j] == '"':
        out, j = [], j + 1
        while text[j] != '"':
            if text[j] == "\\" and text[j + 1] in '"\\`$':
                out.append(text[j + 1])
                j += 2
            elif text[j] == "\\" and text[j + 1] == "\n":
                j += 2
            else:
                out.append(text[j])
                j += 1
        return "".join(out), j + 1
    out = []
    while j < n and text[j] != "\n":
        if text[j] == "\\" and j + 1 < n:
            if text[j + 1] != "\n":
                out.append(text[j + 1])
            j += 2
            continue
        out.append(text[j])
        j += 1
    return "".join(out).rstrip(" \t\r"), j


def shell_environment_file(path: Path) -> dict[str, str]:
    """What `set -a; . FILE; set +a` exports, read back from a real /bin/sh."""
    result = subprocess.run(["/bin/sh", "-c",
                             f"set -a; . {shlex.quote(str(path))}; set +a; env -0"],
                            env={"PATH": CRON_PATH}, capture_output=True, timeout=30, check=True)
    pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("SPECO_")}


def test_the_settings_file_gives_the_same_values_to_sh_and_to_systemd(tmp_path):
    text = settings_block()
    assert "export" not in text  # `export KEY=` is not a line EnvironmentFile= reads
    path = tmp_path / "speco-returns.env"
    path.write_text(text)
    by_sh, by_systemd = shell_environment_file(path), systemd_environment_file(text)
    assert by_sh == by_systemd
    assert by_sh["SPECO_RETURNS_RETURN_ADDRESS"].split("\n") == [
        "Speco Technologies", "Attn: Returns", "200 New Highway", "Amityville, NY 11701"]
    assert {"SPECO_RETURNS_DB", "SPECO_RETURNS_SMTP", "SPECO_RETURNS_MAIL_FROM"} <= set(by_sh)


def test_the_grammar_reader_is_systemds_where_the_two_syntaxes_differ():
    """The old recipe's file: `export` lines, which systemd ignores, and a double-quoted value."""
    assert systemd_environment_file("export SPECO_RETURNS_DB=/srv/x.db\n") == {}
    assert systemd_environment_file(
        'A="one \\"two\\"\nthree"\n# c\n; c\nB = spaced  \nC=a\\\nb\n') == {
            "A": 'one "two"\nthree', "B": "spaced", "C": "ab"}


# --- the crontab, as cron runs it -----------------------------------------------------------------


def crontab(block: str) -> tuple[dict[str, str], list[str]]:
    """(the crontab's NAME=value lines, each job's command as cron hands it to the shell: `\\%`
    becomes `%`; an unescaped `%` would end the command, and the docs use none)."""
    assignments, commands = {}, []
    for line in block.strip().splitlines():
        if re.fullmatch(r"[A-Z_]+=\S*", line):
            name, _, value = line.partition("=")
            assignments[name] = value
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6 and all(re.fullmatch(r"[0-9*,/-]+", f) for f in fields[:5]), line
        command = fields[5]
        assert not re.search(r"(?<!\\)%", command), f"an unescaped % ends a cron command: {line}"
        commands.append(command.replace("\\%", "%"))
    return assignments, commands


@pytest.fixture
def inbox():
    with smtpserver.listening() as box:
        yield box


@pytest.fixture
def machine(tmp_path, db_path, inbox, cli):
    """The docs' settings file with this test's database and SMTP server, a `mail` that records
    what it is given, the job's home; a return overdue (its hold expiring while it is out) and
    a hold to re-authorize before shipping, as of TODAY."""
    text = settings_block()
    settings = systemd_environment_file(text)
    lines = [f"SPECO_RETURNS_DB='{db_path}'",
             f"SPECO_RETURNS_SMTP='smtp://127.0.0.1:{inbox.port}?tls=off'"]
    lines += [f"{k}='{v}'" for k, v in settings.items()
              if k not in ("SPECO_RETURNS_DB", "SPECO_RETURNS_SMTP", "SPECO_RETURNS_SMTP_PASSWORD")]
    env_file = tmp_path / "speco-returns.env"
    env_file.write_text("\n".join(lines) + "\n")
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "mail").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/mail.args\n'
                               f'cat > {tmp_path}/mail.body\n')
    (fake / "mail").chmod(0o755)
    home = tmp_path / "var-lib-speco"
    home.mkdir()
    for step in [("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"),
                 ("open", "--type", "advanced", "--customer", "Carol", "--email",
                  "carol@example.com", "--item", "O4B3", "--serial", "SN-1", "--on", "2026-10-20",
                  "--yes"),
                 ("link", "RA-000001", "--on", "2026-10-20"),
                 ("hold", "RA-000001", "--ref", "AUTH-1", "--expires", "2026-11-28", "--on",
                  "2026-10-20"),
                 ("ship", "RA-000001", "--on", "2026-10-21"),
                 ("deliver", "RA-000001", "--on", "2026-10-24"),
                 # held, not shipped: a new e-biz link for it before it ships (its `opened`
                 # notice long past)
                 ("open", "--type", "advanced", "--customer", "Dave", "--email",
                  "dave@example.com", "--item", "O4B3", "--serial", "SN-2", "--on", "2026-11-01",
                  "--yes"),
                 ("link", "RA-000002", "--on", "2026-11-01"),
                 ("hold", "RA-000002", "--ref", "AUTH-2", "--expires", "2026-11-28", "--on",
                  "2026-11-25")]:
        ok(cli(*step, today=TODAY))
    return {"tmp": tmp_path, "env_file": env_file, "fake": fake, "home": home, "inbox": inbox}


def as_cron_runs(command: str, m: dict, assignments: dict[str, str],
                 path: str | None) -> subprocess.CompletedProcess:
    """The job's command under /bin/sh with cron's environment: HOME, LOGNAME, SHELL, PATH
    (cron's own, or the crontab's PATH= line), and the crontab's other assignments. The docs'
    folders are this test's: /etc/speco/speco-returns.env and /var/lib/speco."""
    command = command.replace("/etc/speco/speco-returns.env",
                              str(m["env_file"])).replace("/var/lib/speco", str(m["home"]))
    command = command.replace("/var/spool/speco", str(m["tmp"] / "spool"))
    env = {"HOME": str(m["home"]), "LOGNAME": "speco", "SHELL": assignments.get("SHELL", "/bin/sh"),
           "PATH": CRON_PATH if path is None else path, "SPECO_RETURNS_TODAY": TODAY}
    env.update({k: v for k, v in assignments.items() if k not in ("PATH", "SHELL")})
    return subprocess.run([env["SHELL"], "-c", command], env=env, capture_output=True, text=True,
                          timeout=300, cwd="/")


def test_the_crontab_runs_under_crons_path_and_makes_its_folders(machine):
    m = machine
    nightly, monthly, reports = cron_blocks()
    assignments, (overdue_line, notify_line) = crontab(nightly)
    assert assignments["SHELL"] == "/bin/sh" and assignments["PATH"].endswith(":/usr/bin:/bin")
    # Without the PATH= line, as the old recipe was: the command is not found.
    bare = as_cron_runs(notify_line, m, assignments, path=None)
    assert bare.returncode == 127 and "speco-returns" in bare.stderr
    # With it, where `command -v speco-returns` says this installation is (and `mail` is).
    path = assignments["PATH"].replace("/usr/local/bin", f"{INSTALLED.parent}:{m['fake']}")
    assert not (m["home"] / "nightly").exists()
    done = as_cron_runs(overdue_line, m, assignments, path)
    assert done.returncode == 0, done.stderr  # the alert went out, so the line succeeded
    rows = json.loads((m["home"] / "nightly" / "overdue.json").read_text())
    assert [(r["ra"], r["state"], r["action"]) for r in rows] == [
        ("RA-000001", "overdue", None), ("RA-000001", "hold-expiring", None),
        ("RA-000002", "hold-expiring", "send a new e-biz link")]
    args = (m["tmp"] / "mail.args").read_text().split("\n")
    assert args[:3] == ["-s", "speco-returns overdue: exit 3", "returns-team@example.com"]
    assert json.loads((m["tmp"] / "mail.body").read_text()) == rows
    sent = as_cron_runs(notify_line, m, assignments, path)
    assert sent.returncode == 0, sent.stderr
    log = (m["home"] / "log" / "notify.log").read_text()
    assert "sent" in log and "hold-expiring" in log and "send a new e-biz link" in log
    assert {r.msg["X-Speco-Notice"] for r in m["inbox"].received} == {"overdue", "hold-expiring"}
    # The carrier reports' line, before them (its folders are the carriers' drop folders).
    _, (reports_line,) = crontab(reports)
    for name in ("ups-qvd", "easypost", "aftership"):
        (m["tmp"] / "spool" / name).mkdir(parents=True)
    imported = as_cron_runs(reports_line, m, assignments, path)
    assert (imported.returncode == 0
            and imported.stdout.count("no reports to import") == 3), imported.stderr
    # The books of the month before: the 1st's line, run on any day, closes the month before it.
    _, (books_line,) = crontab(monthly)
    closed = as_cron_runs(books_line, m, assignments, path)
    assert closed.returncode == 0, closed.stderr
    # the line's `date -d yesterday`: the real clock
    month = (date.today() - timedelta(days=1)).strftime("%Y-%m")
    assert sorted(p.name for p in (m["home"] / "books").iterdir()) == [
        f"holds-{month}.csv", f"ledger-{month}.csv", f"report-{month}.json", f"returns-{month}.csv"]
    assert (json.loads((m["home"] / "books" / f"report-{month}.json").read_text())["balanced"]
            is True)


def test_a_quiet_night_mails_no_one(machine):
    m = machine
    nightly, _, _ = cron_blocks()
    assignments, (overdue_line, _) = crontab(nightly)
    path = assignments["PATH"].replace("/usr/local/bin", f"{INSTALLED.parent}:{m['fake']}")
    quiet = overdue_line.replace("overdue --check", "overdue --as-of 2026-10-25 --check")
    assert as_cron_runs(quiet, m, assignments, path).returncode == 0
    assert ((m["home"] / "nightly" / "overdue.json").read_text() == "[]\n"
            and not (m["tmp"] / "mail.args").exists())


# --- the systemd unit -----------------------------------------------------------------------------


def systemd_expand(value: str, environment: dict[str, str]) -> str:
    """ExecStart's `$$` is `$`; `${NAME}` and `$NAME` are the unit's environment (unset: empty);
    specifiers (`%`) are not used by the docs' unit."""
    assert "%" not in value
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                  lambda m: "$" if m.group(0) == "$$"
                  else environment.get(m.group(1) or m.group(2), ""), value)


def test_the_unit_and_timer_are_what_systemd_reads(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is needed to check the unit (apt-get install systemd)")
        pytest.skip("no systemd-analyze")
    service, timer = unit_blocks()
    (tmp_path / "speco-overdue.service").write_text(service)
    (tmp_path / "speco-overdue.timer").write_text(timer)
    result = subprocess.run([analyze, "verify", str(tmp_path / "speco-overdue.service"),
                             str(tmp_path / "speco-overdue.timer")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr
    # and the check is a real one: a misspelt value or key is reported
    (tmp_path / "speco-overdue.service").write_text(
        service.replace("Type=oneshot", "Type=oneshoot\nExecStrat=/bin/true"))
    bad = subprocess.run([analyze, "verify", str(tmp_path / "speco-overdue.service")],
                         capture_output=True, text=True, timeout=120)
    assert "oneshoot" in bad.stderr and "ExecStrat" in bad.stderr


def test_the_units_command_exits_with_overdues_code_after_notify_and_with_notifys_failure(
        machine, cli):
    m = machine
    service, _ = unit_blocks()
    assert "EnvironmentFile=/etc/speco/speco-returns.env" in service
    environment = systemd_environment_file(m["env_file"].read_text())
    [line] = [x for x in service.splitlines() if x.startswith("ExecStart=")]
    argv = shlex.split(systemd_expand(line.removeprefix("ExecStart="), environment))
    assert argv[:2] == ["/bin/sh", "-c"]  # an absolute path, as systemd requires
    argv = [a.replace("/usr/local/bin/speco-returns", str(INSTALLED)) for a in argv]
    env = {**environment, "PATH": CRON_PATH, "SPECO_RETURNS_TODAY": TODAY}
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stderr  # overdue found them; notify sent the notices
    assert {r.msg["X-Speco-Notice"] for r in m["inbox"].received} == {"overdue", "hold-expiring"}
    ok(cli("open", "--type", "standard", "--customer", "Erin", "--email", "erin@example.com",
           "--item", "VIP-4MP", "--yes", today=TODAY))
    # nothing listens: notify cannot send her notice
    env["SPECO_RETURNS_SMTP"] = "smtp://127.0.0.1:9?tls=off"
    down = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert down.returncode == 4 and "cannot reach the mail server" in down.stderr, down.stderr
