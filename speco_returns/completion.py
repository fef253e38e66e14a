"""Tab completion, one source for both: the shell's readline completer (`complete_line`) and
bash, zsh and fish through Typer (`--install-completion`), whose `autocompletion=` callbacks
are the value completers below.

Commands and options are read from the click command Typer builds from the app, so a
command added anywhere completes without a change here. Values that live in the database
(RA numbers and tickets of open returns, catalog models) are read through partial indexes
over open returns (migration m006): a handful of rows, milliseconds at a million returns.
Completion never creates, migrates or writes a database, and holds no transaction.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import typer

from . import policy

LIMIT = 200  # candidates offered at most; a shell lists them, nobody reads more


# --- where the values come from ----------------------------------------------------------------


def _db_path(ctx: typer.Context | None) -> Path | str:
    """The database the command line names: --db, else SPECO_RETURNS_DB, else the default
    (a PostgreSQL URL stays text)."""
    from .dialect import is_url

    root = ctx.find_root() if ctx is not None else None
    given = root.params.get("db") if root is not None else None
    given = given or os.environ.get("SPECO_RETURNS_DB")
    if given:
        return given if is_url(given) else Path(given).expanduser()
    return Path(typer.get_app_dir("speco-returns")) / "returns.db"


def _query(ctx: typer.Context | None, sql: str, args: list) -> list[tuple]:
    """Rows from the shell's open connection (ctx.obj), else a read-only one; [] when there is no database."""
    source = getattr(ctx.find_root() if ctx else None, "obj", None)
    if hasattr(source, "completion_conn"):  # the shell: its own database, or none yet
        conn = source.completion_conn
        return conn.execute(sql, args).fetchall() if conn is not None else []  # fetched whole: no statement left open
    path = _db_path(ctx)
    if isinstance(path, str):  # a team's server: the same SQL through the store's connection
        return _query_server(path, sql, args)
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # an old schema, a locked or foreign file: no candidates, never an error
        return []


def _query_server(url: str, sql: str, args: list) -> list[tuple]:
    from .errors import ReturnsError
    from .store import Store

    try:
        store = Store(url, read=True, migrate=False)
    except ReturnsError:  # unreachable, no driver, a newer schema: no candidates, never an error
        return []
    try:
        return [tuple(r) for r in store.conn.execute(sql, args).fetchall()]
    except ReturnsError:
        return []
    finally:
        store.close()


def ra_ranges(digits: str) -> list[tuple[int, int]]:
    """The RA numbers whose `RA-%06d` text starts with `digits`, as inclusive ranges."""
    if len(digits) > 18:
        return []
    ranges = [(int(digits.ljust(6, "0")), int(digits.ljust(6, "9")))] if len(digits) <= 6 else []
    if not digits:
        ranges.append((1_000_000, 10**18 - 1))
    elif not digits.startswith("0"):  # wider numbers, past RA-999999
        for width in range(max(7, len(digits)), 19):
            ranges.append((int(digits.ljust(width, "0")), int(digits.ljust(width, "9"))))
    return ranges


def open_keys(ctx: typer.Context | None, incomplete: str) -> list[str]:
    """RA numbers and ticket IDs of open returns that start with what was typed (any case)."""
    from .store import OPEN_SQL

    found: list[str] = []
    typed = incomplete.upper()
    digits = "" if "RA-".startswith(typed) else typed[3:] if typed.startswith("RA-") else None
    if digits is not None and (digits == "" or digits.isdigit()):
        for lo, hi in ra_ranges(digits):
            rows = _query(ctx, f"SELECT ra_no FROM returns INDEXED BY returns_open_ra WHERE {OPEN_SQL} "
                          "AND ra_no BETWEEN ? AND ? ORDER BY ra_no LIMIT ?", [lo, hi, LIMIT - len(found)])
            found += [f"RA-{n:06d}" for (n,) in rows]
            if len(found) >= LIMIT:
                break
    if len(found) < LIMIT and not incomplete.upper().startswith("RA-"):
        upper = incomplete + "\U0010ffff"  # every text that starts with `incomplete` sorts below this
        rows = _query(ctx, f"SELECT ticket FROM returns INDEXED BY returns_open_ticket WHERE {OPEN_SQL} "
                      "AND ticket >= ? AND ticket < ? ORDER BY ticket LIMIT ?", [incomplete, upper, LIMIT - len(found)])
        found += [t for (t,) in rows if t.lower().startswith(incomplete.lower())]
    return found


