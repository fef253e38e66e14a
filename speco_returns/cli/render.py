"""Human output: rich tables and panels. Imported only by commands that print for people.

rich drops colour by itself when stdout is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..domain import inputs, states, wording
from ..domain import types as domain_types

if TYPE_CHECKING:
    from ..domain.rules import CheckResult

PIPE_WIDTH = 80


class _Console:
    """A console made when printing, so it sees the stdout of the moment (tests swap it).

    At a terminal rich fits the window; a pipe or a file gets COLUMNS or 80, as rich and the
    one-line messages assume without a terminal.
    """

    def print(self, *objects) -> None:
        width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or PIPE_WIDTH)
        _PlainConsole(highlight=False, markup=False, emoji=False, width=width).print(*objects)


class _PlainConsole(Console):
    """User text is never markup (`[/bold]`, `[link=...]`), never an emoji code, and its
    control characters are shown as escapes (`\\x1b`), never sent to the terminal. Every str
    a table or grid cell holds passes through here; `Text` we build uses `_user`."""

    def render_str(self, text: str, **kwargs) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(inputs.visible(text), **kwargs)


def _user(text: str) -> str:
    return inputs.visible(text)


console = _Console()


def _money(amount: str | None) -> str:
    return "" if amount is None else inputs.format_usd(inputs.parse_money(amount))


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left")
    return table


@dataclass(frozen=True)
class Col:
    header: str
    key: bool = False  # RA numbers, tickets, serials, dates, amounts, states: never cut, folded or wrapped
    justify: str = "left"
    spare: bool = False  # left out where the table would not fit with it (the JSON has it)


WORD_FOLD = 20  # a word longer than this (a long e-mail) may fold in a column that wraps, rather than stack the table


class Fitted:
    """A table that fits the width it is given, or says the same thing stacked.

    Key columns keep their values whole on one line; the others wrap between words and are
    never narrower than their longest word (up to WORD_FOLD). Where even that does not fit (a narrow terminal,
    or inside a panel), each row becomes a stacked block of `header: value` lines. The choice
    is made at render time, so it follows the space rich actually has (a panel's inside, a
    pipe's 80 or COLUMNS)."""

    def __init__(self, columns: list[Col], rows: list[list], title: str | None = None):
        self.columns = columns
        # A str cell is user text: shown with its control characters escaped (_user), never markup.
        self.rows = [[c if isinstance(c, Text) else Text(_user("" if c is None else str(c))) for c in row] for row in rows]
        self.title = title

    def minimum(self) -> int:
        """The narrowest the table can be drawn without cutting a key or folding a word (box SIMPLE_HEAD)."""
        widths = []
        for n, col in enumerate(self.columns):
            cells = [row[n].plain for row in self.rows]
            words = [line for c in cells for line in c.splitlines()] if col.key else [w for c in cells for w in c.split()]
            longest = max([cell_len(col.header), *(cell_len(w) for w in words)])
            widths.append(longest if col.key else min(longest, WORD_FOLD))
        return sum(w + 2 for w in widths) + len(widths) + 1  # cell padding, separators and edges

    def table(self) -> Table:
        table = Table(title=self.title, box=box.SIMPLE_HEAD, title_justify="left")
        for n, col in enumerate(self.columns):
            if col.key:
                width = max([cell_len(col.header), *(cell_len(row[n].plain) for row in self.rows)])
                table.add_column(col.header, justify=col.justify, no_wrap=True, min_width=width)
            else:
                table.add_column(col.header, justify=col.justify, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def stacked(self) -> Group:
        blocks: list = [Text(_user(self.title), style="bold")] if self.title else []
        for row in self.rows:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True, style="dim")
            grid.add_column(overflow="fold")
            for col, cell in zip(self.columns, row, strict=True):
                if cell.plain:
                    grid.add_row(col.header + ":", cell)
            blocks += [Text(""), grid]
        return Group(*blocks, Text(""))  # blank lines around, as the table has

    def _spared(self) -> Fitted | None:
        """The table without its spare columns, if it has any."""
        kept = [n for n, col in enumerate(self.columns) if not col.spare]
        if len(kept) == len(self.columns):
            return None
        return Fitted([self.columns[n] for n in kept], [[row[n] for n in kept] for row in self.rows], self.title)

    def _pick(self, console, width: int):
        if self.minimum() <= width:
            return self.table()
        spared = self._spared()
        if spared is not None and spared.minimum() <= width:
            return spared.table()
        # A pipe or a file keeps the table as it always was: scripts and `grep` read lines.
        return self.table() if not console.is_terminal else self.stacked()

    def __rich_console__(self, console, options):
        yield self._pick(console, options.max_width)

    def __rich_measure__(self, console, options) -> Measurement:
        return Measurement.get(console, options, self._pick(console, options.max_width))


def shown(count: int, total: int | None, more: str) -> None:
    """The footer of a list cut to a page: how many of how many, and how to get the rest."""
    if total is not None and count < total:
        console.print(Text(f"{count:,} of {total:,} shown: --limit 0 for all, {more}", style="dim"))


def policy_view(types: list[str]) -> None:
    for t in types:
        rules = Table.grid(padding=(0, 2))
        for rule in wording.RULES[t]:
            rules.add_row(Text(rule, style="bold"), wording.RULE_TEXT[rule])
        steps = Text("\n".join(f"{n}. {s}" for n, s in enumerate(wording.NEXT_STEPS[t], 1)))
        aliases = [a for a, full in domain_types.ALIASES.items() if full == t]
        name = t + (f" (alias {', '.join(aliases)})" if aliases else "")
        slip = Text("\n".join(f"{n}. {s}" for n, s in enumerate(wording.slip_steps(t), 1)))
        console.print(Panel(Group(rules, Text("\nNext steps", style="bold"), steps,
                                  Text("\nOn the RA slip (the customer reads)", style="bold"), slip),
                            title=f"{domain_types.TYPE_TITLES[t]}: {name}", title_align="left", expand=False))


def check_view(result: CheckResult) -> None:
    if result.eligible:
        console.print(Text("Eligible: no rule is broken.", style="bold green"))
    else:
        table = _table("rule", "why not", title="Not eligible")
        for v in result.violations:
            table.add_row(v.rule or "", v.message)
        console.print(table)
    warnings(result.warnings)


def warnings(items: list) -> None:
    for w in items:
        rule = w.rule if hasattr(w, "rule") else w["rule"]
        message = w.message if hasattr(w, "message") else w["message"]
        console.print(Text(f"Warning {rule}: {_user(message)}", style="yellow"))


def _event_detail(e: dict) -> str:
    if e.get("changes"):  # an `edit`: old → new per field
        return "; ".join(f"{c['field'].replace('_', ' ')}: {c['from'] or '(none)'} → {c['to'] or '(none)'}" for c in e["changes"])
    return "; ".join(f"{k}: {v}" for k, v in e.items() if k not in ("event", "on", "agent", "recorded_at", "status", "changes"))


def return_view(doc: dict, *, opened: bool = False) -> None:
    if opened:
        label = "Ticket" if doc["type"] == "counter" else "RA number"
        console.print(Text(f"{label}: {_user(doc['ra'])}", style="bold reverse"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")  # a long e-mail folds rather than lose its end
    facts.add_row("type", domain_types.TYPE_TITLES[doc["type"]])
    facts.add_row("status", Text(doc["status"], style="bold"))
    for key in ("customer", "email", "phone", "contact_note", "ticket", "distributor", "approved_by", "reason", "opened_on"):
        if doc.get(key):
            facts.add_row(key.replace("_", " "), doc[key])
    if doc.get("fault"):
        facts.add_row("fault", doc["fault"])
    if doc.get("finding"):
        facts.add_row("finding", f"{doc['finding']} (on {doc['finding_on']})")
    if doc["hold_amount"] is not None:
        hold = _money(doc["hold_amount"])
        if doc["hold_ref"]:
            hold += f"  (ref {doc['hold_ref']}, {doc['hold_state']}"
            if doc["hold_expires"]:
                lapsed = doc["hold_state"] == "lapsed"
                hold += f" {doc['hold_expires']}" if lapsed else f", expires {doc['hold_expires']}"
                hold += " (estimated)" if doc["hold_expires_estimated"] else ""
            consent = doc.get("hold_consent")
            hold += f"; consent {consent} of {doc['hold_consent_on']})" if consent else ")"
        facts.add_row("card hold", hold)
    if doc["due_on"]:
        facts.add_row("unit due back by", Text(doc["due_on"], style="bold"))
    items = Fitted([Col("model", KEY), Col("category"), Col("qty", KEY, "right"), Col("list price", KEY, "right"),
                    Col("serials")],
                   [[i["model"], i["category"] or "", str(i["qty"]), _money(i["list_price"]), ", ".join(i["serials"])]
                    for i in doc["items"]])
    history = Fitted([Col("on", KEY), Col("event", KEY), Col("status", KEY), Col("agent"), Col("detail")],
                     [[e["on"], e["event"], e["status"], e["agent"], _event_detail(e)] for e in doc["events"]], "History")
    parts = [facts, items, Text(f"Next: {doc['next_step']}", style="bold")]
    if opened:
        steps = wording.NEXT_STEPS[doc["type"]]
        parts.append(Text("\nTell the customer:\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))))
    console.print(Panel(Group(*parts), title=Text(_user(doc["ra"])), title_align="left", expand=False))
    console.print(history)  # outside the panel: the timeline gets the terminal's whole width
    warnings(doc["warnings"])


KEY = True
_RETURN_COLUMNS = {"ra": Col("ra", KEY), "type": Col("type", KEY), "status": Col("status", KEY), "customer": Col("customer"),
                   "opened_on": Col("opened_on", KEY), "age_days": Col("age", KEY, "right"), "model": Col("model", KEY),
                   "fault": Col("fault", KEY, spare=True),
                   "finding": Col("finding", KEY, spare=True),
                   "hold_state": Col("hold", KEY, spare=True)}
_SOMETIMES = ("fault", "finding", "hold_state")  # shown where a row has one (a card hold)


def _listed(r: dict, column: str):
    """A listed return's cell: an open return's due date under its state (the widest column
    already), the age as days."""
    if column == "status" and r.get("due_on") and states.is_open(r["status"]):
        return Text(r["status"]) + Text(f"\ndue {r['due_on']}", style="bold")
    if column == "age_days":
        return f"{r['age_days']:,}d"
    return r[column]


def returns_table(rows: list[dict], title: str | None = None, *, empty: str | None = None) -> None:
    if not rows:
        console.print(Text(empty or "No returns."))
        return
    columns = [c for c in _RETURN_COLUMNS if c in rows[0] and (c not in _SOMETIMES or any(r[c] for r in rows))]
    console.print(Fitted([_RETURN_COLUMNS[c] for c in columns], [[_listed(r, c) for c in columns] for r in rows], title))


def _days(n: int) -> str:
    return f"{n} day" + ("" if n == 1 else "s")


def overdue_fact(r: dict, as_of: date) -> str:
    """What an agent needs to act on the row: the dates (and tracking) its state is about."""
    state = r["state"]
    if state == "overdue":
        return f"due {r['due_on']}, {_days(r['days_overdue'])} late"
    if state == "due-soon":
        left = (date.fromisoformat(r["due_on"]) - as_of).days
        return f"due {r['due_on']}, " + ("today" if left == 0 else f"in {_days(left)}")
    if state == "delivery-unknown":
        return f"shipped {r['shipped_on']}, {_days((as_of - date.fromisoformat(r['shipped_on'])).days)} ago, no delivery recorded"
    if state == "return-stalled":
        since = _days((as_of - date.fromisoformat(r["unit_shipped_on"])).days)
        return f"unit shipped {r['unit_shipped_on']} ({since} ago), tracking {r.get('unit_tracking') or 'not recorded'}"
    if state == "carrier-exception":
        return f"carrier: {r['carrier_exception']} (see `show`)"
    if state == "charge-declined":
        return f"charge declined {r['declined_on']}: a supervisor decides"
    if state == "hold-lapsed":
        return f"hold lapsed {r['hold_expires']}: a charge now is a new charge on the card, at risk"
    return f"hold expires {r['hold_expires']}" + (f": {r['action']}" if r.get("action") else "")


def overdue_table(rows: list[dict], as_of: date, limit: int | None = None) -> None:
    if not rows:
        console.print(Text(f"Nothing overdue as of {as_of}."))
        return
    from ..domain.clock import OVERDUE_STATES

    # People read the worst first: overdue rows most overdue first (JSON/CSV keep SPEC order).
    ordered = sorted(rows, key=lambda r: (OVERDUE_STATES.index(r["state"]), -(r["days_overdue"] or 0)))[:limit]
    cells = []
    for r in ordered:
        contact = " ".join(x for x in (r["email"], r["phone"]) if x) or "no e-mail or phone recorded"
        style = "bold red" if r["state"] == "overdue" else None
        hold = f"; hold {_money(r['hold_amount'])}" if r["hold_amount"] else ""
        cells.append([r["ra"], Text(r["state"], style=style), Text(_user(r["customer"])) + Text("\n" + _user(contact), style="dim"),
                      overdue_fact(r, as_of) + hold])
    # Amounts and dates sit inside the wrapping "what" column as words, and words never fold:
    # so the table fits 80 columns, and below that it stacks.
    columns = [Col("ra", KEY), Col("state", KEY), Col("customer, contact"), Col("what")]
    console.print(Fitted(columns, cells, f"Returns to chase as of {as_of}"))
    shown(len(ordered), len(rows), "--csv for a file")


def catalog_table(rows: list[dict]) -> None:
    if not rows:
        console.print(Text("The catalog is empty: add models with `catalog add` or `catalog import`."))
        return
    columns = [Col("model", KEY), Col("category", KEY), Col("list price", KEY, "right"), Col("description"), Col("updated", KEY)]
    console.print(Fitted(columns, [[r["model"], r["category"], _money(r["list_price"]), r["description"] or "", r["updated_at"]]
                                   for r in rows]))


def doctor_view(report: dict) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_row("database", report["database"])
    if "server_version" in report:  # a PostgreSQL server checks its own pages and keys
        grid.add_row("server", f"PostgreSQL {report['server_version']}")
    else:
        grid.add_row("filesystem", report["filesystem"] or "unknown")
        grid.add_row("size", f"{report['database_bytes']:,} bytes (+ {report['wal_bytes']:,} in the WAL)")
        grid.add_row("integrity", str(report["integrity"]))
        grid.add_row("foreign keys", "ok" if not report["foreign_key_violations"] else f"{report['foreign_key_violations']} violation(s)")
    grid.add_row("schema", f"version {report['schema_version']}, {report['pending_migrations']} migration(s) pending (applied on next use)")
    for key, count in report["returns_by_type_and_status"].items():
        grid.add_row("", f"{key}: {count:,}")
    if "disagreements" in report:
        found = sum(len(v) for v in report["chain_breaks"].values()) + len(report["ra_gaps"]) + len(report["disagreements"])
        history = "chains, triggers, RA numbers and every return's replay ok" if not found and report["triggers"] == "ok" \
            else "tampering or damage found (see the errors below)"
        grid.add_row("history", history)
    for warning in report["warnings"]:
        grid.add_row(Text("warning", style="yellow"), warning)
    verdict = Text("healthy", style="bold green") if report["ok"] else Text("problems found", style="bold red")
    console.print(Panel(Group(grid, verdict), title="doctor", title_align="left", expand=False))


# --- notify ------------------------------------------------------------------------------------


@contextmanager
def notify_progress(mode: str, stamp: str = ""):
    """(on_total, on_progress) for `notify`: a progress bar at a terminal, a line per notice
    in a log (cron), each starting with `stamp` (the run's time and as-of day), nothing under --json."""
    if mode == "terminal":
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        # The description holds a counter return's ticket, which a person typed: never markup.
        with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                      console=Console(highlight=False), transient=True) as progress:
            task = progress.add_task("notices", total=None)
            yield ((lambda total: progress.update(task, total=total)),
                   (lambda o: progress.update(task, advance=1, description=f"{_user(o.ra)} {o.label}")))
    elif mode == "lines":
        yield (lambda total: None), (lambda o: notice_line(o, stamp))
    else:
        yield (lambda total: None), (lambda o: None)


def notice_line(o, stamp: str = "") -> None:
    """One plain line per notice as it goes (no-email ones are listed at the end), then what
    the team does about it where the notice promises something (Outcome.action, wording.action)."""
    if o.status != "no-email":
        parts = [stamp, f"{o.status:<10}", _user(o.ra), o.label, _user(o.to or ""), o.message_id or "",
                 o.action or ""]
        sys.stdout.write("  ".join(p for p in parts if p) + "\n")
        sys.stdout.flush()


NOTIFY_SUMMARY = {"sent": "sent", "written": "written", "would-send": "would send", "skipped": "skipped",
                  "failed": "failed", "no-email": "no e-mail"}


def notify_report(outcomes: list, counts: dict, *, at_terminal: bool, stamp: str = "") -> None:
    """At a terminal: tables. In a log: plain lines, each starting with `stamp` (docs/admin.md "The nightly job")."""
    call = [o for o in outcomes if o.status == "no-email"]
    if at_terminal:
        mailed = [o for o in outcomes if o.status != "no-email"]
        if mailed:
            table = _table(title="Notices")
            for name in ("status", "ra", "notice"):  # never cut: what an agent looks for
                table.add_column(name, no_wrap=True)
            table.add_column("to", overflow="fold")
            wide = Console().width >= 120  # the subject only where it fits beside the rest
            if wide:
                table.add_column("subject", ratio=1, min_width=16)
            for o in mailed:
                style = "bold red" if o.status == "failed" else None
                table.add_row(Text(o.status, style=style), o.ra, o.label, Text(_user(o.to or "")), *([Text(_user(o.subject))] if wide else []))
            console.print(table)
        if call:
            table = _table(title="Call the customer (no e-mail on file)")
            table.add_column("ra", no_wrap=True)
            table.add_column("customer")
            table.add_column("phone", overflow="fold")
            table.add_column("notice", no_wrap=True)
            for o in call:
                table.add_row(o.ra, Text(_user(o.customer)), Text(_user(o.phone or "no phone either")), o.label)
            console.print(table)
        todo = [o for o in outcomes if o.action and o.status != "failed"]
        if todo:
            table = _table(title="For the team")
            table.add_column("ra", no_wrap=True)
            table.add_column("to do")
            for o in todo:
                table.add_row(o.ra, o.action)
            console.print(table)
        summary = _table(*(NOTIFY_SUMMARY[s] for s in counts if counts[s] or s in ("sent", "skipped", "failed", "no-email")),
                         title="Summary")
        summary.add_row(*(str(counts[s]) for s in counts if counts[s] or s in ("sent", "skipped", "failed", "no-email")))
        console.print(summary if outcomes else Text("No notice is due."))
        return
    lead = f"{stamp}  " if stamp else ""
    if call:
        sys.stdout.write(f"{lead}Call the customer (no e-mail on file):\n")
        for o in call:
            action = f"  {o.action}" if o.action else ""
            sys.stdout.write(f"{lead}  {_user(o.ra)}  {o.label}  {_user(o.customer)}  {_user(o.phone or 'no phone either')}{action}\n")
    sys.stdout.write(lead + (", ".join(f"{counts[s]} {NOTIFY_SUMMARY[s]}" for s in counts if counts[s]) if outcomes
                             else "No notice is due.") + "\n")


def report_view(doc: dict) -> None:
    """A rich table at a terminal (plain text in a pipe)."""
    from decimal import Decimal

    from rich.text import Text

    money = _table("", "count", "amount", title=f"Holds and charges, {doc['from']} to {doc['to']} (USD)")
    money.columns[1].justify = money.columns[2].justify = "right"

    def line(label: str, count: object, amount: str, bold: bool = False) -> None:
        style = "bold" if bold else None
        money.add_row(Text(label, style=style), str(count), Text(inputs.format_usd(int(Decimal(amount) * 100)), style=style))

    line("opening holds", doc["opening_holds"]["count"], doc["opening_holds"]["amount"], True)
    line("  + authorized", doc["authorized"]["count"], doc["authorized"]["amount"])
    line("  - released", doc["released"]["count"], doc["released"]["amount"])
    line("  - charged", doc["charged"]["count"], doc["charged"]["amount"])
    line("  - lapsed", doc["lapsed"]["count"], doc["lapsed"]["amount"])
    line("closing holds", doc["closing_holds"]["count"], doc["closing_holds"]["amount"], True)
    money.add_section()
    kept = doc["money_kept"]
    line("money kept, opening", "", kept["opening"], True)
    line("  + charged", doc["charged"]["count"], doc["charged"]["amount"])
    line("  - refunds paid", doc["refunded"]["count"], doc["refunded"]["amount"])
    line("money kept, closing", "", kept["closing"], True)
    money.add_section()
    line(f"charges in review on {doc['to']}", doc["in_review"]["count"], doc["in_review"]["amount"])
    line(f"overdue on {doc['overdue']['as_of']}", doc["overdue"]["count"], doc["overdue"]["amount"])
    returns = _table("returns", *domain_types.TYPES, "total", title="Returns opened and closed")
    for column in returns.columns[1:]:
        column.justify = "right"
    for kind in ("opened", "closed"):
        returns.add_row(kind, *(str(doc[kind][t]) for t in (*domain_types.TYPES, "total")))
    console.print(money)
    console.print(returns)
    if not doc["balanced"]:  # never expected: the sums are of one ledger
        console.print(Text("The period does not balance: run `doctor`.", style="bold red"))
