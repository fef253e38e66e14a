"""The startup baseline: a one-command Typer app, run by the same interpreter as speco-returns.

    python benchmarks/minimal_app.py RA-000001
"""

import typer

app = typer.Typer(add_completion=False)


@app.command()
def show(ra: str) -> None:
    """Print the argument back."""
    typer.echo(ra)


if __name__ == "__main__":
    app()
