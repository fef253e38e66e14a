"""Human output: rich tables and panels. Imported only by commands that print for people.

rich drops colour by itself when stdout is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from . import policy


class _Console:
    """A console made when printing, so it sees the stdout of the moment (tests swap it).

    At a terminal rich fits the window; in a pipe or a file it would cut tables at 80
    columns, so there it gets COLUMNS or 160.
    """

    def print(self, *objects) -> None:
        width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 160)
        _PlainConsole(highlight=False, markup=False, emoji=False, width=width).print(*objects)


class _PlainConsole(Console):
    """User text is never markup (`[/bold]`, `[link=...]`), never an emoji code, and its
    control characters are shown as escapes (`\\x1b`), never sent to the terminal. Every str
    a table or grid cell holds passes through here; `Text` we build uses `_user`."""

    def render_str(self, text: str, **kwargs) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(policy.visible(text), **kwargs)


def _user(text: str) -> str:
    return policy.visible(text)


console = _Console()


def _money(amount: str | None) -> str:
    return "" if amount is None else policy.format_usd(policy.parse_money(amount))


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left")
    return table


def policy_view(types: list[str]) -> None:
    for t in types:
        rules = Table.grid(padding=(0, 2))
        for rule in policy.RULES[t]:
            rules.add_row(Text(rule, style="bold"), policy.RULE_TEXT[rule])
        steps = Text("\n".join(f"{n}. {s}" for n, s in enumerate(policy.NEXT_STEPS[t], 1)))
        aliases = [a for a, full in policy.ALIASES.items() if full == t]
        name = t + (f" (alias {', '.join(aliases)})" if aliases else "")
        console.print(Panel(Group(rules, Text("\nNext steps", style="bold"), steps),
                            title=f"{policy.TYPE_TITLES[t]}: {name}", title_align="left", expand=False))


def check_view(result: policy.CheckResult) -> None:
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


def return_view(doc: dict, *, opened: bool = False) -> None:
    if opened:
        label = "Ticket" if doc["type"] == "counter" else "RA number"
        console.print(Text(f"{label}: {_user(doc['ra'])}", style="bold reverse"))
    facts = Table.grid(padding=(0, 2))
    facts.add_row("type", policy.TYPE_TITLES[doc["type"]])
    facts.add_row("status", Text(doc["status"], style="bold"))
    for key in ("customer", "email", "phone", "ticket", "distributor", "approved_by", "reason", "opened_on"):
        if doc.get(key):
            facts.add_row(key.replace("_", " "), doc[key])
    if doc["hold_amount"] is not None:
        hold = _money(doc["hold_amount"])
        if doc["hold_ref"]:
            state = "active" if doc["hold_active"] else "not active"
            hold += f"  (ref {doc['hold_ref']}, {state}"
            hold += f", expires {doc['hold_expires']})" if doc["hold_expires"] else ")"
        facts.add_row("card hold", hold)
    if doc["due_on"]:
        facts.add_row("unit due back by", Text(doc["due_on"], style="bold"))
    items = _table("model", "category", "qty", "list price", "serials")
    for i in doc["items"]:
        items.add_row(i["model"], i["category"] or "", str(i["qty"]), _money(i["list_price"]), ", ".join(i["serials"]))
    history = _table("on", "event", "status", "agent", "detail")
    for e in doc["events"]:
        detail = "; ".join(f"{k}: {v}" for k, v in e.items() if k not in ("event", "on", "agent", "recorded_at", "status", "changes"))
        if e.get("changes"):  # an `edit`: old → new per field
            detail = "; ".join(f"{c['field'].replace('_', ' ')}: {c['from'] or '(none)'} → {c['to'] or '(none)'}" for c in e["changes"])
        history.add_row(e["on"], e["event"], e["status"], e["agent"], detail)
    parts = [facts, items, history, Text(f"Next: {doc['next_step']}", style="bold")]
    if opened:
        steps = policy.NEXT_STEPS[doc["type"]]
        parts.append(Text("\nTell the customer:\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1))))
    console.print(Panel(Group(*parts), title=Text(_user(doc["ra"])), title_align="left", expand=False))
    warnings(doc["warnings"])


def returns_table(rows: list[dict], title: str | None = None) -> None:
    columns = ["ra", "type", "status", "customer", "opened_on"] + (["model"] if rows and "model" in rows[0] else [])
    table = _table(*columns, title=title)
    for r in rows:
        table.add_row(*(str(r[c]) for c in columns))
    console.print(table if rows else Text("No returns."))


def overdue_table(rows: list[dict]) -> None:
    if not rows:
        console.print(Text("Nothing overdue."))
        return
    table = _table("state", "ra", "customer", "contact", "delivered", "due", "days overdue", "hold")
    # People read the worst first: overdue rows most overdue first (JSON/CSV keep SPEC order).
    ordered = sorted(rows, key=lambda r: (policy.OVERDUE_STATES.index(r["state"]), -(r["days_overdue"] or 0)))
    for r in ordered:
        contact = " ".join(x for x in (r["phone"], r["email"]) if x)
        style = "bold red" if r["state"] == "overdue" else None
        table.add_row(Text(r["state"], style=style), r["ra"], r["customer"], contact, r["delivered_on"] or "",
                      r["due_on"] or "", "" if r["days_overdue"] is None else str(r["days_overdue"]),
                      _money(r["hold_amount"]))
    console.print(table)


def catalog_table(rows: list[dict]) -> None:
    table = _table("model", "category", "list price", "description", "updated")
    for r in rows:
        table.add_row(r["model"], r["category"], _money(r["list_price"]), r["description"] or "", r["updated_at"])
    console.print(table if rows else Text("The catalog is empty: add models with `catalog add` or `catalog import`."))


def doctor_view(report: dict) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_row("database", report["database"])
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
def notify_progress(mode: str):
    """(on_total, on_progress) for `notify`: a progress bar at a terminal, a line per notice
    in a log (cron), nothing under --json."""
    if mode == "terminal":
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=Console(highlight=False), transient=True) as progress:
            task = progress.add_task("notices", total=None)
            yield ((lambda total: progress.update(task, total=total)),
                   (lambda o: progress.update(task, advance=1, description=f"{o.ra} {o.label}")))
    elif mode == "lines":
        yield (lambda total: None), notice_line
    else:
        yield (lambda total: None), (lambda o: None)


def notice_line(o) -> None:
    """One plain line per notice as it goes (no-email ones are listed at the end)."""
    if o.status != "no-email":
        parts = [f"{o.status:<10}", o.ra, o.label, o.to or "", o.message_id or ""]
        sys.stdout.write("  ".join(p for p in parts if p) + "\n")
        sys.stdout.flush()


NOTIFY_SUMMARY = {"sent": "sent", "written": "written", "would-send": "would send", "skipped": "skipped",
                  "failed": "failed", "no-email": "no e-mail"}


def notify_report(outcomes: list, counts: dict, *, at_terminal: bool) -> None:
    from .notices import one_line

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
                table.add_row(Text(o.status, style=style), o.ra, o.label, Text(o.to or ""), *([Text(o.subject)] if wide else []))
            console.print(table)
        if call:
            table = _table(title="Call the customer (no e-mail on file)")
            table.add_column("ra", no_wrap=True)
            table.add_column("customer")
            table.add_column("phone", overflow="fold")
            table.add_column("notice", no_wrap=True)
            for o in call:
                table.add_row(o.ra, Text(o.customer), Text(o.phone or "no phone either"), o.label)
            console.print(table)
        summary = _table(*(NOTIFY_SUMMARY[s] for s in counts if counts[s] or s in ("sent", "skipped", "failed", "no-email")),
                         title="Summary")
        summary.add_row(*(str(counts[s]) for s in counts if counts[s] or s in ("sent", "skipped", "failed", "no-email")))
        console.print(summary if outcomes else Text("No notice is due."))
        return
    if call:
        sys.stdout.write("Call the customer (no e-mail on file):\n")
        for o in call:
            sys.stdout.write(f"  {o.ra}  {o.label}  {one_line(o.customer)}  {one_line(o.phone or 'no phone either')}\n")
    sys.stdout.write(", ".join(f"{counts[s]} {NOTIFY_SUMMARY[s]}" for s in counts if counts[s]) + "\n"
                     if outcomes else "No notice is due.\n")
