"""The agents' tour (docs/agents.md) and the README's first return run as written, and every
comment in them is true.

The tour's ```sh blocks (from "## A tour" to the next "## " heading; in the README, from "## A
first return") are run in order, as one bash script with the installed `speco-returns` on the
PATH, in an empty folder. A comment after a command says what happens; the convention (also in
docs/agents.md, above the tour) is:

- `refused` anywhere in the comment: exit 1, and every rule ID in the comment (AR-2, STD-1, ...)
  is named in the output; `exit N`: exit N; otherwise exit 0. A command without a comment exits 0.
- every RA number (and every ticket ID given earlier with `--ticket`) in the comment appears in
  the command's output;
- `→ STATE`: the return's state afterwards. The return is the first RA number or ticket among
  the command's arguments, else the first one in the comment.

Full-line comments are prose and are not checked. New blocks need nothing more than the
convention: this test picks them up.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
AGENTS = ROOT / "docs" / "agents.md"
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
RULE = re.compile(r"\b(?:STD|OTC|AR|VR|SER)-\d\b")
RA = re.compile(r"\bRA-\d{6,}\b", re.IGNORECASE)
STATE = re.compile(r"→\s*([a-z][a-z-]*[a-z])")


@dataclass
class Step:
    line: int  # in the doc, for the failure message
    command: str
    comment: str
    tickets: set[str] = field(default_factory=set)  # ticket IDs given by --ticket so far

    @property
    def runs_tool(self) -> bool:
        return self.command.split()[0] == "speco-returns"

    @property
    def exit_code(self) -> int:
        code = re.search(r"\bexit (\d+)\b", self.comment)
        return int(code.group(1)) if code else 1 if "refused" in self.comment else 0

    @property
    def rules(self) -> list[str]:
        return RULE.findall(self.comment)

    def keys_in(self, text: str) -> list[str]:
        found = [m.group(0).upper() for m in RA.finditer(text)]
        return found + [t for t in sorted(self.tickets)
                        if re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", text)]

    @property
    def expected_state(self) -> str | None:
        m = STATE.search(self.comment)
        return m.group(1) if m else None

    @property
    def subject(self) -> str | None:
        args = shlex.split(self.command)
        for arg in args[1:]:
            if RA.fullmatch(arg) or arg.upper() in self.tickets:
                return arg
        keys = self.keys_in(self.comment)
        return keys[0] if keys else None


def split_comment(line: str) -> tuple[str, str]:
    """`cmd --x "a # b"   # comment` -> (cmd part, comment); a '#' inside quotes is not one."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def tour_steps(doc: str, heading: str = "## A tour") -> list[Step]:
    start = doc.index("\n" + heading)
    end = doc.find("\n## ", start + 1)
    section_at = doc[:start].count("\n") + 1
    section = doc[start:end if end > 0 else None]
    steps: list[Step] = []
    tickets: set[str] = set()
    for block in re.finditer(r"```sh\n(.*?)```", section, re.S):
        first_line = section_at + section[:block.start(1)].count("\n")
        pending, pending_at = "", 0
        for n, raw in enumerate(block.group(1).splitlines()):
            if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
                continue
            if not pending:
                pending_at = first_line + n
            command, comment = split_comment(raw)
            if command.endswith("\\"):
                pending += command[:-1].rstrip() + " "
                continue
            command = pending + command.strip()
            pending = ""
            args = shlex.split(command)
            tickets |= {args[i + 1].upper() for i, a in enumerate(args[:-1]) if a == "--ticket"}
            steps.append(Step(pending_at, command, comment, set(tickets)))
    return steps


