"""The command line: parse, call the store and the policy, render. Errors are caught here, once."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
import typing
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__, policy
from .completion import complete_category, complete_model, complete_ra, complete_status, complete_type
from .errors import DatabaseBusy, ReturnsError, Violation
from .helptext import EPILOG, ReturnsCommand, ReturnsGroup
from .store import Now, Store

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
app = typer.Typer(**APP_SETTINGS)
serial_app = typer.Typer(cls=ReturnsGroup, help="Record serial numbers and find the returns that hold one.", no_args_is_help=True)
catalog_app = typer.Typer(cls=ReturnsGroup, help="The product catalog: categories and list prices.", no_args_is_help=True)
export_app = typer.Typer(cls=ReturnsGroup, help="CSV for accounting (RFC 4180, UTF-8).", no_args_is_help=True)
app.add_typer(serial_app, name="serial")
app.add_typer(catalog_app, name="catalog")
app.add_typer(export_app, name="export")
admin_app = typer.Typer(help="A team's PostgreSQL server: roles for its logins, and moving a desk's SQLite file onto it.",
                        no_args_is_help=True)
app.add_typer(admin_app, name="admin")


# --- the edge: session, clock, errors, output ------------------------------------------


@dataclass
class Session:
    db_path: Path | str  # a file, or a PostgreSQL URL (dialect.is_url)
    agent: str
    _store: Store | None = None
    keep: bool = False  # `shell`: one session for every command it runs (a server: one connection too)
    _kept: Store | None = None

    @property
    def store(self) -> Store:
        """For a write: creates the database in an existing folder (the default one is made)."""
        return self._open(make_folder=self.db_path == _default_db())

    @property
    def reader(self) -> Store:
        """For a read: never creates a database; reads one this account cannot write."""
        return self._open(read=True)

    @property
    def existing(self) -> Store:
        """For a write about returns already there (`notify`): never creates a database."""
        return self._open(create=False)

    def _open(self, **how) -> Store:
        """The command's store, opened on first use (the shell keeps it for the next command)."""
        if self._store is None:
            self._store = Store(self.db_path, **how)
            if self.keep:
                self._kept = self._store
        return self._store

    pinned: date | None = None  # set once a write read a pinned today: the edge notes it

    def done(self) -> None:
        """After each command: close its connection, unless it is the one the shell keeps."""
        if self._store is not None and self._store is not self._kept:
            self._store.close()
        self._store = self._kept
        self.pinned = None  # noted after a success; a refusal prints only its error (the shell goes on)

    def today(self) -> date:
        """The one place the clock is read. SPECO_RETURNS_TODAY pins "today" (tests, back-filling)."""
        pinned = os.environ.get("SPECO_RETURNS_TODAY")
        return policy.parse_date(pinned) if pinned else date.today()

    def now(self) -> Now:
        """The clock for a write: a pinned today is noted on stderr once the write succeeds."""
        today = self.today()
        if os.environ.get("SPECO_RETURNS_TODAY"):
            self.pinned = today
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return Now(today=today, stamp=stamp, agent=self.store.login or self.agent)  # a server records its login


_current: Session | None = None  # set by the root callback for the command that follows


def _session() -> Session:
    assert _current is not None, "the root callback sets the session"
    return _current


def fail(problems: list[Violation]) -> None:
    """One line per problem on stderr, never wrapped; exit 1."""
    for p in problems:
        sys.stderr.write(f"error: {policy.visible(p.line())}\n")  # stored text may hold escapes
    raise typer.Exit(code=1)


def command(group: typer.Typer, name: str | None = None, **kwargs):
    """Register a command whose ReturnsError and database errors become one clear line."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            try:
                # Read on call, for the one command being run: at import, every command's
                # signature cost startup about 10 ms (the benchmark's SQLite start row).
                for name, label in _path_parameters(fn).items():  # before anything is opened, created or written
                    if kw.get(name) is not None:
                        policy.refuse_control(label, str(kw[name]))
                result = fn(*args, **kw)
                _note_pinned_today()
                return result
            except ReturnsError as e:
                fail(e.problems)
            except sqlite3.OperationalError as e:
                if "locked" in str(e) or "busy" in str(e):  # a read that waited past the timeout
                    fail(DatabaseBusy().problems)
                if "decode" in str(e) or "user-defined function raised" in str(e):  # text that is not UTF-8
                    fail([_damaged()])
                fail([Violation(None, f"database error: {e}")])
            except sqlite3.DatabaseError as e:
                if "malformed" in str(e) or "not a database" in str(e):
                    fail([_damaged()])
                fail([Violation(None, f"database error: {e} ({_session().db_path})")])
            except UnicodeDecodeError:  # text read back from the file: the file is damaged, not the input
                fail([_damaged()])
            except UnicodeError:  # the safety net behind policy.require_utf8
                fail([Violation(None, "an argument is not valid text (not UTF-8): retype it")])
            except OSError as e:  # a file we read or write: folder, permissions, disk full
                where = f" {e.filename}" if e.filename else ""
                fail([Violation(None, f"cannot use{where}: {e.strerror or e}")])
            except (KeyboardInterrupt, typer.Abort):  # Ctrl-C (or Ctrl-D at a prompt): nothing was written
                sys.stderr.write("\n")
                raise typer.Exit(code=130) from None
            finally:
                if _current is not None:
                    _current.done()

        group.command(name, **{"cls": ReturnsCommand, **kwargs})(wrapper)
        return fn

    return decorate


@functools.cache  # once per command, on its first call (a `shell` runs the same commands again and again)
def _path_parameters(fn) -> dict[str, str]:
    """{parameter: how a person wrote it} for every path the command takes (--output, PATH ...),
    read from its signature: a path option added later is checked at the edge without asking."""
    from typer.models import OptionInfo
    from typer.utils import get_params_from_function

    found = {}
    for name, param in get_params_from_function(fn).items():
        if param.annotation is not Path and Path not in typing.get_args(param.annotation):  # Path, Optional[Path]
            continue
        if isinstance(param.default, OptionInfo):
            found[name] = next((d for d in param.default.param_decls if d.startswith("--")), f"--{name}")
        else:
            found[name] = param.default.metavar or name.upper()
    return found


def _note_pinned_today() -> None:
    """A forgotten SPECO_RETURNS_TODAY silently dates every event: after each write it read,
    one `note:` line on stderr names the pinned date (a refusal prints only its error)."""
    if _current is not None and _current.pinned is not None:
        sys.stderr.write(f"note: SPECO_RETURNS_TODAY pins today to {_current.pinned} (unset it for the real date)\n")
        _current.pinned = None


def _damaged() -> Violation:
    return Violation(None, f"the database {_session().db_path} is damaged (unreadable text or pages): run "
                     "`speco-returns doctor`, and restore the latest `speco-returns backup` copy")


def _json(data) -> str:
    """json escapes C0 itself; every other control character (DEL, C1, format characters,
    U+2028/U+2029, already stored) is written as its JSON escape too, never raw."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if all(line.isprintable() for line in text.split("\n")):  # the indent's line breaks are the only C0 left
        return text
    return "".join(json.dumps(ch)[1:-1] if ch != "\n" and policy.is_control(ch) else ch for ch in text)


