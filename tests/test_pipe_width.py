"""Views drawn into a pipe (no terminal, COLUMNS unset) fit 80 columns, as rich and the one-line
messages assume without a terminal; COLUMNS, where set, gives the width."""

from __future__ import annotations

import subprocess

from clihelpers import ok
from shellhelpers import COMMAND, env_for

TODAY = "2026-11-26"


def drawn(tmp_path, db_path, *args: str, **env: str) -> list[str]:
    """stdout of the installed command writing into a pipe, line by line."""
    done = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120,
                          env=env_for(tmp_path, SPECO_RETURNS_DB=str(db_path), **env))
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_show_in_a_pipe_is_80_columns_wide_unless_columns_says_otherwise(cli, db_path, tmp_path):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99"))
    ok(cli("open", "--type", "ar", "--customer", "Acme Security Integrators of Northern New Jersey", "--email",
           "returns.department@acme-security-integrators.example", "--item", "CAM-1", "--serial", "SN-0001-ABCDEFGH",
           today=TODAY))
    for step in (("link",), ("hold", "--ref", "AUTH-000000000001"), ("ship", "--tracking", "1Z999AA10123456784")):
        ok(cli(step[0], "RA-000001", *step[1:], today=TODAY))
    ok(cli("note", "RA-000001", "customer asked that the replacement go to the loading dock at the back, "
           "not the front office", today=TODAY))
    lines = drawn(tmp_path, db_path, "show", "RA-000001")
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert any("RA-000001" in line for line in lines) and any("1Z999AA10123456784" in line for line in lines)
    wide = drawn(tmp_path, db_path, "show", "RA-000001", COLUMNS="120")
    assert 80 < max(len(line) for line in wide) <= 120


def test_a_list_in_a_pipe_keeps_every_ra_number_whole(cli, db_path, tmp_path):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99"))
    for n in range(3):
        ok(cli("open", "--type", "standard", "--customer", f"Customer {n} of a very long company name, Incorporated",
               "--email", f"someone.{n}@a-rather-long-domain-name.example", "--item", "CAM-1", today=TODAY))
    lines = drawn(tmp_path, db_path, "list")
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert all(any(f"RA-00000{n}" in line for line in lines) for n in (1, 2, 3)), "\n".join(lines)
