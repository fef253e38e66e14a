"""The only package with SQL: one engine per database (engines/), the unit of work
(database.py), one migration list (migrations/), and query modules by aggregate."""
