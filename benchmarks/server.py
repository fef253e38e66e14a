"""The server leg of the benchmarks (issue 14), run by run.py:

- `server`: the same commands on SQLite and on PostgreSQL, the same data (the SQLite databases
  moved to the server by the product's own `admin copy`), and the server's own scale ratios;
- `sqlite-start`: SQLite's start with this package against the package as it was just before
  the server landed, each installed in a venv of its own.

See benchmarks/README.md for what each ratio means.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from run import (
    AS_OF,
    HERE,
    OPEN_SHARE,
    SPECO,
    Cmd,
    CommandFailed,
    Ratio,
    deliveries_argv,
    measure,
    open_argv,
    package_venv,
    pick,
    run_once,
)

sys.path.insert(0, str(HERE.parent / "tests"))
import pgserver  # noqa: E402 - the tests' throwaway server, started the same way here

BEFORE_SERVER = "98901a8"  # main just before PostgreSQL landed: the parent of c8c6b20
# both venvs get the versions installed here
PINNED = ("typer", "rich", "sqlite-utils", "python-dateutil")


# --- a server and the data on it ------------------------------------------------------------------


def server_url(args, notes: list[str]) -> tuple[str | None, pgserver.Server | None]:
    """The server to measure: --pg URL; in a smoke run the tests' server when SPECO_TEST_PG names
    one (.ci/run's); else a throwaway one started here. (None, None) and one line when none can
    be."""
    url = args.pg or (os.environ.get("SPECO_TEST_PG") if args.smoke else None)
    try:
        import psycopg  # noqa: F401 - the leg makes its databases with it
        why = None
    except ImportError:
        why = "psycopg is not installed (pip install -e '.[postgres]')"
    if why is None and url is None:
        why = pgserver.available()  # the binaries
    if why is None and url is None:
        server = pgserver.Server()
        try:
            return server.start(durable=True), server
        # any reason a local server cannot start, as conftest words it
        except Exception as e:  # noqa: BLE001
            server.stop()
            why = f"cannot start a local server ({e})"
    if why:
        line = f"server: skipped: {why}; give --pg URL to measure on a server."
        print(line, flush=True)
        notes.append(line)
        return None, None
    return url, None


def _fingerprint(meta: dict) -> str:
    """What the server database was copied from: the generated database's record and the schema."""
    from speco_returns.db.migrations import SCHEMA_VERSION

    return "speco-bench " + hashlib.sha256(
        json.dumps([meta, SCHEMA_VERSION], sort_keys=True).encode()).hexdigest()[:16]


def on_server(admin_url: str, db: Path, meta: dict, env: dict) -> tuple[str, float | None]:
    """The URL of `db`'s copy on the server (database speco_bench_N_overdueK), made with
    `admin copy --to URL` unless a copy of the same generated database is there already.
    Returns (url, seconds the copy took, or None when reused)."""
    import psycopg
    from psycopg import sql

    name = f"speco_bench_{meta['returns']}_overdue{meta['overdue']}"
    url, mark = pgserver.with_dbname(admin_url, name), _fingerprint(meta)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                             "WHERE datname = %s", [name]).fetchone()
        if found and found[0] == mark:
            print(f"reusing {name} on the server", flush=True)
            return url, None
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"copying {db.name} to {name} on the server (admin copy --to URL) ...", flush=True)
    seconds = run_once([*SPECO, "--db", str(db), "admin", "copy", "--to", url], env).seconds
    with psycopg.connect(admin_url, autocommit=True) as conn:  # marked only once the copy verified
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name),
                                                                     sql.Literal(mark)))
    return url, seconds


def _clone(admin_url: str, template_url: str, name: str, drop: bool = False) -> str:
    """A copy of a server database made from its files (CREATE DATABASE ... TEMPLATE), or, with
    `drop`, that copy dropped."""
    import psycopg
    from psycopg import sql

    template = urlsplit(template_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))
        if not drop:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)))
    return pgserver.with_dbname(admin_url, name)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for buf in iter(lambda: f.read(1 << 20), b""):
            h.update(buf)
    return h.hexdigest()


def _same(what: str, sqlite_out: Path, server_out: Path, differ: list[str]) -> None:
    if _digest(sqlite_out) != _digest(server_out):
        differ.append(what)


# --- the server leg -------------------------------------------------------------------------------