def _starting(words, incomplete: str) -> list[str]:
    return [w for w in words if w.lower().startswith(incomplete.lower())]


# --- the value completers Typer calls (autocompletion=) ------------------------------------------


def complete_ra(ctx: typer.Context, incomplete: str) -> list[str]:
    return open_keys(ctx, incomplete)


def complete_type(incomplete: str) -> list[str]:
    return _starting([*policy.TYPES, *policy.ALIASES], incomplete)


def complete_status(incomplete: str) -> list[str]:
    return _starting(sorted({s for t in policy.TYPES for s in policy.states(t)}), incomplete)


def complete_category(incomplete: str) -> list[str]:
    return _starting(policy.CATEGORIES, incomplete)


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Catalog models (`--item` also takes MODEL:QTY: the model part is completed)."""
    rows = _query(ctx, "SELECT model FROM catalog WHERE model >= ? COLLATE NOCASE ORDER BY model COLLATE NOCASE LIMIT ?",
                  [incomplete, LIMIT])
    return _starting([m for (m,) in rows], incomplete)


# --- the shell: a whole line, read against the app's command tree -----------------------------


def _visible_options(command) -> list[str]:
    names = []
    for p in command.params:
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False):
            names += [o for o in p.opts if o.startswith("--")] or list(p.opts)
    return sorted(set(names) | {"--help"})


def _option(command, word: str):
    for p in command.params:
        if getattr(p, "param_type_name", "") == "option" and word in p.opts:
            return p
    return None


def complete_line(root, words: list[str], incomplete: str, ctx_obj=None, extra: tuple[str, ...] = ()) -> list[str]:
    """Candidates for `incomplete` after the whole `words` already typed on a shell line.

    `root` is the click command Typer built from the app; `extra` adds the shell's own words
    (help, exit) at the start of a line."""
    ctx = typer.Context(root, obj=ctx_obj)
    command, expects, positional = root, None, 0
    for word in words:
        if expects is not None:
            expects = None
            continue
        sub = getattr(command, "commands", {}).get(word) if hasattr(command, "commands") else None
        if sub is not None:
            command, positional = sub, 0
            ctx = typer.Context(sub, parent=ctx, info_name=word)
            continue
        if word.startswith("-"):
            option = _option(command, word.split("=", 1)[0])
            if option is not None and not option.is_flag and not option.count and "=" not in word:
                expects = option
            continue
        positional += 1
    if expects is not None:
        return _values(expects, ctx, incomplete)
    if incomplete.startswith("-"):
        return _starting(_visible_options(command), incomplete)
    if hasattr(command, "commands"):
        names = [n for n, c in command.commands.items() if not getattr(c, "hidden", False)]
        return _starting(sorted(names + (list(extra) if command is root else [])), incomplete)
    arguments = [p for p in command.params if getattr(p, "param_type_name", "") == "argument"]
    for i, argument in enumerate(arguments):
        if i == positional or (argument.nargs == -1 and i <= positional):
            return _values(argument, ctx, incomplete)
    return []


def _values(param, ctx, incomplete: str) -> list[str]:
    """What the parameter's own completion offers: the autocompletion= callbacks above."""
    try:
        return [item.value for item in param.shell_complete(ctx, incomplete)]
    except Exception:  # completion must never break the line being typed
        return []
