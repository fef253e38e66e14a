"""What names a database: a file path, or a PostgreSQL connection string (imports no driver)."""

from __future__ import annotations

import re

URL_PREFIXES = ("postgresql://", "postgres://")
_SERVICE = re.compile(r"\s*service\s*=", re.IGNORECASE)


def is_url(target: object) -> bool:
    """A PostgreSQL connection string (`postgresql://…`, `postgres://…`, libpq's `service=NAME`)."""
    text = str(target)
    return text.startswith(URL_PREFIXES) or bool(_SERVICE.match(text))


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