def emit_json(data) -> None:
    sys.stdout.write(_json(data) + "\n")


def emit_json_rows(rows) -> None:
    """A JSON list written row by row as it is read: the same bytes as emit_json(list(rows)),
    in flat memory (`list --all --json` at a million returns)."""
    out, first = sys.stdout, True
    for row in rows:
        out.write("[\n  " if first else ",\n  ")
        out.write(_json(row).replace("\n", "\n  "))  # strings hold no raw newline
        first = False
    out.write("[]\n" if first else "\n]\n")


def _out_format(as_json: bool, as_csv: bool = False) -> str:
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    return "json" if as_json else "csv" if as_csv else "human"


def _date(text: str | None, today: date) -> date:
    """An option's date, or today when the option is left out (an empty `--on ''` is refused)."""
    return today if text is None else policy.parse_date(text)


JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout (RFC 4180).")]
OnOpt = Annotated[Optional[str], typer.Option(
    "--on", help="The date it happened, YYYY-MM-DD or M/D/YYYY (default today; never in the future, never before the return's latest event).")]
RaArg = Annotated[str, typer.Argument(help="RA number (any letter case) or a counter return's ticket ID.",
                                      autocompletion=complete_ra)]
TERMINAL_ROWS = 50  # a page at a terminal; JSON, CSV and pipes get every row unless --limit says
LimitOpt = Annotated[Optional[int], typer.Option(
    "--limit", min=0, max=10**9,
    help=f"At most N rows, 0 for all. At a terminal {TERMINAL_ROWS} by default; JSON, CSV and pipes get every row unless given.")]


def _limit(limit: int | None, fmt: str) -> int | None:
    """The rows to show: --limit as given (0: all), else a page when a person reads a terminal."""
    if limit is not None:
        return limit or None
    return TERMINAL_ROWS if fmt == "human" and sys.stdout.isatty() else None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"speco-returns {__version__}")
        raise typer.Exit()


def _default_db() -> Path:
    return Path(typer.get_app_dir("speco-returns")) / "returns.db"


def _login() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"


