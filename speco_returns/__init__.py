"""speco-returns: Speco's product returns, from first call to closed case."""

__version__ = "0.2.0"
