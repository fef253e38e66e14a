"""The files the tool creates: the database (never world-accessible), and files written
whole or not at all (export --output, backup), which never overwrite the database."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ReturnsError

# Nothing the tool creates is world-accessible; the group follows the umask, so a team can
# share a database through a group (docs/admin.md: a group, a setgid folder, umask 007).
FILE_MODE, FOLDER_MODE = 0o660, 0o770
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def umask() -> int:
    current = os.umask(0o077)
    os.umask(current)
    return current


def private_mode(mode: int = FILE_MODE) -> int:
    return mode & ~umask() & ~0o007


def make_private_folder(folder: Path) -> None:
    """A folder the tool makes (the default database folder, the shell history's): never
    world-accessible, the group as the umask says."""
    folder.mkdir(mode=FOLDER_MODE & ~0o007, parents=True, exist_ok=True)


def create_private(path: Path, *, make_folder: bool) -> None:
    """An empty database file made before SQLite opens it, so it (and the -wal/-shm SQLite
    makes beside it, which copy its mode) is never world-accessible. The folder must exist,
    unless it is the default one (`make_folder`): a mistyped --db or an unmounted disk must
    not quietly start a new, empty database."""
    folder = path.parent
    if not folder.is_dir():
        if not make_folder:
            raise ReturnsError(f"folder {folder} does not exist: create it first, or check --db")
        make_private_folder(folder)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private_mode())
    except FileExistsError:  # another process made it first: it will be the same database
        return
    os.fchmod(fd, private_mode())  # os.open applied the umask; this also drops any world bit
    os.close(fd)


def writable(path: Path) -> bool:
    """Can this account write the database and its folder (where SQLite puts -wal/-shm)?
    False on a read-only mount too (access() reports EROFS even for root)."""
    return os.access(path, os.W_OK) and os.access(path.parent if str(path.parent) else ".", os.W_OK)


def refuse_overwriting(target: Path, protected: list[Path], what: str) -> None:
    """No output may be the database, its -wal/-shm/-journal, or a path that resolves to one
    of them (a symlink, a hard link): with or without --force."""
    # a server database (path None) has no file
    names = {f"{base}{side}" for p in protected if p is not None
             for base in (p.absolute(), p.resolve()) for side in ("", *SQLITE_SIDE_FILES)}
    if {str(target.absolute()), str(target.resolve())} & names:
        raise ReturnsError(f"{what} {target} is the database or one of its files: "
                           "choose another name")
    if target.exists():
        for name in names:
            try:
                if os.path.samefile(target, name):
                    raise ReturnsError(f"{what} {target} is the database or one of its files: "
                                       "choose another name")
            except OSError:
                continue


# .NAME.PID.RANDOM.tmp, and the -journal/-wal/-shm SQLite may leave beside a backup's.
_TEMP = r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[A-Za-z0-9_]{8}\.tmp(?:-journal|-wal|-shm)?"


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None if it does not run."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as another user
    boot = _boot_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") if boot is not None else 0.0
    except (OSError, IndexError, ValueError):
        return 0.0  # it runs; when it started is unknown, so count its files as live


def stale_temp_files(folder: Path) -> list[Path]:
    """Temporary files of a killed export or backup: named by a pid that no longer runs, or
    that runs but started after the file was last written (a reused pid)."""
    stale = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = re.fullmatch(_TEMP, entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        started = _started(int(m["pid"]))
        try:
            if started is None or started > entry.stat(follow_symlinks=False).st_mtime + 1:
                stale.append(Path(entry.path))
        except OSError:
            continue
    return sorted(stale)


def remove_stale(folder: Path) -> None:
    for path in stale_temp_files(folder):
        try:
            path.unlink()
        except OSError:
            pass  # another account's, or gone already: doctor reports what is left


@contextmanager
def write_whole(path: Path, *, force: bool, protected: list[Path] = (),
                what: str = "--output") -> Iterator[str]:
    """Yield a temporary file's name beside `path`; when the block ends, sync it and move it
    into place: over an existing file only with `force`. On any error it is removed, so a
    reader never sees half a file. The temporary name carries our pid, so the next export or
    backup to the folder can tell a killed one's leftovers from a running one's."""
    path = path.expanduser()
    refuse_overwriting(path, list(protected), what)
    if path.is_dir():
        raise ReturnsError(f"{path} is a folder: give a file name")
    if path.exists() and not force:
        raise ReturnsError(f"{path} already exists: pass --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ReturnsError(f"folder {folder} does not exist")
    remove_stale(folder)
    import tempfile  # here, not at the top: most commands never write a file whole (startup)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    os.fchmod(fd, private_mode())  # mkstemp makes 0600: let the group in as the umask says
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails rather than overwrite a file that appeared meanwhile
            except FileExistsError:
                raise ReturnsError(f"{path} already exists: pass --force to overwrite it") from None
            os.unlink(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
