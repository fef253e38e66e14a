"""The one edge where errors become lines: every command is registered through `command`, so a
refusal (ReturnsError, with its rule), a damaged or busy database, a file that cannot be used or
Ctrl-C each print one clear line and exit with the documented code, never a traceback.

Commands are collected here (REGISTRY) and put on the app by cli/root.py, which imports only the
module of the command being run: a command module never imports the app.
"""

from __future__ import annotations

import functools
import sys
import typing
from pathlib import Path

import typer

from ..domain import inputs
from ..errors import Discarded, ReturnsError, Violation
from .lines import say
from .session import Session

# (group, name, function, Typer keyword arguments): group "" is the root, else a group of
# root.GROUPS; name "" is the group's own command (run when no subcommand is named).
REGISTRY: list[tuple[str, str, typing.Callable, dict]] = []


def fail(problems: list[Violation]) -> None:
    """One line per problem on stderr (at a terminal wrapped between words); exit 1."""
    for p in problems:
        say(f"error: {inputs.visible(p.line())}", err=True)  # stored text may hold escapes
    raise typer.Exit(code=1)


def session_of(ctx: typer.Context) -> Session:
    session = ctx.find_root().obj
    assert isinstance(session, Session), "the root callback sets the session"
    return session


def command(group: str, name: str, **kwargs):
    """Register a command whose refusals and database errors become one clear line. Its first
    parameter is the Typer context (`ctx`), which holds the session."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            ctx = kw.get("ctx") or (args[0] if args else None)
            session = ctx.find_root().obj if ctx is not None else None
            try:
                # Read on call, for the one command being run: at import, every command's
                # signature cost startup about 10 ms.
                for param, label in _path_parameters(fn).items():  # before anything is opened, created or written
                    if kw.get(param) is not None:
                        inputs.refuse_control(label, str(kw[param]))
                result = fn(*args, **kw)
                _note_pinned_today(session)
                return result
            except ReturnsError as e:
                fail(e.problems)
            except Discarded as e:  # a person's choice: said plainly, exit 0
                say(inputs.visible(str(e)), err=True)
                return None
            except UnicodeDecodeError:  # text read back from the file: the file is damaged, not the input
                fail([_damaged(session)])
            except UnicodeError:  # the safety net behind the input checks' require_utf8
                fail([Violation(None, "an argument is not valid text (not UTF-8): retype it")])
            except OSError as e:  # a file we read or write: folder, permissions, disk full
                where = f" {e.filename}" if e.filename else ""
                fail([Violation(None, f"cannot use{where}: {e.strerror or e}")])
            except (KeyboardInterrupt, typer.Abort):  # Ctrl-C (or Ctrl-D at a prompt): nothing was written
                sys.stderr.write("\n")
                raise typer.Exit(code=130) from None
            except Exception as e:  # a driver error met outside the database's own calls (a row read late)
                found = session.classify(e) if isinstance(session, Session) else None
                if found is None:
                    raise
                fail(found.problems)
            finally:
                if isinstance(session, Session):
                    session.done()

        REGISTRY.append((group, name, wrapper, kwargs))
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


def _note_pinned_today(session) -> None:
    """A forgotten SPECO_RETURNS_TODAY silently dates every event: after each write it read,
    one `note:` line on stderr names the pinned date (a refusal prints only its error)."""
    if isinstance(session, Session) and session.pinned is not None:
        say(f"note: SPECO_RETURNS_TODAY pins today to {session.pinned} (unset it for the real date)", err=True)
        session.pinned = None


def _damaged(session) -> Violation:
    where = session.db_path if isinstance(session, Session) else "in use"
    return Violation(None, f"the database {where} is damaged (unreadable text or pages): run "
                     "`speco-returns doctor`, and restore the latest `speco-returns backup` copy")
