"""`speco-returns shell`: an agent's whole call in one process.

Each line is dispatched to the same Typer app as the command line, so it runs the same
code, prints the same output and refusals, and exits with the same status: the shell shows
a failure's status and goes on. What the shell keeps between lines is only what the command
line would rebuild each time: Python's imports, the click command, and a server's
connection. A database file is opened for each command and closed after it (Shell._release),
so a file restored while the shell waits is what the next command reads. It keeps no
transaction (every store call commits or rolls back before it returns), no cache of returns
(each command reads the database afresh) and no clock (each command reads "today").

At a terminal: readline line editing, Tab completion (completion.py) and a history file
beside the default database folder that never keeps a line holding a card number, nor the
answers given at `open`'s prompts. Without a terminal (`shell < commands.txt`): no prompt,
no colour; stops at the first failure with its exit code, unless `--keep-going`.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import files
from ..domain import cards, inputs
from .edge import command, session_of
from .session import Session

WORDS = ("help", "exit")
HISTORY_LINES = 1000


def history_path() -> Path:
    """Beside the default database (`~/.config/speco-returns/` on Linux), whatever --db says."""
    return Path(typer.get_app_dir("speco-returns")) / "shell-history"


def holds_card_number(line: str) -> bool:
    """What a command refuses as a card number, or as a run that may hide one (SPEC §6), in
    the line as typed or in any word as the command reads it (quotes and backslashes gone):
    such a line is never kept, whether the command refused it or not."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # an unclosed quote
        words = []
    return any(cards.card_problem("line", text) for text in (line, *words))


class _CompletionSource:
    """What completion.py reads the database through: the shell's own connection."""

    def __init__(self, session: Session):
        self.session = session

    @property
    def completion_db(self):
        if (self.session._store is None and isinstance(self.session.db_path, Path)
                and not self.session.db_path.exists()):
            return None  # completing never creates the database
        return self.session.store


