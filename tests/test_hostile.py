"""Hostile input (SPEC §4 exit codes, §6): whatever an agent or a script types, every command
ends with a clear exit code (0 to 3), never an unhandled exception or a traceback, and a
command that does not succeed writes nothing.

Hypothesis builds argument lists for every command from its own option names, good values
(RA numbers, dates, models of the seeded database) and junk (unicode, empty strings, huge
numbers, options in odd places). Each example runs on a fresh copy of a seeded database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speco_returns.cli import app

TODAY = "2026-11-26"
BASE_ENV = {"SPECO_RETURNS_AGENT": "hostile", "SPECO_RETURNS_TODAY": TODAY, "NO_COLOR": "1",
            "COLUMNS": "120"}
# Deterministic by default, so CI gives the same answer twice; HOSTILE_EXAMPLES=400
# HOSTILE_RANDOM=1 explores further (each run then draws new examples).
EXAMPLES_PER_COMMAND = int(os.environ.get("HOSTILE_EXAMPLES", "40"))
DERANDOMIZE = os.environ.get("HOSTILE_RANDOM") != "1"

SEED = [
    ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500", "--description",
     "Bullet camera"),
    ("catalog", "add", "PTZ-9", "--category", "ptz", "--list-price", "$1,299.00"),
    ("catalog", "add", "REC-2", "--category", "recorder"),
    # RA-000001: standard, authorized
    ("open", "--type", "standard", "--customer", "Acme Security", "--item", "CAM-1", "--serial",
     "SN0001", "--on", "2026-11-01"),
    # RA-000002: advanced, delivered 2026-09-25, so overdue on TODAY
    ("open", "--type", "advanced", "--customer", "Beta Alarm", "--email", "ops@beta.example",
     "--item", "CAM-1:2", "--serial", "SN0002", "--serial", "SN0003", "--on", "2026-09-20"),
    ("link", "RA-000002", "--on", "2026-09-20"),
    ("hold", "RA-000002", "--ref", "AUTH-1", "--expires", "2026-12-01", "--on", "2026-09-21"),
    ("ship", "RA-000002", "--tracking", "1Z999", "--on", "2026-09-22"),
    ("deliver", "RA-000002", "--on", "2026-09-25"),
    # RA-000003: virtual, authorized
    ("open", "--type", "virtual", "--customer", "Gamma Co", "--item", "CAM-1", "--serial", "SN0004",
     "--approved-by", "Dana", "--reason", "goodwill", "--on", "2026-11-20"),
    # TCK-100: counter (keyed by its ticket: no RA number)
    ("open", "--type", "counter", "--customer", "Delta", "--item", "CAM-1", "--ticket", "TCK-100",
     "--distributor", "ADI", "--on", "2026-11-20"),
    # RA-000004: advanced, link sent
    ("open", "--type", "advanced", "--customer", "Epsilon", "--item", "PTZ-9", "--serial", "SN0005",
     "--on", "2026-11-25"),
    ("link", "RA-000004", "--on", "2026-11-25"),
    ("note", "RA-000001", "customer called", "--on", "2026-11-02"),
]

CATALOG_CSV = "model,category,list_price,description\nCAM-7,camera,199.99,new bullet\nPTZ-3,ptz,,\n"

# Good values by kind; every kind also gets junk.
GOOD = {
    "ra": ["RA-000001", "ra-000002", "RA-000003", "RA-000004", "RA-000005", "RA-999999", "RA-0",
           "RA-", "tck-100", "TCK-100", " RA-000001 ", "RA-0000001"],
    "date": ["2026-11-26", "2026-11-20", "2026-09-25", "11/20/2026", "Nov 20 2026", "2026-12-31",
             "2999-12-31", "1999-12-31", "2026-02-30", "2026-11", "Nov 20", "today"],
    "text": ["Acme Security", "ops@example.com", "+1 555 123 4567", "SO-123456", "goodwill", "Dana",
             "AUTH-2", "1Z999"],
    "type": ["standard", "counter", "otc", "advanced", "ar", "virtual", "AR", " Standard "],
    "item": ["CAM-1", "cam-1:2", "CAM-1:0", "CAM-1:10000", "PTZ-9", "PTZ-9:3", "REC-2", "NEW-MODEL",
             "CAM-1:x", ":1"],
    "serial": ["SN0001", "SN0005", "SN0009", "sn-0010", "CAM-1=SN0011", "PTZ-9=SN0012", "SN0",
               "S" * 32, "=SN0013"],
    "model": ["CAM-1", "PTZ-9", "cam-1", "REC-2", "NEW-7"],
    "status": ["authorized", "completed", "link-sent", "cancelled", "ticket-issued", "charged",
               "late-return"],
    "category": ["camera", "ptz", "specialty", "recorder", "other", "Camera"],
    "money": ["500", "1,299.00", "$1,299.00", "-5", "0", "0.5", "1,29", "$999,999,999.99",
              "$1,000,000,000.00"],
    "int": ["0", "7", "30", "3650", "3651", "-1"],
    "path": ["catalog.csv", "missing.csv", "out.csv", "new.csv", ".", "", "catalog.csv.bak",
             "returns.db", "copy.db"],
}
ALL_GOOD = sorted({v for values in GOOD.values() for v in values})

FLAG = None
OPTIONAL = "?"
COMMON = {"--json": FLAG}
EVENT = {"--on": "date", "--json": FLAG}
EXPORT = {"--from": "date", "--to": "date", "--output": "path", "-o": "path", "--force": FLAG,
          "--bom": FLAG}
OPEN_TEXT = {"--customer": "text", "--approved-by": "text", "--reason": "text", "--ticket": "text",
             "--distributor": "text"}

# command -> (positional kinds, options -> value kind or FLAG); OPTIONAL marks an optional
# positional.
COMMANDS: dict[tuple[str, ...], tuple[list[str], dict[str, str | None]]] = {
    ("policy",): ([OPTIONAL + "type"], COMMON),
    ("check",): ([], {"--type": "type", "-t": "type", "--item": "item", "-i": "item",
                      "--serial": "serial", "-s": "serial", **OPEN_TEXT, "--on": "date",
                      "--json": FLAG}),
    ("open",): ([], {"--type": "type", "-t": "type", "-c": "text", "--email": "text",
                     "--phone": "text", "--item": "item", "-i": "item", "--serial": "serial",
                     "-s": "serial", **OPEN_TEXT, "--note": "text", "--on": "date", "--yes": FLAG,
                     "-y": FLAG, "--json": FLAG}),
    ("serial", "add"): (["ra", "serial", OPTIONAL + "serial"], {"--model": "model", "-m": "model"}),
    ("serial", "remove"): (["ra", "serial"], {}),
    ("serial", "find"): (["serial"], COMMON),
    ("show",): (["ra"], {"--notice": "text", "--json": FLAG}),
    ("list",): ([], {"--type": "type", "-t": "type", "--status": "status", "--customer": "text",
                     "-c": "text", "--all": FLAG, "-a": FLAG, "--json": FLAG, "--csv": FLAG}),
    ("link",): (["ra"], EVENT),
    ("hold",): (["ra"], {"--ref": "text", "--expires": "date", **EVENT}),
    ("ship",): (["ra"], {"--tracking": "text", **EVENT}),
    ("deliver",): (["ra"], EVENT),
    ("unit-shipped",): (["ra"], {"--tracking": "text", **EVENT}),
    ("receive",): (["ra"], {"--yes": FLAG, **EVENT}),
    ("charge",): (["ra"], {"--reason": "text", "--yes": FLAG, **EVENT}),
    ("complete",): (["ra"], {"--note": "text", **EVENT}),
    ("cancel",): (["ra"], {"--reason": "text", "--yes": FLAG, **EVENT}),
    ("void",): (["ra"], {"--reason": "text", "--yes": FLAG, **EVENT}),
    ("edit",): (["ra"], {"--customer": "text", "-c": "text", "--email": "text", "--phone": "text",
                         "--distributor": "text", "--approved-by": "text", "--reason": "text",
                         "--json": FLAG}),
    ("note",): (["ra", "text"], {"--on": "date"}),
    ("overdue",): ([], {"--as-of": "date", "--within": "int", "--check": FLAG, "--json": FLAG,
                        "--csv": FLAG}),
    ("notify",): ([], {"--as-of": "date", "--dry-run": FLAG, "--outbox": "path", "--remind": "text",
                       "--json": FLAG}),
    ("export", "ledger"): ([], EXPORT),
    ("export", "returns"): ([], EXPORT),
    ("export", "holds"): ([], EXPORT),
    ("refund",): (["ra"], {"--ref": "text", "--amount": "money", "--reason": "text", "--yes": FLAG,
                           **EVENT}),
    ("report",): ([], {"--from": "date", "--to": "date", "--json": FLAG, "--csv": FLAG}),
    ("catalog", "add"): (["model"], {"--category": "category", "--list-price": "money",
                                     "--description": "text"}),
    ("catalog", "import"): (["path"], {}),
    ("catalog", "list"): ([], {"--json": FLAG, "--csv": FLAG}),
    ("backup",): (["path"], {"--force": FLAG}),
    ("doctor",): ([], COMMON),
}
GLOBAL_OPTIONS = ["--agent", "--version", "--help", "-h"]

# Junk: any unicode but what no shell can pass (NUL) or what would leave the test's folder
# (path separators, ~ for the home folder). Undecodable bytes have their own test below.
JUNK = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00/\\~"),
               max_size=24)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["9" * 400, "1e308", "-0", "nan", "inf", "99999999999999999999", "4294967296",
                     "1,000,000,000,000.00", "9999", "10000", "-1", "3650", "3651"]),
)
LONG = st.sampled_from(["x" * 2001, "\u00e9" * 5000, "A" * 65, "S" * 33, "2026-11-26" * 50])
ANY_VALUE = st.one_of(st.sampled_from(ALL_GOOD), JUNK, NUMBERS, LONG)


def value_of(kind: str):
    good = st.sampled_from(GOOD[kind])
    return st.one_of(good, good, good, JUNK, NUMBERS, LONG, st.sampled_from(ALL_GOOD))


def argv_for(path: tuple[str, ...]):
    """Mostly well-formed calls with hostile values in odd orders; sometimes a soup of tokens."""
    positionals, options = COMMANDS[path]
    names = list(options) + GLOBAL_OPTIONS + ["--help"]
    long_names = [o for o in options if o.startswith("--")] or ["--json"]
    soup_token = st.one_of(
        st.sampled_from(names), st.sampled_from(names), ANY_VALUE,
        st.builds(lambda o, v: f"{o}={v}", st.sampled_from(long_names), ANY_VALUE),
        st.builds(lambda t: "-" + t, JUNK), st.builds(lambda t: "--" + t, JUNK), st.just("--"),
    )

    @st.composite
    def option_unit(draw):
        name = draw(st.sampled_from(list(options)))
        kind = options[name]
        if kind is FLAG:
            return [name]
        value = draw(value_of(kind))
        if name.startswith("--") and draw(st.integers(0, 4)) == 0:
            return [f"{name}={value}"]
        return [name, value]

    @st.composite
    def well_formed(draw):
        units = []
        for kind in positionals:
            if kind.startswith(OPTIONAL):
                if draw(st.booleans()):
                    units.append([draw(value_of(kind[1:]))])
            else:
                units.append([draw(value_of(kind))])
        if options:
            units += draw(st.lists(option_unit(), max_size=7))
        if draw(st.integers(0, 5)) == 0:  # one token too many or too few
            if units and draw(st.booleans()):
                units.pop(draw(st.integers(0, len(units) - 1)))
            else:
                units.append([draw(ANY_VALUE)])
        units = draw(st.permutations(units))  # options before, between and after the arguments
        return [token for unit in units for token in unit]

    @st.composite
    def build(draw):
        before = draw(st.one_of(st.just([]), st.just([]), st.just([]),
                                st.tuples(st.just("--agent"), ANY_VALUE).map(list),
                                st.lists(soup_token, max_size=2)))
        args = [*before, path[0]]
        if len(path) == 2:
            args += draw(st.one_of(st.just([]), st.just([]), st.just([]),
                                   st.lists(soup_token, max_size=1)))
            args.append(path[1])
        args += draw(st.one_of(well_formed(), well_formed(), well_formed(),
                               st.lists(soup_token, max_size=9)))
        # never a database outside the test's folder
        return [a for a in args if not a.startswith("--db")]

    return build()


@contextmanager
def _fresh_folder(base: Path) -> Iterator[Path]:
    """A new empty folder, the working directory while in use (paths like `out.csv` land in it)."""
    folder = Path(tempfile.mkdtemp(dir=base))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(cwd)
        shutil.rmtree(folder, ignore_errors=True)


def _dump(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master "
                                             "WHERE type = 'table' ORDER BY name")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        conn.close()


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith("returns.db")}


def _explain(result, args) -> str:
    text = (f"args={args!r}\nexit={result.exit_code}\nstdout={result.stdout[-2000:]}\n"
            f"stderr={result.stderr[-2000:]}")
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-seed")
    db = folder / "returns.db"
    runner = CliRunner()
    for args in SEED:
        result = runner.invoke(app, list(args), env={**BASE_ENV, "SPECO_RETURNS_DB": str(db)})
        assert result.exit_code == 0, (args, result.output)
    assert not Path(f"{db}-wal").exists(), "the seed is closed and checkpointed before it is copied"
    return db


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_hostile_arguments_never_crash_and_a_refusal_writes_nothing(path, seed_db, tmp_path):
    runner = CliRunner()
    seed_dump = _dump(seed_db)
    codes: set[int] = set()

    @settings(max_examples=EXAMPLES_PER_COMMAND, deadline=None, database=None,
              derandomize=DERANDOMIZE,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example,
                                     HealthCheck.data_too_large])
    @given(args=argv_for(path))
    def run(args):
        with _fresh_folder(tmp_path) as here:
            folder = Path(here)
            db = folder / "returns.db"
            shutil.copyfile(seed_db, db)
            (folder / "catalog.csv").write_text(CATALOG_CSV, encoding="utf-8")
            (folder / "out.csv").write_text("already here\n", encoding="utf-8")
            files = _files(folder)

            result = runner.invoke(app, args, env={**BASE_ENV, "SPECO_RETURNS_DB": str(db)})

            why = _explain(result, args)
            assert result.exception is None or isinstance(result.exception, SystemExit), why
            assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, why
            assert result.exit_code in (0, 1, 2, 3), why
            if result.exit_code == 3:
                assert path == ("overdue",), why
            if result.exit_code != 0:
                assert _dump(db) == seed_dump, "a refused command changed the database\n" + why
                assert _files(folder) == files, "a refused command left files behind\n" + why
            codes.add(result.exit_code)

    run()
    assert codes - {0} or path in {("policy",), ("catalog", "list"), ("doctor",)}, (
        f"{path}: nothing was ever refused: {codes}")


# --- what a shell passes that is not UTF-8 ------------------------------------------------------
# A terminal set to Latin-1 sends b"caf\xe9"; Python hands it over as "caf\udce9"
# (surrogateescape). It must be refused like any bad input: exit 1 or 2, one clear line.

UNDECODABLE = "caf\udce9 \udcff"


@pytest.mark.parametrize(
    "args",
    [
        ["open", "--type", "standard", "--customer", UNDECODABLE, "--item", "CAM-1"],
        ["open", "--type", "standard", "--customer", "Acme", "--email", UNDECODABLE, "--item",
         "CAM-1"],
        ["open", "--type", "standard", "--customer", "Acme", "--item", f"CAM-{UNDECODABLE}"],
        ["check", "--type", "standard", "--item", "CAM-1", "--customer", UNDECODABLE],
        ["show", UNDECODABLE],
        ["list", "--customer", UNDECODABLE],
        ["note", "RA-000001", UNDECODABLE],
        ["hold", "RA-000004", "--ref", UNDECODABLE],
        ["cancel", "RA-000001", "--reason", UNDECODABLE],
        ["catalog", "add", "CAM-1", "--category", "camera", "--description", UNDECODABLE],
        ["--agent", UNDECODABLE, "note", "RA-000001", "hello"],
    ],
    ids=lambda args: " ".join(a for a in args if a.isprintable())[:40],
)
def test_undecodable_argument_bytes_are_refused_cleanly(args, seed_db, tmp_path):
    db = tmp_path / "returns.db"
    shutil.copyfile(seed_db, db)
    before = _dump(db)
    env = {**BASE_ENV, "SPECO_RETURNS_DB": str(db)}
    runner = CliRunner()
    result = runner.invoke(app, args, env=env)
    why = _explain(result, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), why
    assert result.exit_code in (0, 1, 2), why
    assert "Traceback" not in result.stdout + result.stderr, why
    if result.exit_code != 0:
        assert _dump(db) == before, why
    # Whatever was accepted can still be read back: nothing stored poisons a later command.
    for later in (*(["show", ra, *fmt]
                    for ra in ("RA-000001", "RA-000002", "RA-000003", "TCK-100", "RA-000004")
                    for fmt in ([], ["--json"])),
                  ["list", "--all", "--json"], ["catalog", "list"], ["export", "returns"],
                  ["export", "ledger"]):
        after = runner.invoke(app, later, env=env)
        assert after.exit_code == 0 and after.exception is None, (
            f"after {args!r}:\n" + _explain(after, later))


@pytest.mark.slow
def test_undecodable_bytes_from_a_real_shell_give_one_line_not_a_traceback(seed_db, tmp_path):
    db = tmp_path / "returns.db"
    shutil.copyfile(seed_db, db)
    env = {**BASE_ENV, "SPECO_RETURNS_DB": str(db), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    args = [sys.executable.encode(), b"-m", b"speco_returns", b"open", b"--type", b"standard",
            b"--customer", b"caf\xe9", b"--item", b"CAM-1"]
    done = subprocess.run(args, env=env, capture_output=True, timeout=60)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stderr
    assert _dump(db) == _dump(seed_db)


# --- an export onto a folder ----------------------------------------------------------------------


@pytest.mark.parametrize("target", [".", "existing-folder"])
def test_export_onto_an_existing_folder_is_refused_cleanly(target, seed_db, tmp_path):
    runner = CliRunner()
    with _fresh_folder(tmp_path) as here:
        folder = Path(here)
        (folder / "existing-folder").mkdir()
        db = folder / "returns.db"
        shutil.copyfile(seed_db, db)
        before = _files(folder)
        args = ["export", "ledger", "--output", target, "--force"]
        result = runner.invoke(app, args, env={**BASE_ENV, "SPECO_RETURNS_DB": str(db)})
        why = _explain(result, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), why
        assert result.exit_code == 1, why
        assert len(result.stderr.splitlines()) == 1, why
        assert _files(folder) == before, "the temporary file was left behind\n" + why
        assert (folder / "existing-folder").is_dir()
