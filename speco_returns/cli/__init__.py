"""The command line, Typer only: each command parses its options, calls a use case
(speco_returns.services) and renders the result. docs/architecture.md shows the layout.
Nothing below imports this package; the console script and `python -m speco_returns` call `run`."""

from __future__ import annotations


def run() -> None:
    from .root import run as run_app

    run_app()


def __getattr__(name: str):
    if name == "app":  # `from speco_returns.cli import app`: the whole app (tests, docs)
        from .root import full_app

        return full_app()
    raise AttributeError(name)
