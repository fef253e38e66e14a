"""One-line confirmations and errors for people: wrapped between words at a terminal, one
line in a pipe. Imported by the error edge, so it imports nothing heavy."""

from __future__ import annotations

import os
import sys


def say(text: str, *, err: bool = False, indent: str = "  ") -> None:
    """A one-line confirmation or error. At a terminal it is wrapped between words to the
    window's width (the terminal would cut a word, a date or an RA number in two: none holds
    a space), the lines after the first indented; in a pipe or a file it stays one line, as
    scripts read it."""
    stream = sys.stderr if err else sys.stdout
    stream.write("\n".join(wrapped(text, width_of(stream), indent)) + "\n")


def wrapped(text: str, width: int | None, indent: str = "  ") -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def width_of(stream) -> int | None:
    try:
        if not stream.isatty():
            return None
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):  # a replaced stream (tests), no window
        return None
