"""The house's rules, read from the code (docs/architecture.md): dependencies point down, no
import circles, nothing imports the command line but `__main__`, no module over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "speco_returns"
MAX_LINES = 500

# What each part of the package may import (besides itself and the standard library). A part is
# a subpackage (`db`, `domain`, ...) or a top-level module (`errors`, `files`, `mailer`).
ALLOWED = {
    "digits": set(),
    "errors": {"digits"},
    "files": {"digits", "errors"},
    "domain": {"errors", "digits"},
    "db": {"digits", "errors", "files", "domain"},
    "mailer": {"digits", "errors", "files", "domain", "db"},
    "integrity": {"digits", "errors", "files", "domain", "db"},
    "admin": {"digits", "errors", "files", "domain", "db", "integrity"},
    "services": {"digits", "errors", "files", "domain", "db", "mailer"},
    "cli": {"digits", "errors", "files", "domain", "db", "mailer", "integrity", "admin",
            "services"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules `name` imports (a `from x import y` counts y when y is a module)."""
    out = set()
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1]
                                + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_dependencies_point_down(module):
    mine = _part(module)
    assert mine in ALLOWED, (f"{module}: a part the house does not know ({mine}): add it to "
                             "ALLOWED and docs/architecture.md")
    wrong = sorted(t for t in GRAPH[module] if _part(t) != mine and _part(t) not in ALLOWED[mine]
                   and _part(t) != "__init__")
    assert not wrong, f"{module} imports {wrong}, which {mine} may not use"


def test_nothing_imports_the_command_line_but_main():
    users = sorted(m for m, targets in GRAPH.items() if _part(m) not in ("cli", "__main__")
                   and any(_part(t) == "cli" for t in targets))
    assert not users


def test_no_import_circles():
    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            for t in GRAPH.get(m, ()):
                if t == goal:
                    return True
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return False

    circles = sorted({tuple(sorted((a, b))) for a in GRAPH for b in GRAPH[a] if reaches(b, a)})
    assert not circles


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_500_lines(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


# A statement's first word, as SQL starts one; a text counts when that word is in capitals (as
# every statement of the package is written), so "Select a return" in a help text does not.
SQL_START = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "PRAGMA", "COPY",
             "BEGIN", "COMMIT", "ROLLBACK", "ANALYZE", "WITH", "GRANT", "REVOKE", "LOCK",
             "TRUNCATE", "VACUUM")
DRIVERS = ("sqlite3", "psycopg", "sqlite_utils")


def _sql_texts(path: Path) -> list[str]:
    """The string literals (an f-string by its first literal part) that begin an SQL statement,
    and the imports of a database driver."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif (isinstance(node, ast.JoinedStr) and node.values
              and isinstance(node.values[0], ast.Constant)):
            text = str(node.values[0].value)
        if text is not None and text.split(None, 1)[:1] and text.split(None, 1)[0] in SQL_START:
            found.append(f"line {node.lineno}: {text.strip()[:50]!r}")
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        found += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] in DRIVERS]
    return list(dict.fromkeys(found))  # an f-string's first part is also a literal of its own


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) != "db"))
def test_sql_and_the_drivers_live_in_db_only(module):
    found = _sql_texts(MODULES[module])
    assert not found, f"{module}: SQL or a driver outside db/ (move it to a query module): {found}"


def test_the_sql_finder_finds_sql():
    """The check above is only as good as its finder: it finds a statement, an f-string's and
    a driver's import in a module written for it, and not a sentence."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.py"
        probe.write_text('import sqlite3\nA = "SELECT 1"\nB = f"DELETE FROM {A}"\nC = "Select a '
                         'return"\n')
        assert [line.split(":")[0] for line in _sql_texts(probe)] == ["line 1", "line 2", "line 3"]