class Shell:
    def __init__(self, root, session: Session, *, keep_going: bool, interactive: bool):
        # the app's click command, built once by the command line, not once per line
        self.root = root
        self.session = session
        self.keep_going = keep_going
        self.interactive = interactive
        self.source = _CompletionSource(session)
        self._running = False  # a command is running (its questions complete with Tab too)

    # --- one line -------------------------------------------------------------------------

    def run_line(self, line: str) -> int | None:
        """Run one line; its exit status, or None for a blank line or a comment."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:  # an unclosed quote
            sys.stderr.write(f"error: {e}: close the quote\n")
            return 2
        if not words:
            return None
        if words[0] == "help":
            words = [*words[1:], "--help"]
        if words[0] in ("--db", "--agent") or words[0].startswith(("--db=", "--agent=")):
            sys.stderr.write("error: --db and --agent are given when the shell starts: "
                             "speco-returns --db PATH shell\n")
            return 2
        if words[0] == "shell":
            sys.stderr.write("error: already in the shell\n")
            return 2
        self._reconnect_if_lost()
        self._running = True
        try:
            self.root.main(args=words, prog_name="speco-returns", standalone_mode=True,
                           obj=self.session)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except KeyboardInterrupt:  # outside the command's own handling (parsing the line)
            sys.stderr.write("\n")
            code = 130
        except Exception as e:  # a bug must not end an agent's call: one line, and go on
            sys.stderr.write(f"error: unexpected {type(e).__name__}: {inputs.quote(str(e), 120)}\n")
            code = 1
        finally:
            self._running = False
            self._end_command()
        return code

    def _end_command(self) -> None:
        """Nothing held between commands: no transaction, and no connection to a file."""
        self.session.done()
        self._release()
        sys.stdout.flush()
        sys.stderr.flush()

    def _release(self) -> None:
        """A database file is opened for each command and closed after it, as the command line
        does: a connection left open while the shell waits would go on reading the old pages
        of a file restored under it (copied over it or moved into place), and write them back
        over the restored file when it closed. A server keeps its one connection, with no
        transaction left open (a server's backup is not a file copied under it)."""
        store = self.session._kept
        if store is None:
            return
        if isinstance(self.session.db_path, Path):
            self.session._kept = self.session._store = None
            store.close()
        else:
            store.rollback()

    def _reconnect_if_lost(self) -> None:
        """A server restarted while the shell waited: the next command connects again, with one
        line."""
        store = self.session._kept
        if store is not None and store.is_server and not store.engine.alive(store.raw):
            store.close()
            self.session._kept = self.session._store = None
            sys.stderr.write("reconnected to the database server (the connection was lost)\n")

    # --- the loop -------------------------------------------------------------------------

    def batch(self, lines) -> int:
        """Lines from a file or a pipe: no prompt; the first failure ends it unless --keep-going."""
        first_failure = 0
        for number, line in enumerate(lines, 1):
            if _is_exit(line):
                break
            code = self.run_line(line)
            if code:
                sys.stderr.write(f"line {number}: exit {code}\n")
                if not self.keep_going:
                    return code
                first_failure = first_failure or code
        return first_failure

    def interact(self) -> int:
        readline = _readline()
        history = history_path()
        if readline is not None:
            self._set_up_readline(readline, history)
        where = self.session.db_path
        if isinstance(where, Path):
            name = where.name
        else:  # a server: its database name, never a password
            from ..db.urls import shown

            where = shown(where)
            name = where.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "server"
        # a server records its login
        agent = (self.session.agent if isinstance(self.session.db_path, Path)
                 else self.session.store.login)
        prompt = inputs.visible(f"{agent}@{name}> ")
        sys.stdout.write(f"speco-returns shell on {inputs.visible(str(where))}: "
                         "help for the commands, Tab to complete, Ctrl-D or exit to leave.\n")
        last = 0
        while True:
            before = readline.get_current_history_length() if readline is not None else 0
            try:
                line = input(prompt)
            except KeyboardInterrupt:  # Ctrl-C: the line is dropped, nothing runs
                sys.stdout.write("^C\n")
                continue
            except EOFError:  # Ctrl-D
                sys.stdout.write("\n")
                return last
            if _is_exit(line):
                return last
            mark = readline.get_current_history_length() if readline is not None else 0
            code = self.run_line(line)
            if readline is not None:
                self._keep_in_history(readline, history, before, mark)
            if code is not None:
                last = code
            if code:
                sys.stderr.write(f"[exit {code}]\n")

    def _set_up_readline(self, readline, history: Path) -> None:
        readline.set_completer_delims(" \t\n")
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
        readline.set_completer(self._complete)
        readline.set_history_length(HISTORY_LINES)
        try:
            readline.read_history_file(history)
        except OSError:
            pass

    def _keep_in_history(self, readline, history: Path, before: int, mark: int) -> None:
        """Keep the command line, unless it holds a card number; drop the answers given at
        prompts while it ran. Appended to the file at once (a crash loses nothing), 0600, in
        a folder made like the database's (files.make_private_folder)."""
        while readline.get_current_history_length() > mark:
            readline.remove_history_item(readline.get_current_history_length() - 1)
        if mark == before:  # a blank line: readline kept nothing
            return
        if holds_card_number(readline.get_history_item(mark)):
            readline.remove_history_item(mark - 1)
            return
        try:
            files.make_private_folder(history.parent)
            fd = os.open(history, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            readline.append_history_file(1, history)
            readline.set_history_length(HISTORY_LINES)
        except OSError:  # a read-only home: history stays in memory
            pass

    def _complete(self, text: str, state: int) -> str | None:
        if state == 0:
            import readline

            from . import completion

            before = readline.get_line_buffer()[: readline.get_begidx()]
            try:
                words = shlex.split(before)
            except ValueError:
                words = before.split()
            try:
                self._matches = completion.complete_line(self.root, words, text,
                                                         ctx_obj=self.source, extra=WORDS)
                # one candidate: the word is whole, and the next one starts after a space, as
                # bash does (Python's readline adds none)
                if len(self._matches) == 1:
                    self._matches = [self._matches[0] + " "]
            finally:
                # Tab at the prompt opened the file: closed again while the shell waits (Tab at
                # a question of `open` uses the command's own connection)
                if not self._running:
                    self._release()
        return self._matches[state] if state < len(self._matches) else None


def _is_exit(line: str) -> bool:
    """`exit` or `quit` as the shell reads any line: quotes and a trailing `# comment` allowed."""
    try:
        return shlex.split(line, comments=True) in (["exit"], ["quit"])
    except ValueError:
        return False


def _readline():
    try:
        import readline
    except ImportError:  # Python built without it: plain input, no completion
        return None
    return readline


@command("", "shell")
def shell_cmd(
    ctx: typer.Context,
    keep_going: Annotated[bool, typer.Option(
        "--keep-going", help="Without a terminal: run every line, even after a failure.")] = False,
) -> None:
    """A whole call in one session: the same commands without the prefix, one process, one connection.

    Example: speco-returns shell
    """  # noqa: E501 - the first line is the command list's text: Typer keeps its line break
    raise typer.Exit(code=run_shell(ctx.find_root().command, session_of(ctx),
                                    keep_going=keep_going))


def run_shell(root, session: Session, *, keep_going: bool) -> int:
    """The `shell` command: a session that keeps the database connection for every line, passed
    to each command as its context's object."""
    interactive = sys.stdin.isatty()
    session.keep = True
    shell = Shell(root, session, keep_going=keep_going, interactive=interactive)
    try:
        if interactive:
            return shell.interact()
        # A script's output is for a file or a log, even when it shows on a terminal
        # (`shell < commands.txt`): no colour. Set before rich is first imported by a command.
        os.environ.setdefault("NO_COLOR", "1")
        try:
            return shell.batch(sys.stdin)
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return 130
    finally:
        session.keep = False
        session._kept = None
        session.done()
