"""A throwaway PostgreSQL server for the tests, as .ci/run starts one: Debian's binaries, a
`mktemp -d` folder owned by `postgres` when we are root (initdb refuses root), a unix socket
only, trust authentication on that socket, gone when stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

BIN = Path(os.environ.get("SPECO_PG_BIN", "/usr/lib/postgresql/15/bin"))
LOGIN = "tester"  # the tests' SPECO_RETURNS_AGENT: on a server the recorded agent is the login
# the one login that needs a password (pg_hba.conf), as .ci/run sets it up
PASSWORD_LOGIN = "speco_pw"


class Server:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="speco-pg-"))
        self.data, self.sock = self.base / "data", self.base / "sock"
        self.sock.mkdir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sock, "postgres")
        self.started = False

    def _run(self, *args: str) -> None:
        cmd = [str(BIN / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self, durable: bool = False) -> str:
        """Start it; returns the URL of its `postgres` database as the superuser LOGIN.

        The tests' server skips fsync (a crash loses nothing they need); `durable` keeps the
        server's defaults for fsync and commits, as a team's server runs, with the buffers of a
        small dedicated one: the benchmark compares it with SQLite, which fsyncs every write."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        # One login with a password (the wrong-password test); everyone else by trust, on the
        # socket only.
        hba = self.data / "pg_hba.conf"
        hba_text = (f"local all {PASSWORD_LOGIN} scram-sha-256\n" + hba.read_text()
                    if not self.as_postgres else None)
        if self.as_postgres:
            subprocess.run(["runuser", "-u", "postgres", "--", "sed", "-i",
                            f"1i local all {PASSWORD_LOGIN} scram-sha-256",
                            str(hba)], check=True, timeout=30)
        else:
            hba.write_text(hba_text)
        opts = f"-k {self.sock} -c listen_addresses='' -c max_connections=200 "
        opts += "-c shared_buffers=256MB" if durable else (
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-o", opts, "-w",
                  "-t", "60", "start")
        self.started = True
        url = self.url("postgres", user="postgres")
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {LOGIN} LOGIN SUPERUSER")
        return self.url("postgres")

    def url(self, dbname: str, user: str = LOGIN) -> str:
        return f"postgresql:///{dbname}?host={self.sock}&user={user}"

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (subprocess.SubprocessError, OSError):
                pass
        shutil.rmtree(self.base, ignore_errors=True)


def with_dbname(url: str, name: str) -> str:
    """The same server and login, another database."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")


def available() -> str | None:
    """Why a local server cannot be started, or None."""
    if not (BIN / "initdb").exists():
        return f"no PostgreSQL binaries in {BIN} (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test,postgres]')"
    return None


@contextmanager
def scratch_database(pg_admin, name: str):
    """An empty database of its own on the tests' server (its URL), dropped afterwards."""
    url, admin = pg_admin
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_dbname(url, name)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
