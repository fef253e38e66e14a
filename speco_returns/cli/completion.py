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
from pathlib import Path

import typer

from ..domain import states, types

# --- where the values come from ----------------------------------------------------------------


def _db_path(ctx: typer.Context | None) -> Path | str:
    """The database the command line names: --db, else SPECO_RETURNS_DB, else the default
    (a PostgreSQL URL stays text)."""
    from ..db.urls import is_url

    root = ctx.find_root() if ctx is not None else None
    given = root.params.get("db") if root is not None else None
    given = given or os.environ.get("SPECO_RETURNS_DB")
    if given:
        return given if is_url(given) else Path(given).expanduser()
    return Path(typer.get_app_dir("speco-returns")) / "returns.db"


def _ask(ctx: typer.Context | None, question, *args) -> list[str]:
    """`question(db, ...)` on the shell's open database (ctx.obj), else on one opened to read
    (never created, migrated or written); [] when there is none or it cannot be read."""
    from ..errors import ReturnsError

    source = getattr(ctx.find_root() if ctx else None, "obj", None)
    if hasattr(source, "completion_db"):  # the shell: its own database, or none yet
        db = source.completion_db
        try:
            return question(db, *args) if db is not None else []
        except ReturnsError:
            return []
    from ..db.database import open_database

    path = _db_path(ctx)
    if isinstance(path, Path) and not path.exists():
        return []
    try:
        db = open_database(path, read=True, migrate=False)
    except ReturnsError:  # unreachable, no driver, a newer schema, a foreign file: no candidates
        return []
    try:
        return question(db, *args)
    except ReturnsError:  # an old schema, a locked file: no candidates, never an error
        return []
    finally:
        db.close()


def open_keys(ctx: typer.Context | None, incomplete: str) -> list[str]:
    """RA numbers and ticket IDs of open returns that start with what was typed (any case)."""
    from ..db import completion

    return _ask(ctx, completion.open_keys, incomplete)


def _starting(words, incomplete: str) -> list[str]:
    return [w for w in words if w.lower().startswith(incomplete.lower())]


# --- the value completers Typer calls (autocompletion=) ------------------------------------------


def complete_ra(ctx: typer.Context, incomplete: str) -> list[str]:
    return open_keys(ctx, incomplete)


def complete_type(incomplete: str) -> list[str]:
    return _starting([*types.TYPES, *types.ALIASES], incomplete)


def complete_status(incomplete: str) -> list[str]:
    return _starting(sorted({s for t in types.TYPES for s in states.states(t)}), incomplete)


def complete_sort(incomplete: str) -> list[str]:
    from ..db.listing import SORTS

    return _starting(SORTS, incomplete)


def complete_category(incomplete: str) -> list[str]:
    return _starting(types.CATEGORIES, incomplete)


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Catalog models (`--item` also takes MODEL:QTY: the model part is completed)."""
    from ..db import completion

    return _starting(_ask(ctx, completion.models, incomplete), incomplete)


# --- open's questions at a terminal (cli/prompts.py) ------------------------------------------


def for_questions(db) -> dict:
    """What Tab completes at `open`'s questions, read from the command's own database: the
    types, the catalog's models, the customers already on file, the fault codes in use."""
    from ..db import codes, completion

    def read(question, text: str) -> list[str]:
        from ..errors import ReturnsError

        try:
            return _starting(question(db, text), text)
        except ReturnsError:  # an old schema, a locked file: no candidates, never an error
            return []

    return {"type": complete_type, "model": lambda text: read(completion.models, text),
            "customer": lambda text: read(completion.customers, text),
            "fault": lambda text: read(lambda db, _: codes.in_use(db, "fault") or (), text)}


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


def complete_line(root, words: list[str], incomplete: str, ctx_obj=None,
                  extra: tuple[str, ...] = ()) -> list[str]:
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
