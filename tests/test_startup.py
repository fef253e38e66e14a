"""What a single command imports: no pydantic on dispatch (typer < 0.29), no rich on the JSON and
CSV paths, no PostgreSQL driver on SQLite's path (its import costs every start about 100 ms)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from shellhelpers import env_for, run

pytestmark = pytest.mark.slow  # real processes: CONTRIBUTING.md

WATCHED = ("rich", "pydantic", "typer", "psycopg", "psycopg_binary", "hashlib", "csv", "tempfile",
           "email", "fpdf", "barcode", "segno", "PIL", "fontTools", "speco_returns")
PROBE = f"""
import json, sys
WATCHED = {WATCHED!r}
sys.argv = ["speco-returns", *json.loads(sys.argv[1])]
from speco_returns.cli import run
try:
    run()
except SystemExit:
    pass
sys.stderr.write(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in WATCHED)))
"""


def modules_of(tmp_path, *args: str) -> set[str]:
    """Every module of WATCHED's packages the command imported, by its full name."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))],
                          capture_output=True, text=True, env=env_for(tmp_path), timeout=120)
    return set(json.loads(done.stderr.splitlines()[-1]))


def loaded(tmp_path, *args: str) -> set[str]:
    return {m.split(".")[0] for m in modules_of(tmp_path, *args)}


@pytest.fixture
def one_return(tmp_path):
    assert run(tmp_path, "open", "--type", "standard", "--customer", "Acme", "--item",
               "C1").returncode == 0
    return tmp_path


@pytest.mark.parametrize("args", [("show", "RA-000001", "--json"), ("list", "--json"),
                                  ("list", "--csv"), ("overdue", "--csv"), ("export", "returns")])
def test_json_and_csv_commands_import_neither_rich_nor_pydantic(one_return, args):
    modules = loaded(one_return, *args)
    assert "typer" in modules  # the probe did dispatch
    assert "rich" not in modules and "pydantic" not in modules, modules


def test_show_loads_only_what_a_read_needs(one_return):
    """`show` is what an agent runs most: it hashes nothing (the chain is a write's), writes
    no CSV or whole file and sends no mail, so it does not pay for importing them."""
    for args in (("show", "RA-000001", "--json"), ("show", "RA-000001")):
        modules = loaded(one_return, *args)
        assert "typer" in modules  # the probe did dispatch
        assert not modules & {"hashlib", "csv", "tempfile", "email"}, modules


# What writing needs and reading one return does not: the opening interview and the rules
# (cli/returns.py, services/returns.py, domain/rules.py), a return's life stepped and replayed and
# the 30-day clock (domain/lifecycle.py, domain/clock.py). Their dataclasses alone cost each
# start about 5 ms to create.
NOT_FOR_SHOW = {"speco_returns.cli.returns", "speco_returns.services.returns",
                "speco_returns.domain.rules", "speco_returns.domain.lifecycle",
                "speco_returns.domain.clock"}


def test_show_imports_nothing_of_writing(one_return):
    for args in (("show", "RA-000001", "--json"), ("show", "RA-000001")):
        modules = modules_of(one_return, *args)
        assert "speco_returns.cli.show" in modules  # the probe did dispatch
        assert not modules & NOT_FOR_SHOW, modules & NOT_FOR_SHOW


def test_human_output_still_uses_rich(one_return):
    assert "rich" in loaded(one_return, "show", "RA-000001")


@pytest.mark.parametrize("args", [("show", "RA-000001"), ("show", "RA-000001", "--json"),
                                  ("list",), ("overdue", "--json"), ("export", "returns"),
                                  ("report", "--json"), ("doctor", "--json"),
                                  ("note", "RA-000001", "called")])
def test_sqlite_commands_never_import_the_server_driver(one_return, args):
    modules = loaded(one_return, *args)
    assert "typer" in modules  # the probe did dispatch
    assert not modules & {"psycopg", "psycopg_binary"}, modules


SLIP_LIBRARIES = {"fpdf", "barcode", "segno", "PIL", "fontTools"}


@pytest.mark.parametrize("args", [("show", "RA-000001"), ("show", "RA-000001", "--json"),
                                  ("list",), ("receive", "RA-000001"),
                                  ("show", "RA-000001", "--notice", "opened"),
                                  ("notify", "--dry-run"), ("policy",)])
def test_only_the_slip_imports_the_pdf_libraries(one_return, args):
    """fpdf2, python-barcode and segno cost about 0.25 s to import: `slip` and a notice that carries
    the slip pay it, nothing else (`notify --dry-run` without an outbox lists the opened notice,
    renders no slip)."""
    modules = loaded(one_return, *args)
    assert "typer" in modules
    expect_pdf = args[:4] == ("show", "RA-000001", "--notice", "opened")
    assert bool(modules & SLIP_LIBRARIES) == expect_pdf, modules


def test_the_slip_imports_them(one_return):
    assert {"fpdf", "barcode", "segno"} <= loaded(one_return, "slip", "RA-000001", "--output",
                                                  str(one_return / "RA-000001.pdf"))
    assert (one_return / "RA-000001.pdf").read_bytes().startswith(b"%PDF-")