def server_leg(big: Path, small: Path, metas: tuple[dict, dict], ra: str, model: str, args,
               env: dict, report, notes: list[str]) -> None:
    """open, show, overdue, export returns and report at N returns on SQLite and on the server,
    interleaved in one run; the server's scale ratios (N against --small) as SQLite's."""
    admin_url, server = server_url(args, notes)
    if admin_url is None:
        return
    n, out, differ = args.returns, args.data / "server-out", []
    out.mkdir(exist_ok=True)
    import psycopg

    try:
        big_url, big_copy = on_server(admin_url, big, metas[0], env)
        small_url, small_copy = on_server(admin_url, small, metas[1], env)
        if big_copy is not None and small_copy is not None:
            report(Ratio("server: admin copy", f"admin copy --to URL, {n:,}", f"at {args.small:,}",
                         big_copy, small_copy, None))
        else:
            notes.append("server: the databases were on the server already "
                         "(copied by an earlier run from the same generated files).")

        def cmd(label: str, db, *tail: str, stdout: bool = True) -> Cmd:
            return Cmd(label, [*SPECO, "--db", str(db), *tail],
                       stdout=out / f"{label}.out" if stdout else None)

        where = f"SQLite, {n:,}"

        def both_and_scale(name: str, tail: tuple[str, ...], target: float) -> None:
            """The command on SQLite and on the server at N, and on the server at --small."""
            cmds = [cmd(f"{name}-{x}", db, *tail) for x, db in
                    (("sqlite", big), ("server", big_url), ("server-small", small_url))]
            measure(cmds, args.runs, env)
            what = " ".join(tail[:2])
            _same(what, cmds[0].stdout, cmds[1].stdout, differ)
            report(Ratio(f"server: {name}", f"{what} on the server, {n:,}", where, cmds[1].seconds,
                         cmds[0].seconds, None))
            report(Ratio(f"server: {name} scale", f"{what} on the server, {n:,}",
                         f"at {args.small:,}", cmds[1].seconds, cmds[2].seconds, target))

        show = [cmd("show-sqlite", big, "show", ra), cmd("show-server", big_url, "show", ra)]
        measure(show, args.runs, env)
        _same("show", show[0].stdout, show[1].stdout, differ)
        report(Ratio("server: show", f"show {ra} on the server, {n:,}", where, show[1].seconds,
                     show[0].seconds, None))
        # One doctor, both engines: the server's time beside SQLite's (their reports differ: a
        # file's integrity check and sizes, a server's version and audit).
        doc = [cmd("doctor-sqlite", big, "doctor", "--json"),
               cmd("doctor-server", big_url, "doctor", "--json")]
        measure(doc, args.runs, env)
        report(Ratio("server: doctor", f"doctor on the server, {n:,}", where, doc[1].seconds,
                     doc[0].seconds, None))

        both_and_scale("overdue", ("overdue", "--json", "--as-of", AS_OF), 1.3)
        csv = {x: out / f"export-{x}.csv" for x in ("sqlite", "server", "server-small")}
        export = [cmd(f"export-{x}", db, "export", "returns", "--output", str(csv[x]), "--force",
                      stdout=False)
                  for x, db in (("sqlite", big), ("server", big_url), ("server-small", small_url))]
        measure(export, args.runs, env)
        _same("export returns", csv["sqlite"], csv["server"], differ)
        report(Ratio("server: export", f"export returns -o FILE on the server, {n:,}", where,
                     export[1].seconds, export[0].seconds, None))
        report(Ratio("server: export memory", f"peak RSS, export on the server at {n:,}",
                     f"at {args.small:,}", export[1].rss_mb, export[2].rss_mb, 1.2, unit="MB"))
        report(Ratio("server: export RSS/SQLite", f"peak RSS, export on the server at {n:,}", where,
                     export[1].rss_mb, export[0].rss_mb, None, unit="MB"))

        both_and_scale("report", ("report", "--json"), 1.5)
        from carrier_files import ROWS, carrier_file

        carriers = args.data / f"carrier-{ROWS}.csv"
        if not carriers.exists():
            carrier_file(big, carriers)
        imports = [Cmd(f"deliveries-{x}", deliveries_argv(db, carriers),
                       stdout=out / f"deliveries-{x}.out")
                   for x, db in (("sqlite", big), ("server", big_url))]
        measure(imports, args.runs, env)
        _same("deliveries import", imports[0].stdout, imports[1].stdout, differ)
        report(Ratio("server: deliveries import",
                     f"deliveries import {ROWS:,} rows --dry-run on the server, {n:,}", where,
                     imports[1].seconds, imports[0].seconds, None))
        open_both(big, big_url, admin_url, ra, model, args, env, report)
        notes.append(f"warning: server: {', '.join(differ)} printed other bytes on the server "
                     "than on SQLite." if differ else
                     "server: show, overdue --json, export returns and report --json printed the "
                     "same bytes on both.")
        if args.smoke and server is None:  # the tests' server: leave it as it was
            for url in (big_url, small_url):
                _clone(admin_url, url, urlsplit(url).path.lstrip("/"), drop=True)
    except psycopg.Error as e:
        raise CommandFailed(f"server: {e}") from None
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if server is not None:
            server.stop()


