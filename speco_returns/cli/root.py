"""The application: its root (the global options, which make the session in `ctx.obj`), its
command groups, and `run()`, the console script.

Typer turns every registered command into a click command on each start (about 10 ms for this
app), and importing every command's module costs more: `run()` imports only the module of the
command being run (COMMAND_MODULES) and builds an app holding it; `--help`, `--version`,
`shell` and anything unexpected get the whole app (`full_app`).

No `from __future__ import annotations` here (nor in show.py): Typer reads a command's
annotations on every start, and as strings it evaluated each several times (about 1.5 ms for
`show`); evaluated once at import they cost nothing more.
"""

import functools
import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..domain import inputs
from ..errors import ReturnsError
from .edge import REGISTRY, fail
from .helptext import EPILOG, ReturnsCommand, ReturnsGroup
from .session import Session, default_db

APP_SETTINGS = dict(
    name="speco-returns",
    help="Run Speco product returns from first call to closed case: standard, over the counter, "
    "advanced replacement and virtual.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion: bash, zsh, fish (completion.py)
    pretty_exceptions_show_locals=False,  # locals hold customer data
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=ReturnsGroup,
    epilog=EPILOG,
)
GROUPS = {
    "serial": "Record serial numbers and find the returns that hold one.",
    "catalog": "The product catalog: categories and list prices.",
    "export": "CSV for accounting (RFC 4180, UTF-8).",
    "admin": "A team's PostgreSQL server: roles for its logins, and moving a desk's SQLite file onto it.",
    "deliveries": "Carrier delivery reports: the 30-day clock from the carrier's date.",
    "report": "A period's holds and charges, balanced to the cent: opening + authorized - released - charged = closing "
              "(`report quality`: what a supervisor looks at).",
    "codes": "Fault and finding codes: the lists `open --fault` and `receive --finding` take (supervisors keep them).",
}
# The module (in this package) that holds each top-level command or group: tests/test_entrypoint.py
# keeps it equal to where the commands are registered.
COMMAND_MODULES = {
    "policy": "returns", "check": "returns", "open": "returns", "show": "show", "list": "listing",
    "serial": "returns",
    "link": "events", "hold": "events", "ship": "events", "deliver": "events", "unit-shipped": "events",
    "receive": "events", "charge": "events", "refund": "events", "complete": "events", "cancel": "events",
    "void": "events", "edit": "events", "note": "events",
    "overdue": "nightly", "notify": "nightly",
    "export": "accounting", "report": "accounting",
    "catalog": "catalog",
    "deliveries": "deliveries",
    "backup": "admin", "doctor": "admin", "admin": "admin",
    "shell": "shell",
    "slip": "slip",
    "codes": "codes", "finding": "codes",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"speco-returns {__version__}")
        raise typer.Exit()


def _login() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"


def main(
    ctx: typer.Context,
    # Text, not a Path: pathlib would turn postgresql://host/db into postgresql:/host/db.
    db: Annotated[Optional[str], typer.Option(
        "--db", envvar="SPECO_RETURNS_DB", show_envvar=True,
        help="The database file (default: returns.db in the user's application folder), "
             "or a PostgreSQL URL: postgresql://host/dbname or service=NAME.")] = None,
    agent: Annotated[Optional[str], typer.Option(
        "--agent", envvar="SPECO_RETURNS_AGENT", show_envvar=True,
        help="Who is recording (default: the login name).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Speco returns: open an RA, check it against the policy, move it through its life."""
    if isinstance(ctx.obj, Session):  # inside `shell`: its session (--db, --agent) stays
        return
    from ..db import urls

    try:
        name = inputs.clean_text("agent", agent if agent is not None else _login()) or "unknown"
        if db:  # before anything is opened or created: a file named with an escape, a URL with one
            source = ctx.get_parameter_source("db")
            label = "SPECO_RETURNS_DB" if source is not None and source.name == "ENVIRONMENT" else "--db"
            inputs.refuse_control(label, db, shown=urls.shown(db))
        # Named as the variable (parse_date would call it "date"), before a write creates the file.
        inputs.refuse_control("SPECO_RETURNS_TODAY", os.environ.get("SPECO_RETURNS_TODAY") or "")
    except ReturnsError as e:
        fail(e.problems)
    source = ctx.get_parameter_source("agent")
    ctx.obj = Session(db_path=_database(ctx, db), agent=name,
                      agent_given=source is not None and source.name == "COMMANDLINE")


def _database(ctx: typer.Context, db: str | None) -> Path | str:
    from ..db.urls import has_password, is_url

    if not db:
        return default_db()
    if not is_url(db):
        return Path(db).expanduser()
    source = ctx.get_parameter_source("db")
    if has_password(db) and source is not None and source.name == "COMMANDLINE":
        sys.stderr.write("warning: a password in --db is visible to every user of this machine (ps, shell history): "
                         "keep it in ~/.pgpass, a service file or PGPASSWORD\n")
    return db.strip()


def build(names: list[str] | None = None) -> typer.Typer:
    """An app holding the named top-level commands and groups (None: all of them)."""
    modules = dict.fromkeys(COMMAND_MODULES[n] for n in names) if names is not None else dict.fromkeys(
        COMMAND_MODULES.values())
    for module in modules:
        importlib.import_module(f"{__package__}.{module}")
    app = typer.Typer(**APP_SETTINGS)
    app.callback()(main)
    groups = {}
    callbacks = {group: (fn, kwargs) for group, name, fn, kwargs in REGISTRY if group and not name}
    for name, help_text in GROUPS.items():
        if names is None or name in names:
            # A group with a command of its own (`report`) runs it when no subcommand is named.
            # (its help is its own docstring, example and all)
            groups[name] = typer.Typer(cls=ReturnsGroup, help=inspect.getdoc(callbacks[name][0]) if name in callbacks else help_text,
                                       no_args_is_help=name not in callbacks,
                                       invoke_without_command=name in callbacks)
            if name in callbacks:
                fn, kwargs = callbacks[name]
                groups[name].callback(**kwargs)(fn)
            app.add_typer(groups[name], name=name)
    order = list(COMMAND_MODULES)  # --help lists commands in this order, whichever module loaded first
    for group, name, fn, kwargs in sorted(REGISTRY, key=lambda entry: order.index(entry[0] or entry[1])):
        top = group or name
        if names is not None and top not in names or group and not name:
            continue
        target = groups[group] if group else app
        target.command(name, **{"cls": ReturnsCommand, **kwargs})(fn)
    return app


@functools.cache
def full_app() -> typer.Typer:
    return build()


_GLOBAL_WITH_VALUE = ("--db", "--agent")


def command_name(argv: list[str]) -> str | None:
    """The command an argument list runs, skipping the global options; None when unsure."""
    args = iter(argv)
    for arg in args:
        if arg in _GLOBAL_WITH_VALUE:
            next(args, None)
        elif arg.startswith(tuple(f"{o}=" for o in _GLOBAL_WITH_VALUE)):
            continue
        else:
            return None if arg.startswith("-") else arg
    return None


def run() -> None:
    """Entry point: build only the command being run (`shell` runs every command: all of them)."""
    name = command_name(sys.argv[1:])
    target = build([name]) if name in COMMAND_MODULES and name != "shell" else full_app()
    target(prog_name="speco-returns")


def __getattr__(name: str):
    if name == "app":  # `from speco_returns.cli.root import app`: the whole app (tests, docs)
        return full_app()
    raise AttributeError(name)
