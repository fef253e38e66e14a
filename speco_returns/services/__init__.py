"""Use cases as functions over a Database: what each command does, below the CLI."""
