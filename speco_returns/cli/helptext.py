"""Help that reads like the product: metavars an agent recognises, an example per command,
the date forms and the environment variables.

Every command and group is built with these classes (cli/root.py passes `cls=`), so a command
added later gets the same metavars without doing anything: an option's metavar comes from
METAVARS by its long name, else its name upper-cased (`--ref` -> REF); a flag shows none;
an argument shows its name upper-cased (`ra` -> RA). The example is the docstring's last
paragraph, `Example: speco-returns ...` (tests/test_docs.py checks one per command and that
docs/commands.md shows it).
"""

from __future__ import annotations

import copy

from typer.core import TyperArgument, TyperCommand, TyperGroup

DATE_FORMS = "2026-11-26, 11/26/2026 or Nov 26 2026 (month first; a four-digit year)"

METAVARS = {
    "--on": "DATE", "--as-of": "DATE", "--expires": "DATE", "--from": "DATE", "--to": "DATE",
    "--item": "MODEL[:QTY]", "--serial": "SERIAL", "--list-price": "AMOUNT", "--amount": "AMOUNT",
    "--type": "TYPE", "--status": "STATE", "--limit": "N", "--within": "DAYS", "--db": "PATH",
    "--output": "FILE", "--customer": "NAME", "--agent": "NAME", "--approved-by": "NAME",
    "--distributor": "NAME", "--reason": "TEXT", "--note": "TEXT", "--search": "TEXT",
    "--description": "TEXT", "--category": "CATEGORY", "--model": "MODEL", "--tracking": "NUMBER",
}

ENVIRONMENT = {
    "SPECO_RETURNS_DB": "the database file, as --db",
    "SPECO_RETURNS_AGENT": "who is recording, as --agent (default: the login name)",
    "SPECO_RETURNS_TODAY": "pin the tool's \"today\" (YYYY-MM-DD): tests, back-filling a day of paper records",
    "SPECO_RETURNS_SMTP": "notify: the mail server, smtp://user@host:587 (never the password)",
    "SPECO_RETURNS_SMTP_PASSWORD": "notify: that user's password",
    "SPECO_RETURNS_MAIL_FROM": "notify: the From address",
    "SPECO_RETURNS_MAIL_BCC": "notify: a copy of every notice to this address",
    "SPECO_RETURNS_RETURN_ADDRESS": "notify: where customers send units",
    "SPECO_RETURNS_MAIL_REPLY_TO": "notify: the Reply-To address of every notice",
    "SPECO_RETURNS_SUPPORT_PHONE": "notify: the support phone in every notice's signature",
    "SPECO_RETURNS_SUPPORT_HOURS": "notify: that phone's hours, e.g. \"Monday to Friday, 8 am to 5 pm ET\"",
    "SPECO_RETURNS_REMIND": "notify: the reminder days, as --remind (default 7,2)",
    "SPECO_RETURNS_AFTERSHIP_WEBHOOK_SECRET": "deliveries serve: AfterShip's webhook secret (its events are received only when set)",
    "SPECO_RETURNS_EASYPOST_WEBHOOK_SECRET": "deliveries serve: the EasyPost webhook's secret",
    "SPECO_RETURNS_MAIL_ATTACHMENTS": "notify: off sends the opened notice without the RA slip (default on)",
    "SPECO_RETURNS_SLIP_PAPER": "slip: letter (default) or a4, printed or attached",
    "SPECO_RETURNS_SLIP_FONT": "slip: a TrueType font for names Latin-1 lacks",
    "SPECO_RETURNS_HOLD_DAYS": "hold: the days a card authorization lasts when --expires is not "
                               "given (default 7, 1 to 30)",
    "NO_COLOR": "no colour in the output",
}

EPILOG = (
    "Dates: " + DATE_FORMS + ".\n\n"
    "Environment variables:\n\n"
    + "\n\n".join(f"{name}: {meaning}" for name, meaning in ENVIRONMENT.items())
    + "\n\nExample: speco-returns open --type standard --customer \"Acme Security\" --item O4B3 --serial SN-1001"
)


def _name(param) -> str:
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0] if longs else param.opts[0]


def _no_type(ctx) -> None:
    return None


def _no_metavar(param, ctx) -> str:
    return ""


def readable(params: list) -> None:
    for p in params:
        if isinstance(p, TyperArgument):
            if p.metavar is None:
                p.metavar = p.name.upper().removesuffix("S") if p.nargs != 1 else p.name.upper()
            # The name says it (RA, SERIAL), not <str>: Typer 0.29 asks display_type_rich, 0.26-0.28
            # the type's get_metavar (the type is copied: STRING and PATH are shared instances).
            p.display_type_rich = _no_type
            if hasattr(p, "type"):  # 0.29 has none here (the benchmark runs the tool on 0.29.2 side by side)
                p.type = copy.copy(p.type)
                p.type.get_metavar = _no_metavar
        elif getattr(p, "is_flag", False):
            p.metavar = ""
        elif p.metavar is None:
            p.metavar = METAVARS.get(_name(p), _name(p).lstrip("-").upper())


EXTRA_SHOWN = 5  # stray arguments named in a usage error; the rest are counted


def unexpected_arguments(args: list[str]) -> str:
    from ..domain.inputs import quote

    shown = quote(" ".join(args[:EXTRA_SHOWN]), 80)  # one short line, never a card number
    more = f" and {len(args) - EXTRA_SHOWN:,} more" if len(args) > EXTRA_SHOWN else ""
    return f"Got unexpected extra argument(s) ({shown}{more})"


class _Readable:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readable(self.params)

    def format_help(self, ctx, formatter):
        """Help longer than the window goes through the pager at a terminal (cli/pager.py)."""
        from .pager import paged

        with paged():
            return super().format_help(ctx, formatter)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        """Stray arguments are named in the usage error, the first few of them: a line with
        thousands would otherwise fill the screen with its box."""
        if ctx.allow_extra_args or ctx.resilient_parsing:
            return super().parse_args(ctx, args)
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = False
        if rest:
            ctx.fail(unexpected_arguments(rest))
        return rest

    def collect_usage_pieces(self, ctx) -> list[str]:
        """`show [OPTIONS] RA`, `serial add [OPTIONS] RA SERIAL...`: the names, without braces."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if isinstance(p, TyperArgument):
                name = p.metavar + ("..." if p.nargs != 1 else "")
                pieces.append(name if p.required else f"[{name}]")
        return pieces


class ReturnsCommand(_Readable, TyperCommand):
    pass


class ReturnsGroup(_Readable, TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*super().collect_usage_pieces(ctx), self.subcommand_metavar]
