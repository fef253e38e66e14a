"""What names a database: a file path, or a PostgreSQL connection string (imports no driver)."""

from __future__ import annotations

import re

URL_PREFIXES = ("postgresql://", "postgres://")
_SERVICE = re.compile(r"\s*service\s*=", re.IGNORECASE)


def is_url(target: object) -> bool:
    """A PostgreSQL connection string (`postgresql://…`, `postgres://…`, libpq's
    `service=NAME`)."""
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
    if "@" not in target and "password" not in target.lower():  # nothing to hide (a file's path)
        return target
    text = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", target)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", text, flags=re.IGNORECASE)


def service_settings(name: str, env: dict[str, str]) -> dict[str, str]:
    """A libpq service's settings, read where libpq reads them (the user's file first)."""
    import configparser
    from pathlib import Path

    candidates = [env.get("PGSERVICEFILE") or str(Path.home() / ".pg_service.conf")]
    candidates += [str(Path(d) / "pg_service.conf")
                   for d in (env.get("PGSYSCONFDIR"), "/etc/postgresql-common") if d]
    for file in candidates:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(file, encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_section(name):
            return dict(parser.items(name))
    return {}


def tls_default(params: dict[str, str], service: dict[str, str], env: dict[str, str]) -> str | None:
    """The sslmode to add: `verify-full` for a server reached over TCP when neither the URL, its
    service nor PGSSLMODE says one; None otherwise (a unix socket stays as it is)."""
    def setting(key: str, variable: str) -> str | None:
        return params.get(key) or service.get(key) or env.get(variable) or None

    if setting("sslmode", "PGSSLMODE") or params.get("requiressl") or service.get("requiressl"):
        return None
    hosts = setting("hostaddr", "PGHOSTADDR") or setting("host", "PGHOST")
    if not hosts:
        return None  # libpq's default: the local socket
    return ("verify-full" if any(h and not h.startswith(("/", "@")) for h in hosts.split(","))
            else None)
