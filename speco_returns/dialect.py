"""What differs between SQLite and PostgreSQL, in one place, so the store's business steps
are written once (issue 14).

The store writes SQLite's SQL with `?` placeholders. On a server, `Postgres.sql()` rewrites
the few things PostgreSQL spells differently; the SQL functions SQLite has and PostgreSQL
lacks under the same name (`printf`, `group_concat`, `instr`, `json_extract`, `casefold`) are
created on the server by migrations_pg.py, so a query added to the store later runs on both
unchanged. The server's `casefold` only approximates Python's (lower() keeps 'ß' and 'ς'):
customer names are compared through the stored returns.customer_key instead (derived.py).
Nothing here imports a driver: SQLite users never pay psycopg's import.
"""

from __future__ import annotations

import re
from functools import lru_cache

URL_PREFIXES = ("postgresql://", "postgres://")
_SERVICE = r"\s*service\s*="


def is_url(target: object) -> bool:
    """A PostgreSQL connection string (`postgresql://…`, `postgres://…`, libpq's `service=NAME`)."""
    text = str(target)
    return text.startswith(URL_PREFIXES) or bool(re.match(_SERVICE, text, re.IGNORECASE))


def has_password(target: str) -> bool:
    """A password written into the connection string itself (visible in `ps` and shell history)."""
    if target.startswith(URL_PREFIXES):
        from urllib.parse import urlsplit

        try:
            if urlsplit(target).password:
                return True
        except ValueError:
            return False
        return "password=" in target.lower()
    return bool(re.search(r"(^|\s)password\s*=", target, re.IGNORECASE))


def shown(target: str) -> str:
    """The connection string with any password replaced, for messages."""
    text = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", target)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", text, flags=re.IGNORECASE)


class SQLite:
    name = "sqlite"
    begin_write = ("BEGIN IMMEDIATE",)  # takes the write lock before reading: writers queue on the busy timeout
    begin_read = ("BEGIN",)

    def sql(self, text: str, params: object = None) -> str:
        return text


# Each write takes one advisory lock, the server's BEGIN IMMEDIATE: writers queue on it, and
# past lock_timeout the waiting one fails with lock_not_available (the "database busy" line).
WRITE_LOCK = 0x5EC0_0001
MIGRATION_LOCK = 0x5EC0_0002

_LITERAL = r"'(?:[^']|'')*'"
_NAMED = r"(?<![:\w]):([A-Za-z_]\w*)"


class Postgres:
    name = "postgres"
    begin_write = ("BEGIN ISOLATION LEVEL READ COMMITTED", "SET LOCAL lock_timeout = '5s'",
                   f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    begin_read = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",)  # one snapshot, as SQLite's BEGIN

    def sql(self, text: str, params: object = None) -> str:
        return _translate(text, params is not None and not isinstance(params, dict) and len(params) > 0,
                          isinstance(params, dict))


def _glob_control() -> tuple[str, str]:
    """export.sql_visible's GLOB over control characters, as a server regex (the same class)."""
    from .export import _SQL_CONTROL

    return f"GLOB {_SQL_CONTROL}", r"~ '[\x01-\x1f\x7f-\x9f]'"


# SQLite's printf() in the two shapes the store writes (store._SQL_KEY, store._SQL_AMOUNT), as
# native expressions: the server's plpgsql printf() is a fallback, 6x slower at a million rows.
# An RA number past 999999 stays whole (lpad would cut it).
_PRINTF_RA = r"printf\('RA-%06d', ([\w.]+)\)"  # patterns, compiled on a server's first use (re caches them)
_PRINTF_AMOUNT = r"printf\('(-?)%d\.%02d', (.+?) / 100, \2 % 100\)"


def _native_printf(text: str) -> str:
    text = re.sub(_PRINTF_RA, r"('RA-' || CASE WHEN \1 < 1000000 THEN lpad(\1::text, 6, '0') ELSE \1::text END)", text)
    return re.sub(_PRINTF_AMOUNT, r"('\1' || div((\2)::numeric, 100)::text || '.' || lpad(mod((\2)::numeric, 100)::text, 2, '0'))",
                              text)


@lru_cache(maxsize=512)
def _translate(text: str, positional: bool, named: bool) -> str:
    if "printf(" in text:
        text = _native_printf(text)
    if "GLOB" in text:
        text = text.replace(*_glob_control())
    if positional or named:
        text = text.replace("%", "%%")  # psycopg reads % as a placeholder when it has parameters
    parts, last = [], 0
    for m in re.finditer(_LITERAL, text):  # rewrite outside string literals only
        parts.append(_code(text[last:m.start()], positional, named))
        parts.append(m.group())
        last = m.end()
    parts.append(_code(text[last:], positional, named))
    return "".join(parts)


def _code(code: str, positional: bool, named: bool) -> str:
    code = re.sub(r"\bINDEXED\s+BY\s+\w+", "", code, flags=re.IGNORECASE)  # SQLite's planner hint
    code = re.sub(r"\bIS\s+NOT\s+\?", "IS DISTINCT FROM ?", code, flags=re.IGNORECASE)
    code = re.sub(r"\bchar\(", "chr(", code)
    code = re.sub(r"\bgroup_concat\(", "string_agg(", code)  # the same (text, separator) aggregate
    code = re.sub(r"\bIN\s*\(\s*\)", "IN (NULL)", code, flags=re.IGNORECASE)  # an empty list matches nothing
    if positional:
        code = code.replace("?", "%s")
    if named:
        code = re.sub(_NAMED, r"%(\1)s", code)
    return code
