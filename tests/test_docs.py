"""Docs that cannot drift: every command has help and appears in the docs, which say what the
help says (the environment, the date forms, what `complete` means).

The docs are by reader: README.md (short), docs/agents.md, docs/admin.md, docs/accounting.md,
docs/data-safety.md, docs/architecture.md, CONTRIBUTING.md; docs/commands.md lists every command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from speco_returns.cli import app

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
AGENTS = (ROOT / "docs" / "agents.md").read_text()
ADMIN = (ROOT / "docs" / "admin.md").read_text()
COMMANDS_DOC = (ROOT / "docs" / "commands.md").read_text()
GENERATED = {"commands.md", "policy.md"}
# The docs written by hand, for a reader: each command and option is explained in one of them.
WRITTEN = "\n".join([README] + [p.read_text() for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in GENERATED])


def _commands(typer_app: typer.Typer, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for info in typer_app.registered_commands:
        found.append((prefix + info.name, info.callback))
    for group in typer_app.registered_groups:
        own = group.typer_instance.registered_callback  # a group that is a command too (`report`)
        if own is not None and own.callback is not None:
            found.append((prefix + group.name, own.callback))
        found.extend(_commands(group.typer_instance, prefix + group.name + " "))
    return found


COMMANDS = _commands(app)


def test_every_spec_command_exists():
    names = {name for name, _ in COMMANDS}
    spec = {"policy", "check", "open", "serial add", "serial remove", "serial find", "show", "list", "link",
            "hold", "ship", "deliver", "unit-shipped", "receive", "charge", "complete", "cancel", "note",
            "overdue", "export ledger", "export returns", "catalog add", "catalog import", "catalog list",
            "backup", "doctor", "refund", "report", "export holds"}
    assert spec <= names


@pytest.mark.parametrize("name,callback", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_is_in_the_docs(name, callback):
    assert (callback.__doc__ or "").strip(), f"{name} has no help text"
    assert re.search(rf"(speco-returns |`){re.escape(name)}[ `]", WRITTEN), f"{name} is in no doc written for a reader"


def test_readme_set_up_commands():
    assert "python3 -m pip install . && speco-returns open" in README
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest" in README


def test_help_lists_every_command(bare_cli):
    result = bare_cli("--help")
    assert result.exit_code == 0
    for name, _ in COMMANDS:
        assert name.split()[0] in result.stdout


# --- help that reads like the product, in step with the docs ------------------------------

def _leaves(command, path=()):
    subs = getattr(command, "commands", None)
    if subs is None:
        yield " ".join(path), command
        return
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


def _click_app():
    import typer.main

    return typer.main.get_command(app)


LEAVES = list(_leaves(_click_app()))


@pytest.mark.parametrize("name", [""] + sorted({n.split()[0] for n, _ in LEAVES}) + [n for n, _ in LEAVES if " " in n])
def test_help_shows_names_not_python_types(bare_cli, name):
    result = bare_cli(*name.split(), "--help")
    assert result.exit_code == 0, result.output
    for python_type in ("<bool>", "<str>", "<int", "<list[", "<path>", "{", "[[", "<float>"):
        assert python_type not in result.stdout, (name, python_type, result.stdout)


@pytest.mark.parametrize("name,command", LEAVES, ids=[n for n, _ in LEAVES])
def test_every_command_has_one_example_that_parses_and_is_in_the_commands_doc(bare_cli, name, command):
    import shlex

    help_text = " ".join(bare_cli(*name.split(), "--help").stdout.split())
    examples = re.findall(r"Example: (speco-returns .*?)(?: ╭|$)", help_text)
    assert len(examples) == 1, (name, help_text)
    example = (command.help or "").split("Example: ", 1)[1].strip()
    assert " ".join(example.split()) == examples[0].strip()
    args = shlex.split(example)[1:]
    assert " ".join(args[:len(name.split())]) == name, f"{name}'s example runs {example}"
    command.make_context(name, args[len(name.split()):])  # every option and argument in it exists
    section = COMMANDS_DOC.split(f"\n## {name}\n", 1)[-1].split("\n## ", 1)[0]
    assert " ".join(example.split()) in " ".join(section.split()), f"{name}: docs/commands.md does not show its example"


def test_help_names_the_environment_and_the_date_forms_as_the_docs_do(bare_cli):
    from speco_returns.cli.helptext import DATE_FORMS, ENVIRONMENT

    root = " ".join(bare_cli("--help").stdout.split())
    in_help = set(re.findall(r"SPECO_RETURNS_[A-Z_]*[A-Z]", root))
    in_admin = set(re.findall(r"SPECO_RETURNS_[A-Z_]*[A-Z]", ADMIN))
    assert in_help == in_admin == {n for n in ENVIRONMENT if n.startswith("SPECO_")}
    assert "Environment variables" in root and "## Environment variables" in ADMIN
    table = ADMIN.split("## Environment variables", 1)[1]
    for name in ENVIRONMENT:
        assert f"| `{name}` |" in table, name
    assert " ".join(DATE_FORMS.split()) in root
    assert "2026-11-26`, `11/26/2026` or `Nov 26 2026`" in AGENTS


# --- the generated reference: docs/commands.md and docs/policy.md ----------------------------

def test_the_generated_docs_are_what_the_help_and_the_policy_print_now():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "docs" / "generate.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout


def test_every_command_and_group_has_its_section_in_the_commands_doc():
    groups = {n.rsplit(" ", 1)[0] for n, _ in LEAVES if " " in n}
    documented = set(re.findall(r"^## (.+)$", COMMANDS_DOC, re.M)) - {"speco-returns"}
    commands = {n for n, _ in LEAVES} | groups
    assert not commands - documented, f"not in docs/commands.md: {sorted(commands - documented)}"
    assert not documented - commands, f"in docs/commands.md, but no such command: {sorted(documented - commands)}"


def test_every_rule_of_the_policy_is_in_the_policy_doc():
    from speco_returns.domain import wording

    policy = (ROOT / "docs" / "policy.md").read_text()
    for kind, rules in wording.RULES.items():
        section = policy.split(f": `{kind}`", 1)[1].split("\n## ", 1)[0]
        for rule in rules:
            assert f"| {rule} | {wording.RULE_TEXT[rule]} |" in section, (kind, rule)


def test_every_option_of_every_command_is_in_a_doc_written_for_a_reader():
    missing = [(name, opt) for name, command in LEAVES for p in command.params for opt in p.opts
               if opt.startswith("--") and opt not in WRITTEN]
    assert not missing


def test_complete_help_says_what_a_late_return_s_complete_means_as_the_agents_doc_does(bare_cli):
    # `complete --note` on a late return means the charge stands: the help said "decided on a refund".
    meaning = re.search(r"`complete RA --note TEXT` means ([^.;]+)", " ".join(AGENTS.split())).group(1)
    assert meaning == "the charge stands and writes no ledger row"
    for args in (("complete", "--help"), ("--help",)):
        shown = " ".join(bare_cli(*args).stdout.replace("│", " ").split())
        assert f"Late return: {meaning}." in shown, args
        assert "decided on a refund" not in shown, args


# --- links between the docs --------------------------------------------------------------------

def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` dropped, spaces to `-`."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


MARKDOWN = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "README.md",
            *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_every_link_between_the_docs_finds_its_file_and_heading(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        name, _, anchor = target.partition("#")
        path = (doc.parent / name).resolve() if name else doc
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, broken


def test_the_package_comments_keep_rule_ids_and_leave_issue_history_to_commit_messages():
    said = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "speco_returns").rglob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"\bissues? #?\d+|\bitem \d+ of issue", line, re.I)]
    assert not said, f"issue history belongs in the commit message: {said}"


# --- docs/architecture.md names what is there -------------------------------------------------

ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def test_the_architecture_doc_lists_the_layers_the_import_test_enforces():
    from test_architecture import ALLOWED

    table = dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", ARCHITECTURE, re.M))
    for part, allowed in ALLOWED.items():
        if part in ("digits", "errors", "files", "__main__", "__init__"):
            continue
        said = set(re.findall(r"`(\w+)`", table[part])) if table.get(part) != "all of the above" else set(ALLOWED) - {
            "cli", "__main__", "__init__"}
        assert said == allowed, (part, said, allowed)


def test_every_file_and_function_the_architecture_doc_names_exists():
    package = ROOT / "speco_returns"
    paths = set(re.findall(r"`((?:speco_returns/|tests/|docs/)?[\w/]+\.py)`", ARCHITECTURE))
    names = {p.name for p in package.rglob("*.py")}
    missing = [p for p in paths if not ((ROOT / p).exists() or (package / p).exists() if "/" in p else p in names)]
    assert not missing, missing
    source = "\n".join(p.read_text() for p in package.rglob("*.py"))
    functions = set(re.findall(r"`(\w+)\(\)`", ARCHITECTURE))
    assert not [f for f in functions if not re.search(rf"\bdef {f}\b", source)]
    from speco_returns.cli.helptext import ENVIRONMENT

    constants = set(re.findall(r"`([A-Z][A-Z_]+)`", ARCHITECTURE)) - set(ENVIRONMENT) - {"BEGIN", "COMMIT", "ROLLBACK"}
    assert not [n for n in constants if not re.search(rf"^\s*{n}\b.*=", source, re.M)]