@app.callback()
def main(
    ctx: typer.Context,
    # Text, not a Path: pathlib would turn postgresql://host/db into postgresql:/host/db.
    db: Annotated[Optional[str], typer.Option("--db", envvar="SPECO_RETURNS_DB", show_envvar=True,
                                              help="The database file (default: returns.db in the user's application folder), "
                                                   "or a PostgreSQL URL: postgresql://host/dbname or service=NAME.")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", envvar="SPECO_RETURNS_AGENT", show_envvar=True,
                                                 help="Who is recording (default: the login name).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Speco returns: open an RA, check it against the policy, move it through its life."""
    from . import dialect

    global _current
    if _current is not None and _current.keep:  # inside `shell`: its session (--db, --agent) stays
        return
    try:
        name = policy.clean_text("agent", agent if agent is not None else _login()) or "unknown"
        if db:  # before anything is opened or created: a file named with an escape, a URL with one
            source = ctx.get_parameter_source("db")
            label = "SPECO_RETURNS_DB" if source is not None and source.name == "ENVIRONMENT" else "--db"
            policy.refuse_control(label, db, shown=dialect.shown(db))
        # Named as the variable (parse_date would call it "date"), before a write creates the file.
        policy.refuse_control("SPECO_RETURNS_TODAY", os.environ.get("SPECO_RETURNS_TODAY") or "")
    except ReturnsError as e:
        fail(e.problems)
    _current = Session(db_path=_database(ctx, db), agent=name)


def _database(ctx: typer.Context, db: str | None) -> Path | str:
    from .dialect import has_password, is_url

    if not db:
        return _default_db()
    if not is_url(db):
        return Path(db).expanduser()
    source = ctx.get_parameter_source("db")
    if has_password(db) and source is not None and source.name == "COMMANDLINE":
        sys.stderr.write("warning: a password in --db is visible to every user of this machine (ps, shell history): "
                         "keep it in ~/.pgpass, a service file or PGPASSWORD\n")
    return db.strip()


# --- policy and check -----------------------------------------------------------------


@command(app, "policy")
def policy_cmd(
    return_type: Annotated[Optional[str], typer.Argument(metavar="TYPE", help="standard, counter (otc), advanced (ar) or virtual; all when left out.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The return types, their rules and the next steps, as an agent reads them.

    Example: speco-returns policy advanced
    """
    types = [policy.parse_type(return_type)] if return_type else list(policy.TYPES)
    if as_json:
        emit_json([{"type": t, "title": policy.TYPE_TITLES[t],
                    "rules": [{"rule": r, "text": policy.RULE_TEXT[r]} for r in policy.RULES[t]],
                    "next_steps": policy.NEXT_STEPS[t]} for t in types])
        return
    from . import render

    render.policy_view(types)


TypeOpt = Annotated[Optional[str], typer.Option("--type", "-t", help="standard, counter (otc), advanced (ar) or virtual.",
                                                autocompletion=complete_type)]
ItemOpt = Annotated[Optional[list[str]], typer.Option("--item", "-i", help="MODEL or MODEL:QTY; repeat for several models.",
                                                      autocompletion=complete_model)]
SerialOpt = Annotated[Optional[list[str]], typer.Option("--serial", "-s", help="A serial number, or MODEL=SERIAL when the RA has several models; repeat per unit.")]
ApproverOpt = Annotated[Optional[str], typer.Option("--approved-by", help="Virtual: the supervisor who approved it (VR-1).")]
ReasonOpt = Annotated[Optional[str], typer.Option("--reason", help="Virtual: why it was approved (VR-1).")]
TicketOpt = Annotated[Optional[str], typer.Option("--ticket", help="Counter: the Tech Ticket ID given to the customer (OTC-1).")]
DistributorOpt = Annotated[Optional[str], typer.Option("--distributor", help="Counter: the distributor the customer returns through (OTC-1).")]


_REFUSED = "(refused)"  # stands in for a given value that was refused, so no rule calls it missing


def _parse_request(type_: str | None, customer, items, serials, approved_by, reason, ticket, distributor,
                   ) -> tuple[policy.Request, list[Violation]]:
    """The request as far as it parses, and every input problem (not just the first)."""
    problems: list[Violation] = []

    def attempt(parse, *args, default=None):
        try:
            return parse(*args)
        except ReturnsError as e:
            problems.extend(e.problems)
            return default

    parsed_items = [it for it in (attempt(policy.parse_item, i) for i in items or []) if it]
    parsed_serials = [sr for sr in (attempt(policy.parse_serial_arg, x) for x in serials or []) if sr]
    req = policy.Request(
        type=(attempt(policy.parse_type, type_, default="") if type_ else ""),
        customer=attempt(policy.clean_text, "customer", customer, default=_REFUSED),
        items=tuple(attempt(policy.merge_items, parsed_items, default=[])),
        serials=tuple(parsed_serials),
        approved_by=attempt(policy.clean_text, "approver", approved_by, default=_REFUSED),
        reason=attempt(policy.clean_text, "reason", reason, default=_REFUSED),
        ticket=attempt(policy.parse_ticket, ticket, default=_REFUSED) if ticket and ticket.strip() else None,
        distributor=attempt(policy.clean_text, "distributor", distributor, default=_REFUSED),
    )
    return req, problems


def _request(type_: str | None, customer, items, serials, approved_by, reason, ticket, distributor) -> policy.Request:
    req, problems = _parse_request(type_, customer, items, serials, approved_by, reason, ticket, distributor)
    if problems:
        raise ReturnsError(*problems)
    return req


@command(app, "check")
def check_cmd(
    return_type: TypeOpt = None,
    item: ItemOpt = None,
    serial: SerialOpt = None,
    approved_by: ApproverOpt = None,
    reason: ReasonOpt = None,
    customer: Annotated[Optional[str], typer.Option("--customer", help="Virtual: warn when this customer's recent virtual returns pass 3 units (VR-2).")] = None,
    ticket: TicketOpt = None,
    distributor: DistributorOpt = None,
    on: Annotated[Optional[str], typer.Option("--on", help="The day to check as of (default today).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Eligibility only, writes nothing: exit 0 eligible, 1 not, with every broken rule.

    Example: speco-returns check --type virtual --item O4B3:2 --serial SN-1001 --serial SN-1002 --approved-by "Dana Lee" --reason "install deadline"
    """
    session = _session()
    problems = []
    if not return_type:
        problems.append(Violation(None, "missing --type: standard, counter (otc), advanced (ar) or virtual"))
    if not item:
        problems.append(Violation(None, "missing --item: at least one MODEL[:QTY]"))
    req, bad_input = _parse_request(return_type, customer, item, serial, approved_by, reason, ticket, distributor)
    problems += bad_input
    try:
        day = _date(on, session.today())
    except ReturnsError as e:
        problems += e.problems
        day = None
    try:
        store = session.reader  # never creates one: a missing database is a problem like the others
    except ReturnsError as e:
        problems += e.problems
        store = None
    if problems and not as_json:
        fail(problems)
    # With --json every problem, of input or of a rule, is a violation (rule null where none applies).
    result = store.check(req, day) if store and req.type and day else policy.CheckResult([], [], {})
    result.violations[:0] = problems
    if as_json:
        emit_json({"eligible": result.eligible, "violations": [v.as_json() for v in result.violations],
                   "warnings": [w.as_json() for w in result.warnings]})
    else:
        from . import render

        render.check_view(result)
    if not result.eligible:
        raise typer.Exit(code=1)


# --- open -------------------------------------------------------------------------------


def _interactive(as_json: bool) -> bool:
    """Ask only a person at a terminal; never a pipe, a cron job or a script asking for JSON."""
    if as_json or not sys.stdin.isatty():
        return False
    from .prompts import line_editing

    line_editing()
    return True


@command(app, "open")
def open_cmd(
    return_type: TypeOpt = None,
    customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="The customer's name (or company).")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="The customer's email.")] = None,
    phone: Annotated[Optional[str], typer.Option("--phone", help="The customer's phone number.")] = None,
    item: ItemOpt = None,
    serial: SerialOpt = None,
    ticket: TicketOpt = None,
    distributor: DistributorOpt = None,
    approved_by: ApproverOpt = None,
    reason: ReasonOpt = None,
    note: Annotated[Optional[str], typer.Option("--note", help="A note for the history.")] = None,
    on: Annotated[Optional[str], typer.Option("--on", help="The day the return was opened (default today; never in the future).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check, then record the return; print its RA number (counter: its ticket ID) and the next steps.

    Example: speco-returns open --type standard --customer "Acme Security" --phone 555-0100 --item O4B3 --serial SN-1001
    """
    session = _session()
    now = session.now()
    day = _date(on, now.today)
    policy.check_event_date(day, now.today, policy.MIN_DATE)  # before any question is asked
    contact = {"email": policy.parse_email(email), "phone": policy.clean_text("phone", phone)}
    note = policy.clean_text("note", note)
    req = _request(return_type, customer, item, serial, approved_by, reason, ticket, distributor)
    interactive = _interactive(as_json)
    missing = ([Violation(None, "missing --type: standard, counter (otc), advanced (ar) or virtual")]
               if not req.type else []) + policy.missing_fields(req)
    store = session.store
    if not interactive:  # never asks: what is missing and what the rules refuse, in one error
        if missing and req.type and req.items:
            missing += store.check(req, day, missing_reported=True).violations
        if missing:
            fail(missing)
    confirmed_hold = None
    if interactive and (missing or not yes):
        from . import prompts

        def lookup(r: policy.Request) -> policy.Facts:
            return store.facts(r, day)

        req, contact = prompts.fill(req, contact, lookup, ask_contact=not yes)
        while not yes:  # show what breaks before asking; open_return checks again
            result = store.check(req, day)
            if result.violations:
                raise ReturnsError(*result.violations)
            from . import render

            render.warnings(result.warnings)
            if prompts.confirm(prompts.summary(req, contact, result.hold_amount), default=True):
                confirmed_hold = result.hold_amount
                break
            req, contact = prompts.change_one(req, contact, lookup)
    key, warnings = store.open_return(req, contact, note, day, now, expect_hold=confirmed_hold)
    doc = store.get(key)
    doc["warnings"] = [w.as_json() for w in warnings] + doc["warnings"]
    if as_json:
        emit_json(doc)
        return
    from . import render

    render.return_view(doc, opened=True)


# --- finding returns ----------------------------------------------------------------------


@command(app, "show")
def show_cmd(
    ra: RaArg,
    notice: Annotated[Optional[str], typer.Option("--notice", metavar="KIND", help="Print this e-mail notice as it would be sent: "
                                                  "opened, shipped, delivered, reminder, overdue or hold-expiring.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One return: items, serials, money, timeline, due date and the next step.

    Example: speco-returns show RA-000001
    """
    if notice is not None:
        _show_notice(ra, notice, as_json)
        return
    doc = _session().reader.get(ra)
    if as_json:
        emit_json(doc)
        return
    from . import render

    render.return_view(doc)


LIST_COLUMNS = ["ra", "type", "status", "customer", "opened_on"]


@command(app, "list")
def list_cmd(
    return_type: Annotated[Optional[str], typer.Option("--type", "-t", help="Only this type.", autocompletion=complete_type)] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="Only this state (closed states included).",
                                                  autocompletion=complete_status)] = None,
    customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="Customer name contains this text (any case).")] = None,
    include_all: Annotated[bool, typer.Option("--all", "-a", help="Closed returns too.")] = False,
    search: Annotated[Optional[str], typer.Option(
        "--search", help="The start of a customer, e-mail, phone, ticket, tracking number, hold reference or serial (any case).")] = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Open returns, newest first (--all for closed ones too).

    Example: speco-returns list --search 555-01 --all
    """
    fmt = _out_format(as_json, as_csv)
    type_ = policy.parse_type(return_type) if return_type else None
    if status is not None:
        known = {s for t in policy.TYPES for s in policy.states(t)}
        if status.strip().lower() not in known:
            raise ReturnsError(f"unknown status '{policy.quote(status)}': one of {', '.join(sorted(known))}")
        status = status.strip().lower()
    customer = policy.clean_text("customer", customer)  # bounded, plain text, like the name it looks for
    store = _session().reader
    filters = (type_, status, customer, include_all, search)
    shown = _limit(limit, fmt)
    rows = store.list_returns(*filters, limit=shown)
    if fmt != "human":  # streamed as SQLite reads them
        _listing(fmt, rows, LIST_COLUMNS)
        return
    rows = list(rows)  # a page at a terminal; a pipe gets every row, as it always did
    total = len(rows) if shown is None or len(rows) < shown else store.count_returns(*filters)
    empty = None
    if fmt == "human" and not rows and not include_all and status is None:
        closed = store.count_returns(*filters, closed_only=True)
        if closed:
            empty = f"No open returns; {closed:,} closed: add --all."
    _listing(fmt, rows, LIST_COLUMNS, total=total, empty=empty)


def _listing(fmt: str, rows, columns: list[str], title: str | None = None, *, total: int | None = None,
             empty: str | None = None, more: str = "--csv for a file") -> None:
    if fmt == "json":
        emit_json_rows(rows)
    elif fmt == "csv":
        from .export import write_dicts

        write_dicts(sys.stdout, columns, rows)
    else:
        from . import render

        rows = list(rows)
        render.returns_table(rows, title, empty=empty)
        render.shown(len(rows), total, more)


@command(serial_app, "add")
def serial_add(
    ra: RaArg,
    serials: Annotated[list[str], typer.Argument(help="SERIAL or MODEL=SERIAL, one per unit.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="The model these serials belong to (RAs with several models).")] = None,
) -> None:
    """Record serial numbers on an open return.

    Example: speco-returns serial add RA-000005 O4B3=SN-5009
    """
    parsed = [policy.parse_serial_arg(s) for s in serials]
    if model:
        m = policy.normalize_model(model)
        parsed = [(given or m, s) for given, s in parsed]
    session = _session()
    key = session.store.add_serials(ra, parsed, session.now())
    typer.echo(f"{policy.visible(key)}: added {', '.join(s for _, s in parsed)}")


@command(serial_app, "remove")
def serial_remove(ra: RaArg, serial: Annotated[str, typer.Argument(help="The serial to take off the return.")]) -> None:
    """Take a serial number off an open return (to correct a typo).

    Example: speco-returns serial remove RA-000005 SN-5009
    """
    session = _session()
    s = policy.parse_serial(serial)
    key = session.store.remove_serial(ra, s, session.now())
    typer.echo(f"{policy.visible(key)}: removed {s}")


@command(serial_app, "find")
def serial_find(serial: Annotated[str, typer.Argument(help="The serial number.")], limit: LimitOpt = None,
                as_json: JsonOpt = False) -> None:
    """Every return, open or closed, that holds this serial.

    Example: speco-returns serial find SN-3001
    """
    fmt = "json" if as_json else "human"
    rows = _session().reader.find_serial(policy.parse_serial(serial))
    shown = _limit(limit, fmt)
    _listing(fmt, rows[:shown], LIST_COLUMNS + ["model"], f"Serial {policy.parse_serial(serial)}", total=len(rows),
             more="--json for all of them")


# --- events (SPEC §3) -------------------------------------------------------------------


# Events that move money or end a return: at a terminal they show the RA, the customer and
# the money, and ask (`--yes` skips); without a terminal they never ask (SPEC §4, issue 13).
MONEY_MOMENTS = ("receive", "charge", "cancel", "refund")
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm (at a terminal).")]


def _record(ra: str, event: str, on: str | None, as_json: bool, yes: bool = False, **detail) -> None:
    from . import history

    session = _session()
    now = session.now()
    day = _date(on, now.today)
    store = session.store
    if event in MONEY_MOMENTS and _interactive(as_json) and not yes:
        key, r, moves = store.preview(ra, event, day, **detail)
        if event != "receive" or r["type"] == "advanced":
            from .prompts import confirm_moment

            confirm_moment(key, r["customer"], [f"{event} on {day}: {history.describe(moves)}"], f"Record {event}?")
    key, moves = store.record(ra, event, day, now, **detail)
    doc = store.get(key)
    if as_json:
        emit_json(doc)
    else:
        money = f"; {history.describe(moves)}" if moves or event in MONEY_MOMENTS else ""
        typer.echo(f"{policy.visible(key)}: {event} on {day}: now {doc['status']}{money}. Next: {doc['next_step']}")


@command(app, "link")
def link_cmd(ra: RaArg, on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Advanced: the e-biz link was sent to the customer (AR-2).

    Example: speco-returns link RA-000003
    """
    _record(ra, "link", on, as_json)


@command(app, "hold")
def hold_cmd(
    ra: RaArg,
    ref: Annotated[str, typer.Option("--ref", help="The payment processor's reference for the hold (never a card number).")],
    expires: Annotated[Optional[str], typer.Option("--expires", help="The day the authorization lapses (may be in the future).")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Advanced: the card hold was authorized; run again to re-authorize (AR-2, AR-3).

    Example: speco-returns hold RA-000003 --ref AUTH-88231 --expires 2026-11-09
    """
    reference = policy.parse_hold_ref(ref)
    expiry = policy.parse_date(expires) if expires is not None else None
    _record(ra, "hold", on, as_json, ref=reference, expires=expiry)


@command(app, "ship")
def ship_cmd(ra: RaArg, tracking: Annotated[Optional[str], typer.Option("--tracking", help="The carrier's tracking number.")] = None,
             on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Speco shipped the repaired or replacement unit (STD-1, AR-2, VR-5).

    Example: speco-returns ship RA-000003 --tracking 1Z999AA10123456786
    """
    _record(ra, "ship", on, as_json, tracking=_tracking(tracking))


@command(app, "deliver")
def deliver_cmd(ra: RaArg, on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Advanced: the customer received the replacement; the 30-day clock starts (AR-4).

    Example: speco-returns deliver RA-000003 --on 2026-11-02
    """
    _record(ra, "deliver", on, as_json)


@command(app, "unit-shipped")
def unit_shipped_cmd(ra: RaArg, tracking: Annotated[Optional[str], typer.Option("--tracking", help="The carrier's tracking number.")] = None,
                     on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """The customer shipped the defective unit to Speco.

    Example: speco-returns unit-shipped RA-000001 --tracking 1Z999AA10123456784
    """
    _record(ra, "unit-shipped", on, as_json, tracking=_tracking(tracking))


@command(app, "receive")
def receive_cmd(ra: RaArg, on: OnOpt = None, yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Speco received the customer's unit (advanced: completes the return and releases the hold).

    Example: speco-returns receive RA-000001
    """
    _record(ra, "receive", on, as_json, yes)


@command(app, "charge")
def charge_cmd(
    ra: RaArg,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Who decided and why (required for a lost parcel: sent back, stalled past its due date).")] = None,
    on: OnOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Advanced: charge the card the hold amount; only once the unit is overdue, or lost in transit with --reason (AR-4).

    Example: speco-returns charge RA-000004
    """
    _record(ra, "charge", on, as_json, yes, reason=policy.clean_text("reason", reason))


@command(app, "refund")
def refund_cmd(
    ra: RaArg,
    ref: Annotated[str, typer.Option("--ref", help="The payment processor's reference for the refund.")],
    amount: Annotated[Optional[str], typer.Option("--amount", help="How much to refund (default: all that was charged; never more).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why: the supervisor's decision, for the history and the ledger.")] = None,
    on: OnOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Late return: a supervisor refunds the charge (a `refunded` ledger row); the return is completed.

    Example: speco-returns refund RA-000004 --ref RF-20261203-1 --reason "K. Alvarez: unit works, refund in full"
    """
    reference = policy.parse_hold_ref(ref, "refund reference")
    cents = policy.parse_money(amount) if amount is not None else None
    _record(ra, "refund", on, as_json, yes, ref=reference, amount=cents, reason=policy.clean_text("reason", reason))


@command(app, "complete")
def complete_cmd(
    ra: RaArg,
    note: Annotated[Optional[str], typer.Option("--note", help="The outcome (a late return: who let the charge stand, and why).")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counter: the distributor handled it. Late return: the charge stands and writes no ledger row.

    Example: speco-returns complete TT-55012 --note "distributor credited the customer"
    """
    _record(ra, "complete", on, as_json, note=policy.clean_text("note", note))


@command(app, "cancel")
def cancel_cmd(ra: RaArg, reason: Annotated[str, typer.Option("--reason", help="Why the return is cancelled.")],
               on: OnOpt = None, yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Cancel a return that has not shipped (an authorized hold is released).

    Example: speco-returns cancel RA-000006 --reason "customer found the cable was loose"
    """
    _record(ra, "cancel", on, as_json, yes, reason=_reason(reason, "the return is cancelled"))


@command(app, "void")
def void_cmd(
    ra: RaArg,
    reason: Annotated[str, typer.Option("--reason", help="Why the event is undone (kept in the history).")],
    on: Annotated[Optional[str], typer.Option("--on", help="The day of the void (default today; not before the event it undoes).")] = None,
    ref: Annotated[Optional[str], typer.Option("--ref", help="A charge only: the processor's reference for its reversal (a charge is voided only with it).")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Undo the latest event of a return (a slip): its state and money go back; the history keeps both.

    Example: speco-returns void RA-000006 --reason "receive was typed on the wrong RA"
    """
    from . import history

    text = _reason(reason, "the event is voided")
    reference = policy.parse_hold_ref(ref, "reversal reference") if ref is not None else None
    session = _session()
    now = session.now()
    day = _date(on, now.today)
    store = session.store
    expect = None
    if _interactive(as_json) and not yes:
        key, r, plan = store.plan_void(ra, day, reference)
        target = plan.voidable
        from .prompts import confirm_moment

        confirm_moment(key, r["customer"], [
            f"void: undoes {target['event']} of {target['happened_on']} ({r['status']} -> {plan.life.status})",
            f"money: {history.describe(plan.undo)}",
        ], f"Void {target['event']}?")
        expect = target["id"]
    key, plan = store.void(ra, text, day, now, expect_event=expect, ref=reference)
    doc = store.get(key)
    if as_json:
        emit_json(doc)
    else:
        target = plan.voidable
        typer.echo(policy.visible(f"{key}: voided {target['event']} of {target['happened_on']}: now {doc['status']}; "
                                  f"{history.describe(plan.undo)}. Next: {doc['next_step']}"))


@command(app, "edit")
def edit_cmd(
    ra: RaArg,
    customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="The customer's name (or company).")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="The customer's email ('' clears it).")] = None,
    phone: Annotated[Optional[str], typer.Option("--phone", help="The customer's phone number ('' clears it).")] = None,
    distributor: Annotated[Optional[str], typer.Option("--distributor", help="Counter: the distributor (OTC-1).")] = None,
    approved_by: Annotated[Optional[str], typer.Option("--approved-by", help="Virtual: the approving supervisor (VR-1).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Virtual: why it was approved (VR-1).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a return's contact and approval fields; the history keeps old → new.

    Example: speco-returns edit RA-000004 --email dan@example.com --phone 555-0199
    """
    given = {"customer": customer, "email": email, "phone": phone, "distributor": distributor,
             "approved_by": approved_by, "reason": reason}
    fields = {name: (policy.parse_email(value) if name == "email" else policy.clean_text(name.replace("_", " "), value))
              for name, value in given.items() if value is not None}
    if not fields:
        raise ReturnsError("nothing to edit: give --customer, --email, --phone, --distributor, --approved-by or --reason")
    session = _session()
    key, changed = session.store.edit(ra, fields, session.now())
    if as_json:
        emit_json(session.store.get(key))
    elif changed:
        typer.echo(policy.visible(f"{key}: " + "; ".join(f"{name.replace('_', ' ')} {old or '(none)'} → {new or '(none)'}"
                                                         for name, old, new in changed)))  # old: stored, may hold escapes
    else:
        typer.echo(f"{policy.visible(key)}: nothing changed")


@command(app, "note")
def note_cmd(ra: RaArg, text: Annotated[str, typer.Argument(help="The note.")], on: OnOpt = None) -> None:
    """Add a note to a return's history.

    Example: speco-returns note RA-000004 "left voicemail about the late unit"
    """
    session = _session()
    now = session.now()
    body = policy.clean_text("note", text)
    if not body:
        raise ReturnsError("the note is empty")
    key = session.store.note(ra, body, _date(on, now.today), now)
    typer.echo(f"{policy.visible(key)}: note added")


def _reason(text: str, why: str) -> str:
    reason = policy.clean_text("reason", text)
    if not reason:
        raise ReturnsError(f"--reason is empty: say why {why}")
    return reason


def _tracking(text: str | None) -> str | None:
    """Tracking numbers are exempt from the card check (SPEC §6) but kept tidy."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    policy.require_utf8("tracking number", value)
    if len(value) > 64 or not value.isprintable():
        raise ReturnsError("tracking number is not valid: at most 64 printable characters")
    return value


# --- the nightly check ---------------------------------------------------------------------

OVERDUE_COLUMNS = ["ra", "customer", "state", "delivered_on", "due_on", "days_overdue", "hold_amount",
                   "email", "phone", "shipped_on", "unit_shipped_on", "hold_expires", "unit_tracking"]


@command(app, "overdue")
def overdue_cmd(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Report as of this day (default today; may be past or future).")] = None,
    within: Annotated[Optional[int], typer.Option("--within", min=0, max=3650, help="Also list returns due within this many days (due-soon).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 3 when a return is overdue (for cron).")] = False,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Advanced replacements overdue, due soon, with unknown delivery, stalled, or with a lapsing hold.

    Example: speco-returns overdue --as-of 2026-12-02 --within 3
    """
    fmt = _out_format(as_json, as_csv)
    session = _session()
    day = _date(as_of, session.today())
    rows = session.reader.overdue(day, within)
    shown = _limit(limit, fmt)
    if fmt == "json":
        emit_json(rows[:shown])
    elif fmt == "csv":
        from .export import write_dicts

        write_dicts(sys.stdout, OVERDUE_COLUMNS, rows[:shown])
    else:
        from . import render

        render.overdue_table(rows, day, shown)
    if check and any(r["state"] == "overdue" for r in rows):
        raise typer.Exit(code=3)


# --- customer notices ------------------------------------------------------------------------


def _mail_settings():
    from . import mailer

    return mailer.settings_from(os.environ)


def _show_notice(ra: str, kind: str, as_json: bool) -> None:
    from . import notify

    session = _session()
    store = session.reader  # a read: never creates a database (the clock below asks the store for its login)
    msg = notify.preview(store, ra, kind, session.now(), _mail_settings())
    if as_json:
        emit_json({"ra": msg["X-Speco-Return"], "kind": kind.strip().lower(), "from": msg["From"] and str(msg["From"]),
                   "to": msg["To"] and str(msg["To"]), "subject": str(msg["Subject"]), "body": msg.get_content()})
        return
    for header in ("From", "To", "Subject", "Date"):
        if msg[header]:
            sys.stdout.write(f"{header}: {policy.visible(str(msg[header]))}\n")
    sys.stdout.write("\n" + "\n".join(policy.visible(line) for line in msg.get_content().split("\n")))


@command(app, "notify")
def notify_cmd(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Send what is due as of this day (default today; a later day only with --dry-run).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; send and record nothing.")] = False,
    outbox: Annotated[Optional[Path], typer.Option("--outbox", help="Write each message as FOLDER/NAME.eml instead of sending it.")] = None,
    remind: Annotated[str, typer.Option("--remind", envvar="SPECO_RETURNS_REMIND", show_envvar=True,
                                        help="Reminders: days before the due date, comma-separated.")] = "7,2",
    as_json: JsonOpt = False,
) -> None:
    """E-mail customers every notice due (opened, shipped, delivered, reminder, overdue, hold-expiring), each once.

    Example: speco-returns notify --dry-run
    """
    from . import mailer, notices, notify

    session = _session()
    store = session.reader if dry_run else session.existing  # neither creates a database (SPEC §4)
    now = session.now()
    day = _date(as_of, now.today)
    if day > now.today and not dry_run:
        raise ReturnsError(f"--as-of {day} is in the future: notices go out on their day (preview with --dry-run)")
    days = notices.parse_remind(remind)
    settings = _mail_settings()
    transport = None
    if outbox is not None or not dry_run:
        if settings.sender is None:
            raise ReturnsError("SPECO_RETURNS_MAIL_FROM is not set: the address notices come from, like returns@example.com")
        if outbox is not None:
            transport = mailer.Outbox(outbox)
        elif settings.url is None:
            raise ReturnsError("SPECO_RETURNS_SMTP is not set: smtp://user@host:587 (or --outbox FOLDER, or --dry-run)")
        else:
            transport = mailer.Smtp(settings)
    from . import render

    mode = "quiet" if as_json else "terminal" if sys.stdout.isatty() else "lines"
    stamp = f"{now.stamp} as-of {day}" if mode == "lines" else ""  # a week of `>> notify.log` reads by run
    try:
        with render.notify_progress(mode, stamp) as (on_total, on_progress):
            outcomes = notify.run(store, settings, transport, now, day, days, dry_run,
                                  on_progress=on_progress, on_total=on_total)
    finally:
        if transport is not None:
            transport.close()
    counts = notify.summary(outcomes)
    if as_json:
        emit_json({"as_of": day.isoformat(), "dry_run": dry_run, "remind": list(days),
                   "notices": [dict(vars(o), label=o.label) for o in outcomes], "summary": counts})
    else:
        render.notify_report(outcomes, counts, at_terminal=mode == "terminal", stamp=stamp)
    failed: dict[str, list] = {}  # one line per cause: a server that is down is one line, not one per notice
    for o in outcomes:
        if o.status == "failed":
            failed.setdefault(o.error, []).append(o)
    for error, group in failed.items():
        if len(group) == 1:
            sys.stderr.write(policy.visible(f"error: {group[0].ra} {group[0].label} to {group[0].to}: {error} (tried again on the next run)") + "\n")
        else:
            names = ", ".join(f"{o.ra} {o.label}" for o in group[:3]) + (", ..." if len(group) > 3 else "")
            sys.stderr.write(policy.visible(f"error: {error}: {len(group)} notices not sent ({names}); tried again on the next run") + "\n")
    if failed:
        raise typer.Exit(code=4)


# --- accounting -----------------------------------------------------------------------------

FromOpt = Annotated[Optional[str], typer.Option("--from", help="First day, inclusive (default: the beginning).")]
ToOpt = Annotated[Optional[str], typer.Option("--to", help="Last day, inclusive (default: no end).")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (complete or not at all) instead of stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")]
BomOpt = Annotated[bool, typer.Option("--bom", help="Start with a UTF-8 byte-order mark (for spreadsheets that need it).")]


def _period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    first = policy.parse_date(start) if start is not None else None
    last = policy.parse_date(end) if end is not None else None
    if first and last and first > last:
        raise ReturnsError(f"--from {first} is after --to {last}")
    return first, last


def _export(kind: str, start: str | None, end: str | None, output: Path | None, force: bool, bom: bool) -> None:
    from . import export

    first, last = _period(start, end)
    store = _session().reader
    header, rows = {"ledger": (export.LEDGER_COLUMNS, store.ledger_rows),
                    "holds": (export.HOLDS_COLUMNS, store.holds_rows),
                    "returns": (export.RETURNS_COLUMNS, store.return_rows)}[kind]
    rows = rows(first, last)
    with export.output(output, force=force, bom=bom, protected=[store.path]) as stream:
        count = export.write_csv(stream, header, rows)
    if output:
        sys.stderr.write(f"wrote {count} row(s) to {policy.visible(str(output))}\n")


@command(export_app, "ledger")
def export_ledger(start: FromOpt = None, end: ToOpt = None, output: OutputOpt = None, force: ForceOpt = False,
                  bom: BomOpt = False) -> None:
    """Money movements dated in the range: holds authorized and released, charges, refunds.

    Example: speco-returns export ledger --from 2026-11-01 --to 2026-11-30 --output ledger-2026-11.csv
    """
    _export("ledger", start, end, output, force, bom)


@command(export_app, "holds")
def export_holds(start: FromOpt = None, end: ToOpt = None, output: OutputOpt = None, force: ForceOpt = False,
                 bom: BomOpt = False) -> None:
    """One row per card hold authorized, settled or refunded in the range, as of its end: match by hold_ref.

    Example: speco-returns export holds --from 2026-11-01 --to 2026-11-30 --output holds-2026-11.csv
    """
    _export("holds", start, end, output, force, bom)


@command(app, "report")
def report_cmd(
    start: Annotated[Optional[str], typer.Option("--from", help="First day, inclusive (default: the first of this month).")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last day, inclusive (default: today).")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """A period's holds and charges, balanced to the cent: opening + authorized - released - charged = closing.

    Example: speco-returns report --from 2026-11-01 --to 2026-11-30
    """
    from . import report

    fmt = _out_format(as_json, as_csv)
    session = _session()
    first, last = _period(start, end)
    last = last or session.today()  # default: this month to date (--to alone: its month to that day)
    first = first or last.replace(day=1)
    if first > last:
        raise ReturnsError(f"--from {first} is after --to {last}")
    doc = report.build(session.reader, first, last)
    if fmt == "json":
        emit_json(doc)
    elif fmt == "csv":
        from .export import write_dicts

        write_dicts(sys.stdout, report.CSV_COLUMNS, report.csv_rows(doc))
    else:
        report.view(doc)


@command(export_app, "returns")
def export_returns(start: FromOpt = None, end: ToOpt = None, output: OutputOpt = None, force: ForceOpt = False,
                   bom: BomOpt = False) -> None:
    """One row per item of every return opened in the range.

    Example: speco-returns export returns --from 2026-11-01 --to 2026-11-30 --output returns-2026-11.csv --bom
    """
    _export("returns", start, end, output, force, bom)


# --- catalog --------------------------------------------------------------------------------


@command(catalog_app, "add")
def catalog_add(
    model: Annotated[str, typer.Argument(help="The model name (stored upper-case).")],
    category: Annotated[str, typer.Option("--category", help="camera, ptz, specialty, recorder or other.",
                                          autocompletion=complete_category)],
    list_price: Annotated[Optional[str], typer.Option("--list-price", help="The non-discounted list price: 1299, 1,299.00 or $1,299.00.")] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="What the model is.")] = None,
) -> None:
    """Add a model, or update it (opened returns keep their snapshot).

    Example: speco-returns catalog add O4B3 --category camera --list-price 249.99 --description "4MP bullet"
    """
    from .catalog import product as make_product

    session = _session()
    product = make_product(model, category, list_price, description)
    session.store.upsert_products([product], session.now())
    typer.echo(f"{product.model}: {product.category}, list price {policy.format_usd(product.list_price) or 'none'}")


@command(catalog_app, "import")
def catalog_import(file: Annotated[Path, typer.Argument(help="CSV with header model,category,list_price[,description].")]) -> None:
    """Add or update models from a CSV file; the whole file is checked before anything is written.

    Example: speco-returns catalog import models.csv
    """
    from .catalog import read_csv

    products = read_csv(file)
    session = _session()
    count = session.store.upsert_products(products, session.now())
    typer.echo(f"imported {count} model(s)")


@command(catalog_app, "list")
def catalog_list(limit: LimitOpt = None, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """The catalog: model, category, list price.

    Example: speco-returns catalog list --csv
    """
    fmt = _out_format(as_json, as_csv)
    rows = [{"model": r["model"], "category": r["category"],
             "list_price": None if r["list_price_cents"] is None else policy.format_amount(r["list_price_cents"]),
             "description": r["description"], "updated_at": r["updated_at"]}
            for r in _session().reader.products()]
    shown = _limit(limit, fmt)
    if fmt == "json":
        emit_json(rows[:shown])
    elif fmt == "csv":
        from .export import write_dicts

        write_dicts(sys.stdout, ["model", "category", "list_price", "description"], rows[:shown])
    else:
        from . import render

        render.catalog_table(rows[:shown])
        render.shown(len(rows[:shown]), len(rows), "--csv for a file")


# --- data safety ------------------------------------------------------------------------------


@command(app, "backup")
def backup_cmd(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """A consistent copy of the database, safe while others keep writing.

    Example: speco-returns backup /backups/returns-2026-11-26.db
    """
    from . import admin

    size = admin.backup(_session().reader, path, force=force)
    typer.echo(f"backed up to {policy.visible(str(path))} ({size:,} bytes, quick check ok)")


@command(app, "doctor")
def doctor_cmd(as_json: JsonOpt = False) -> None:
    """Check the database: integrity, foreign keys, schema, sizes, counts, local disk. Exit 1 when something is wrong.

    Example: speco-returns doctor
    """
    from . import admin

    session = _session()
    session._store = Store(session.db_path, migrate=False, diagnose=True)  # diagnose as it is: do not migrate
    progress = _progress() if sys.stderr.isatty() else None
    report = admin.doctor(session._store, progress=progress)
    if progress:
        sys.stderr.write("\r\x1b[K")  # the progress line gives way to the report
    if as_json:
        emit_json(report)
    else:
        from . import render

        render.doctor_view(report)
    for problem in report["problems"]:
        sys.stderr.write(f"error: {policy.visible(problem)}\n")  # names stored text: a tampered row may hold escapes
    if not report["ok"]:
        raise typer.Exit(code=1)


def _progress():
    """At a terminal, doctor says what it is checking (at a million returns it takes a while)."""
    def show(stage: str, done: int, total: int) -> None:
        count = f" {done:,} of {total:,}" if total else ""
        sys.stderr.write(f"\r\x1b[Kdoctor: {stage}{count}...")
        sys.stderr.flush()

    return show


# --- a team's server (README "A team on one server") -------------------------------------------


@command(admin_app, "roles")
def admin_roles_cmd(
    apply: Annotated[bool, typer.Option("--apply", help="Run it on the --db server, as the database's owner.")] = False,
) -> None:
    """The SQL for the team's roles: speco_agent, speco_supervisor (charge, refund, void, virtual approval), speco_accounting (read and export).

    Example: speco-returns admin roles --apply
    """
    from . import roles
    from .dialect import is_url

    if not apply:
        sys.stdout.write(roles.script())
        return
    session = _session()
    if not is_url(session.db_path):
        raise ReturnsError("roles are a server's: give --db a PostgreSQL URL (without --apply the SQL is printed)")
    roles.apply(session.store)
    typer.echo(f"roles {', '.join(roles.ROLES)} are set up; make each login a member of one (GRANT speco_agent TO ann)")


@command(admin_app, "copy")
def admin_copy_cmd(
    to: Annotated[str, typer.Option("--to", help="An empty PostgreSQL database: postgresql://host/dbname or service=NAME.")],
    as_json: JsonOpt = False,
) -> None:
    """Copy this SQLite database (--db) whole to an empty server database, then verify counts and checksums per table.

    Example: speco-returns admin copy --to service=speco
    """
    from . import dialect, move
    from .dialect import has_password, is_url

    policy.refuse_control("--to", to, shown=dialect.shown(to))  # a target URL, like --db (paths: `command`)
    if not is_url(to):
        raise ReturnsError("--to takes a PostgreSQL URL (postgresql://host/dbname or service=NAME)")
    if has_password(to):
        sys.stderr.write("warning: a password in --to is visible to every user of this machine (ps, shell history): "
                         "keep it in ~/.pgpass, a service file or PGPASSWORD\n")
    session = _session()
    if isinstance(session.db_path, Path) and not session.db_path.exists():
        raise ReturnsError(f"no database at {session.db_path}")
    if sys.stderr.isatty() and not as_json:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("copying"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True),
                      transient=True) as progress:
            task = progress.add_task("rows", total=None)
            found = move.copy(session.store, to, lambda n: progress.update(task, total=n),
                              lambda n: progress.update(task, advance=n))
    else:
        found = move.copy(session.store, to)
    if as_json:
        emit_json(found)
        return
    for table, seen in found.items():
        typer.echo(f"{table:<12} {seen['rows']:>11,} rows  checksum {seen['checksum'][:16]}  same on both")  # fits 80 columns
    typer.echo("copied and verified: point everyone's SPECO_RETURNS_DB at the server")


# --- a whole call in one process ------------------------------------------------------------


@app.command("shell")
def shell_cmd(
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Without a terminal: run every line, even after a failure.")] = False,
) -> None:
    """A whole call in one session: the same commands without the prefix, one process, one connection.

    Example: speco-returns shell
    """
    from .shell import run_shell

    raise typer.Exit(code=run_shell(app, _session(), keep_going=keep_going))


# --- the console script -------------------------------------------------------------------

_GLOBAL_WITH_VALUE = ("--db", "--agent")


def _command_name(argv: list[str]) -> str | None:
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


def slim_app(name: str) -> typer.Typer | None:
    """The app with only the named top-level command (or group), or None if there is none."""
    slim = typer.Typer(**APP_SETTINGS)
    slim.registered_callback = app.registered_callback
    slim.registered_commands = [c for c in app.registered_commands if c.name == name]
    slim.registered_groups = [g for g in app.registered_groups if g.name == name]
    return slim if slim.registered_commands or slim.registered_groups else None


def run() -> None:
    """Entry point. Typer turns every registered command into a click command on each start
    (about 10 ms for this app, measured by benchmarks/run.py), so build only the one being
    run; `--help`, `--version` and anything unexpected get the whole app."""
    name = _command_name(sys.argv[1:])
    target = (slim_app(name) if name else None) or app
    target(prog_name="speco-returns")
