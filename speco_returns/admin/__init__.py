"""Keeping the data safe and moving it: backup, a desk copied to a server, the team roles."""