def open_both(big: Path, big_url: str, admin_url: str, ra: str, model: str, args, env: dict,
              report) -> None:
    """`open` on a copy of the SQLite file against `open` on a copy of the server database, so both
    generated databases stay as generated (and a reused server copy stays equal to its file)."""
    n = args.returns
    copy = args.data / f"server-open-copy-{n}.db"
    shutil.copyfile(big, copy)
    clone = f"speco_bench_open_{os.getpid()}"
    try:
        clone_url = _clone(admin_url, big_url, clone)
        opens = [Cmd("open sqlite", lambda i: open_argv(copy, model, f"BENCH-{os.getpid()}-{i}")),
                 Cmd("open server",
                     lambda i: open_argv(clone_url, model, f"BENCH-{os.getpid()}-{i}"))]
        measure(opens, args.runs, env)
        report(Ratio("server: open", f"open --type advanced --yes on the server, {n:,}",
                     f"SQLite, {n:,}", opens[1].seconds, opens[0].seconds, None))
    finally:
        _clone(admin_url, big_url, clone, drop=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)


# --- SQLite's start before and after the server ---------------------------------------------------


def sqlite_start(small: Path, overdue: int, args, env: dict, report, notes: list[str]) -> None:
    """`show RA` on SQLite: this package against the package at BEFORE_SERVER, each in its own
    venv with the same pinned dependencies, each on the --small database its own generator makes
    (the older package refuses a database migrated past its schema)."""
    from run import _version

    pins = [f"{d}=={_version(d)}" for d in PINNED]
    source = args.data / f"src-{BEFORE_SERVER}"
    if not (source / "pyproject.toml").exists():
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", BEFORE_SERVER],
                                 capture_output=True)
        if archive.returncode:
            notes.append(f"sqlite-start: skipped: commit {BEFORE_SERVER} is not in this "
                         "repository's history.")
            shutil.rmtree(source, ignore_errors=True)
            return
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    now = package_venv(args.data / "venv-current", pins, HERE.parent, env)
    before = package_venv(args.data / f"venv-{BEFORE_SERVER}", pins, source, env, refresh=False)
    before_db = args.data / f"before-{BEFORE_SERVER}-{args.small}-overdue{overdue}.db"
    if not Path(f"{before_db}.meta.json").exists():
        subprocess.run([str(before), str(source / "benchmarks" / "generate.py"),
                        "--returns", str(args.small), "--overdue", str(overdue),
                        "--open-share", str(OPEN_SHARE), "--db", str(before_db), "--quiet"],
                       check=True, env=env)
    ra_now = pick(small, "SELECT printf('RA-%06d', min(id)) FROM returns "
                         "WHERE type = 'advanced' AND status = 'completed'")
    ra_before = pick(before_db, "SELECT printf('RA-%06d', min(id)) FROM returns "
                                "WHERE type = 'advanced' AND status = 'completed'")
    shows = [Cmd("show now", [str(now.with_name("speco-returns")), "--db", str(small), "show",
                              ra_now]),
             Cmd("show before", [str(before.with_name("speco-returns")), "--db", str(before_db),
                                 "show", ra_before]),
             Cmd("show --json now", [str(now.with_name("speco-returns")), "--db", str(small),
                                     "show", ra_now, "--json"]),
             Cmd("show --json before", [str(before.with_name("speco-returns")), "--db",
                                        str(before_db), "show", ra_before, "--json"])]
    measure(shows, args.runs * 8, env)  # a 2% target: eight times the runs
    report(Ratio("SQLite start, since the server",
                 f"show RA on SQLite, {args.small:,}, this package",
                 f"the same, package at {BEFORE_SERVER}", shows[0].seconds, shows[1].seconds, 1.02))
    report(Ratio("SQLite start, CPU time",
                 "show RA on SQLite: the process's CPU time, this package",
                 f"the same at {BEFORE_SERVER}", shows[0].cpu_seconds, shows[1].cpu_seconds, None))
    report(Ratio("SQLite start, JSON", "show RA --json, this package",
                 f"the same at {BEFORE_SERVER}", shows[2].seconds, shows[3].seconds, None))
    notes.append(f"sqlite-start: {before.parent.parent} holds the package at {BEFORE_SERVER}, "
                 f"{now.parent.parent} this one, both with {', '.join(pins)}.")
