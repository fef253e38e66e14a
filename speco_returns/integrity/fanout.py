"""SQLite's doctor at a million returns: its parts side by side. The integrity check, both chains
and the replay of the upper half of the returns each run in a worker process while doctor
replays the lower half: they read the file at once, so every core works and none waits on a
single long part. An optimisation only: each part is the same function doctor runs itself when
no worker can start (and on a server, where the server does its own page checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..db import audit
from ..db.connection import Database
from . import chains, replay

# the share of returns doctor replays beside the workers (it also runs the other checks)
REPLAY_HERE = 0.5


def split(db: Database) -> int:
    """The return id up to which doctor replays; a worker replays the rest."""
    low, high = audit.span(db)
    return low + int((high - low) * REPLAY_HERE)


def work(db: Database, task: str) -> dict:
    """One part: `integrity` (SQLite's full check), `chains`, `replay:AFTER:UPTO`."""
    if task == "integrity":
        return {"integrity": audit.integrity_check(db)}
    if task == "chains":
        return {"chains": chains.verify_all(db)}
    _, after, upto = task.split(":")
    lines, found = replay.replay(db, None, int(after), int(upto))
    return {"lines": lines, "found": found}


# A worker runs this package, from where this one was loaded, and nothing else: `-I` keeps the
# current folder, PYTHONPATH and the user's site-packages off its sys.path (`python -m` would
# import a `speco_returns/` planted in the folder doctor is run from, and run it as this account).
WORKER_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from speco_returns.integrity.fanout import main; main(*sys.argv[2:])")


def worker_command(path: Path, task: str) -> list[str]:
    return [sys.executable, "-I", "-c", WORKER_CODE, str(Path(__file__).resolve().parents[2]),
            str(path), task]


def start(path: Path, upto: int) -> dict[str, subprocess.Popen] | None:
    """The workers, started; None when none can start (then doctor does all of it)."""
    started: dict[str, subprocess.Popen] = {}
    try:
        for task in ("integrity", "chains", f"replay:{upto}:{replay.ALL}"):
            started[task] = subprocess.Popen(worker_command(path, task), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        stop(started)
        return None
    return started


def stop(workers: dict[str, subprocess.Popen] | None) -> None:
    """End any worker still running (an error on the way: no process is left behind)."""
    for proc in (workers or {}).values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def result(db: Database, task: str, workers: dict | None, progress) -> dict:
    """A part's result: its worker's, or worked out here when it has none or it failed."""
    proc = (workers or {}).get(task)
    if proc is not None:
        out, _ = proc.communicate()
        if proc.returncode == 0:
            found = json.loads(out)
            if "chains" in found:  # JSON has lists where the check gives tuples
                found["chains"] = {t: (bad, head) for t, (bad, head) in found["chains"].items()}
            return found
    if progress:
        progress(task.split(":")[0].replace("integrity", "integrity check"), 0, 0)
    return work(db, task)


def main(path: str, task: str) -> None:
    """A worker: one part as JSON on stdout."""
    from ..db.database import open_database

    db = open_database(path, read=True, diagnose=True, migrate=False)
    try:
        db.engine.fast_reads(db.raw)
        print(json.dumps(work(db, task)))
    finally:
        db.close()
