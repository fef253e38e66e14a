"""The console script builds only the command being run: it must behave as the whole app."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from speco_returns.cli.edge import REGISTRY
from speco_returns.cli.root import COMMAND_MODULES, build, command_name, full_app

app = full_app()
TOP_LEVEL = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]


@pytest.mark.parametrize(
    "argv,name",
    [
        (["show", "RA-1"], "show"),
        (["--db", "x.db", "show", "RA-1"], "show"),
        (["--db=x.db", "--agent", "ann", "catalog", "list"], "catalog"),
        (["--agent=ann", "overdue", "--check"], "overdue"),
        (["--help"], None),
        (["--version"], None),
        (["--db"], None),
        ([], None),
    ],
)
def test_command_name_skips_global_options(argv, name):
    assert command_name(argv) == name


def test_each_command_is_found_in_the_module_that_registers_it():
    """run() imports only COMMAND_MODULES[name]: it must be the module holding that command."""
    assert sorted(COMMAND_MODULES) == sorted(TOP_LEVEL)
    for group, name, fn, _ in REGISTRY:
        assert fn.__module__ == f"speco_returns.cli.{COMMAND_MODULES[group or name]}", (group, name)


def test_help_lists_the_commands_in_one_order_whichever_module_loads_first():
    """The order of --help (and docs/commands.md, generated from it) is COMMAND_MODULES', not
    the order in which imports happened to register the commands."""
    code = ("import sys, speco_returns.cli.{first}; from speco_returns.cli.root import build; "
            "app = build(); print(' '.join(c.name for c in app.registered_commands))")
    orders = {tuple(subprocess.run([sys.executable, "-c", code.format(first=first)],
                                   capture_output=True, text=True, check=True).stdout.split())
              for first in ("nightly", "admin", "returns")}
    expected = tuple(name for name in COMMAND_MODULES
                     if name in {c.name for c in app.registered_commands})
    assert orders == {expected}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_slim_app_help_matches_the_whole_app(name):
    runner = CliRunner()
    whole = runner.invoke(app, [name, "--help"])
    slim = runner.invoke(build([name]), [name, "--help"])
    assert whole.exit_code == slim.exit_code == 0
    assert slim.stdout == whole.stdout


@pytest.mark.slow
def test_console_entry_point_runs_a_command(tmp_path):
    env = {"SPECO_RETURNS_DB": str(tmp_path / "r.db"), "PATH": "/usr/bin:/bin",
           "SPECO_RETURNS_AGENT": "t"}
    done = subprocess.run([sys.executable, "-m", "speco_returns", "policy", "virtual", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"VR-3"' in done.stdout
    bad = subprocess.run([sys.executable, "-m", "speco_returns", "no-such-command"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