def run_tour(steps: list[Step], folder: Path, doc: str = "docs/agents.md") -> list[str]:
    """Run every step in one bash (so `export` carries on), then check each; returns the
    failures."""
    out = folder / ".tour"
    out.mkdir()
    script = ["set +e"]
    for i, step in enumerate(steps):
        script.append(f"{{ {step.command}\n}} >{out}/{i}.out 2>{out}/{i}.err; "
                      f"echo $? >{out}/{i}.rc")
        if step.runs_tool and step.expected_state and step.subject:
            script.append(f"speco-returns show {shlex.quote(step.subject)} --json "
                          f">{out}/{i}.state 2>&1")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SPECO_RETURNS_") and k != "COLUMNS"}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(folder),
               SPECO_RETURNS_AGENT="tour", SPECO_RETURNS_DB=str(folder / "default.db"),
               NO_COLOR="1")
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                   check=True, timeout=300)
    failures = []
    for i, step in enumerate(steps):
        rc = int((out / f"{i}.rc").read_text())
        stdout, stderr = (out / f"{i}.out").read_text(), (out / f"{i}.err").read_text()
        where = f"{doc} line {step.line}: {step.command}  # {step.comment}"
        if rc != step.exit_code:
            failures.append(f"{where}\n    exit {rc}, the comment says {step.exit_code}: "
                            f"{stderr.strip()[:300]}")
            continue
        output = (stdout + stderr).upper()
        for rule in step.rules:  # on stderr, or in `check`'s table of broken rules
            if step.exit_code == 1 and rule not in output:
                failures.append(f"{where}\n    refused without naming {rule}: {stderr.strip()}")
        for key in step.keys_in(step.comment):
            if key not in output:
                failures.append(f"{where}\n    {key} is not in the output")
        if step.expected_state and step.runs_tool:
            state_file = out / f"{i}.state"
            if not step.subject or not state_file.exists():
                failures.append(f"{where}\n    → {step.expected_state}, but which return? name its "
                                "RA number")
                continue
            try:
                status = json.loads(state_file.read_text())["status"]
            except (ValueError, KeyError):
                failures.append(f"{where}\n    show {step.subject} failed: "
                                f"{state_file.read_text().strip()}")
                continue
            if status != step.expected_state:
                failures.append(f"{where}\n    {step.subject} is {status}, the comment says "
                                f"{step.expected_state}")
    return failures


@pytest.mark.slow
def test_the_agents_tour_runs_as_written(tmp_path):
    steps = tour_steps(AGENTS.read_text())
    failures = run_tour(steps, tmp_path)
    assert not failures, "\n" + "\n".join(failures)


@pytest.mark.slow
def test_the_readme_first_return_runs_as_written(tmp_path):
    steps = tour_steps(README.read_text(), "## A first return")
    assert len(steps) >= 5 and sum(1 for s in steps if s.expected_state) >= 3
    failures = run_tour(steps, tmp_path, "README.md")
    assert not failures, "\n" + "\n".join(failures)


def test_the_tour_checks_what_it_claims():
    """The tour is not vacuous: it pins the date, opens what it uses and checks outcomes."""
    steps = tour_steps(AGENTS.read_text())
    assert (steps[0].command.startswith("export SPECO_RETURNS_")
            or steps[1].command.startswith("export SPECO_RETURNS_TODAY"))
    assert any(s.command.startswith("export SPECO_RETURNS_TODAY=") for s in steps[:2])
    assert sum(1 for s in steps if s.exit_code == 1) >= 3
    assert sum(1 for s in steps if s.expected_state) >= 10
    used = {k for s in steps for k in RA.findall(s.command)}
    opened = {k for s in steps if " open " in f" {s.command} " for k in s.keys_in(s.comment)}
    assert {u.upper() for u in used} <= opened, \
        "every RA the tour uses is opened in it, its number in the comment"


BAD_TOUR = """
## A tour

```sh
export SPECO_RETURNS_TODAY=2026-11-02
speco-returns catalog add O4B3 --category camera --list-price 249.99
speco-returns open --type standard --customer "A # not a comment" --item O4B3   # RA-000001 → completed
speco-returns ship RA-000001           # refused (AR-2)
speco-returns show RA-000002           # RA-000002
speco-returns receive RA-000001 \\
    --on 2026-11-02                    # → unit-received
```

## Next
"""  # noqa: E501 (a tour line as long as the docs may write one)


@pytest.mark.slow
def test_a_false_comment_fails_the_tour(tmp_path):
    steps = tour_steps(BAD_TOUR)
    assert [s.line for s in steps] == [5, 6, 7, 8, 9, 10]
    assert steps[2].command.endswith("--item O4B3") and "not a comment" in steps[2].command
    assert steps[5].command == "speco-returns receive RA-000001 --on 2026-11-02"
    failures = run_tour(steps, tmp_path)
    assert len(failures) == 3, failures
    assert "RA-000001 is authorized, the comment says completed" in failures[0]
    assert "refused without naming AR-2" in failures[1]  # it is STD-1
    assert "exit 1, the comment says 0" in failures[2]  # no RA-000002
