"""The CLI's foundations, through the real interface: help, version, policy, check, catalog.

SPEC §2 (the rules `check` reports), §4 (commands, JSON keys, exit codes) and the catalog
commands. Every refusal: exit 1, one `error:` line per problem on stderr, no traceback,
nothing written, and with --json an empty stdout.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from builders import catalog as add_catalog
from clihelpers import counts, ok, refused

from speco_returns import __version__
from speco_returns.db.database import open_database as Store

TODAY = "2026-12-10"
TYPES = ("standard", "counter", "advanced", "virtual")


# --- helpers ----------------------------------------------------------------------------


def catalog_json(cli) -> dict[str, dict]:
    return {row["model"]: row for row in json.loads(ok(cli("catalog", "list", "--json")).stdout)}


@pytest.fixture
def catalog(cli):
    """One model of each kind the rules look at."""
    add_catalog(cli, "CAM-1", "PTZ-1", "SPEC-1", "NVR-1", "NOPRICE-1")


# --- help and version ---------------------------------------------------------------------

COMMANDS = {
    # command path: options SPEC §4 says it takes
    (): ["--db", "--agent", "--version", "--help"],
    ("policy",): ["--json"],
    ("check",): ["--type", "--item", "--serial", "--approved-by", "--reason", "--customer",
                 "--json"],
    ("open",): ["--type", "--customer", "--email", "--phone", "--item", "--serial", "--ticket",
                "--distributor", "--approved-by", "--reason", "--note", "--on", "--yes", "--json"],
    ("serial",): [],
    ("serial", "add"): ["--model"],
    ("serial", "remove"): [],
    ("serial", "find"): [],
    ("show",): ["--json"],
    ("list",): ["--type", "--status", "--customer", "--all", "--json", "--csv"],
    ("link",): ["--on"],
    ("hold",): ["--ref", "--expires", "--on"],
    ("ship",): ["--tracking", "--on"],
    ("deliver",): ["--on"],
    ("unit-shipped",): ["--tracking", "--on"],
    ("receive",): ["--on"],
    ("charge",): ["--on"],
    ("complete",): ["--note", "--on"],
    ("cancel",): ["--reason", "--on"],
    ("note",): ["--on"],
    ("overdue",): ["--as-of", "--within", "--check", "--json", "--csv"],
    ("export",): [],
    ("export", "ledger"): ["--from", "--to", "--output"],
    ("export", "returns"): ["--from", "--to", "--output"],
    ("catalog",): [],
    ("catalog", "add"): ["--category", "--list-price", "--description"],
    ("catalog", "import"): [],
    ("catalog", "list"): ["--json", "--csv"],
}


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(cli, path):
    result = ok(cli(*path, "--help"))
    assert "Usage:" in result.stdout
    for option in COMMANDS[path]:
        assert option in result.stdout, f"{' '.join(path)} --help does not mention {option}"
    assert result.stderr == ""


def test_short_help_flag(cli):
    assert ok(cli("-h")).stdout == ok(cli("--help")).stdout


def test_root_help_lists_every_command(cli):
    out = ok(cli("--help")).stdout
    for name in {path[0] for path in COMMANDS if path}:
        assert re.search(rf"\b{re.escape(name)}\b", out), name


def test_version(cli):
    result = ok(cli("--version"))
    assert result.stdout.strip() == f"speco-returns {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


@pytest.mark.first_run("a file not created")
def test_version_writes_no_database(cli, db_path):
    ok(cli("--version"))
    assert not db_path.exists()


def test_usage_error_exits_2(cli):
    for args in (("check", "--bogus"), ("catalog", "list", "--nope"), ("no-such-command",),
                 ("show",)):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert result.stdout == ""


# --- policy --------------------------------------------------------------------------------

RULES_OF = {
    "standard": {"STD-1", "SER-1"},
    "counter": {"OTC-1", "OTC-2", "SER-1"},
    "advanced": {"AR-1", "AR-2", "AR-3", "AR-4", "SER-1"},
    "virtual": {"VR-1", "VR-2", "VR-3", "VR-4", "VR-5", "SER-1"},
}
ALL_RULES = set().union(*RULES_OF.values())


def test_policy_lists_every_type_and_rule(cli):
    out = ok(cli("policy")).stdout
    for t in TYPES:
        assert t in out
    for rule in ALL_RULES:
        assert rule in out
    assert "otc" in out and "ar" in out  # the aliases are shown


def test_policy_json_lists_every_type_and_rule(cli):
    result = ok(cli("policy", "--json"))
    doc = json.loads(result.stdout)
    assert [entry["type"] for entry in doc] == list(TYPES)
    for entry in doc:
        text = json.dumps(entry)
        for rule in RULES_OF[entry["type"]]:
            assert rule in text


@pytest.mark.parametrize(
    "given, type_",
    [("standard", "standard"), ("counter", "counter"), ("otc", "counter"), ("OTC", "counter"),
     ("advanced", "advanced"), ("ar", "advanced"), ("Ar", "advanced"), ("virtual", "virtual")],
)
def test_policy_one_type(cli, given, type_):
    out = ok(cli("policy", given)).stdout
    for rule in RULES_OF[type_]:
        assert rule in out
    for rule in ALL_RULES - RULES_OF[type_]:
        assert rule not in out, f"policy {given} shows {rule}"

    doc = json.loads(ok(cli("policy", given, "--json")).stdout)
    assert len(doc) == 1 and doc[0]["type"] == type_
    text = json.dumps(doc)
    assert RULES_OF[type_] <= {r for r in ALL_RULES if r in text}


def test_policy_next_steps_say_what_the_article_says(cli):
    counter = ok(cli("policy", "counter")).stdout.lower()
    assert "distributor" in counter and "take time" in counter  # OTC-2
    advanced = ok(cli("policy", "advanced")).stdout.lower()
    assert "more than" in advanced  # AR-3: the hold may exceed what the customer paid
    assert "30 days" in advanced  # AR-4


@pytest.mark.parametrize("as_json", [False, True])
def test_policy_unknown_type(cli, as_json):
    result = cli("policy", "refund", *(["--json"] if as_json else []))
    lines = refused(result)
    assert len(lines) == 1
    assert "refund" in lines[0]
    assert result.stdout == ""


def test_human_output_has_no_colour_off_a_terminal(cli, db_path):
    assert "\x1b[" not in ok(cli("policy")).stdout
    Store(db_path).close()
    assert "\x1b[" not in ok(cli("catalog", "list")).stdout


# --- check: every rule of SPEC §2 --------------------------------------------------------------


def check(cli, *args, as_json: bool):
    result = cli("check", *args, *(["--json"] if as_json else []), today=TODAY)
    assert result.exit_code in (0, 1), (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def check_json(cli, *args) -> tuple[int, dict]:
    result = check(cli, *args, as_json=True)
    doc = json.loads(result.stdout)
    assert set(doc) >= {"eligible", "violations"}
    assert isinstance(doc["eligible"], bool)
    for v in doc["violations"]:
        assert set(v) >= {"rule", "message"} and v["message"]
    assert doc["eligible"] == (result.exit_code == 0) == (not doc["violations"])
    return result.exit_code, doc


ELIGIBLE = [
    ("standard", ["--type", "standard", "--item", "ANY-MODEL-AT-ALL"]),
    ("counter", ["--type", "otc", "--item", "X", "--ticket", "T-1", "--distributor", "ADI"]),
    ("advanced", ["--type", "ar", "--item", "CAM-1:2", "--serial", "AAAA1", "--serial", "AAAA2"]),
    ("virtual, 3 cameras", ["--type", "virtual", "--item", "cam-1:3", "--serial", "V0001",
                            "--serial", "V0002", "--serial", "V0003", "--approved-by", "Sue",
                            "--reason", "dead on arrival"]),
    ("serials per model", ["--type", "advanced", "--item", "CAM-1", "--item", "NVR-1",
                           "--serial", "CAM-1=AAAA1", "--serial", "nvr-1=AAAA2"]),
]


@pytest.mark.parametrize("args", [a for _, a in ELIGIBLE], ids=[n for n, _ in ELIGIBLE])
def test_check_eligible(cli, catalog, args):
    code, doc = check_json(cli, *args)
    assert code == 0 and doc["eligible"] is True and doc["violations"] == []
    human = check(cli, *args, as_json=False)
    assert human.exit_code == 0
    assert "eligible" in human.stdout.lower()


VIRTUAL_OK = ["--approved-by", "Sue", "--reason", "dead on arrival"]
BROKEN = [
    # (name, args, the rules it must report, a word each message about the rule must hold)
    ("OTC-1 no ticket", ["--type", "counter", "--item", "X", "--distributor", "ADI"], ["OTC-1"],
     "ticket"),
    ("OTC-1 no distributor", ["--type", "counter", "--item", "X", "--ticket", "T-1"], ["OTC-1"],
     "distributor"),
    ("OTC-1 neither", ["--type", "otc", "--item", "X"], ["OTC-1", "OTC-1"], None),
    ("AR-1 no serial", ["--type", "advanced", "--item", "CAM-1"], ["AR-1"], "serial"),
    ("AR-1 one short", ["--type", "advanced", "--item", "CAM-1:2", "--serial", "AAAA1"], ["AR-1"],
     "serial"),
    ("AR-3 no list price", ["--type", "advanced", "--item", "NOPRICE-1", "--serial", "AAAA1"],
     ["AR-3"], "NOPRICE-1"),
    ("AR-3 not in catalog", ["--type", "advanced", "--item", "GHOST-9", "--serial", "AAAA1"],
     ["AR-3"], "GHOST-9"),
    ("VR-1 no approver", ["--type", "virtual", "--item", "CAM-1", "--serial", "V0001", "--reason",
                          "r"], ["VR-1"], "approv"),
    ("VR-1 no reason", ["--type", "virtual", "--item", "CAM-1", "--serial", "V0001",
                        "--approved-by", "Sue"], ["VR-1"], "reason"),
    ("VR-2 four units", ["--type", "virtual", "--item", "CAM-1:4",
                         *(f"--serial=V000{i}" for i in range(1, 5)), *VIRTUAL_OK],
     ["VR-2"], "3"),
    ("VR-2 four units over two lines", ["--type", "virtual", "--item", "CAM-1:2", "--item",
                                        "cam-1:2", *(f"--serial=V000{i}" for i in range(1, 5)),
                                        *VIRTUAL_OK], ["VR-2"], "3"),
    ("VR-2 not a camera",
     ["--type", "virtual", "--item", "NVR-1", "--serial", "V0001", *VIRTUAL_OK], ["VR-2"], "NVR-1"),
    ("VR-2 unknown model",
     ["--type", "virtual", "--item", "GHOST-9", "--serial", "V0001", *VIRTUAL_OK], ["VR-2"],
     "GHOST-9"),
    ("VR-3 ptz", ["--type", "virtual", "--item", "PTZ-1", "--serial", "V0001", *VIRTUAL_OK],
     ["VR-3"], "PTZ"),
    ("VR-3 specialty", ["--type", "virtual", "--item", "spec-1", "--serial", "V0001", *VIRTUAL_OK],
     ["VR-3"], "SPEC-1"),
    ("VR-4 no serial", ["--type", "virtual", "--item", "CAM-1:2", "--serial", "V0001", *VIRTUAL_OK],
     ["VR-4"], "serial"),
]


@pytest.mark.parametrize("args, rules, word", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_check_reports_each_rule(cli, catalog, args, rules, word):
    code, doc = check_json(cli, *args)
    assert code == 1 and doc["eligible"] is False
    assert sorted(v["rule"] for v in doc["violations"]) == sorted(rules), doc
    if word:
        assert all(word.lower() in v["message"].lower() for v in doc["violations"]), doc

    human = check(cli, *args, as_json=False)
    assert human.exit_code == 1
    for rule in rules:
        assert rule in human.stdout + human.stderr
    for v in doc["violations"]:  # the same sentence an agent reads to the customer
        assert v["message"] in human.stdout + human.stderr


def test_check_lists_every_broken_rule_at_once(cli, catalog):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", "--serial",
           "TAKEN1", today=TODAY))
    code, doc = check_json(cli, "--type", "virtual", "--item", "CAM-1:3", "--item", "PTZ-1",
                           "--item", "NVR-1", "--serial", "CAM-1=TAKEN1")
    assert code == 1
    rules = [v["rule"] for v in doc["violations"]]
    assert rules.count("VR-1") == 2  # no approver, no reason
    assert {"VR-1", "VR-2", "VR-3", "VR-4", "SER-1"} <= set(rules)
    ser = [v for v in doc["violations"] if v["rule"] == "SER-1"]
    assert len(ser) == 1 and "TAKEN1" in ser[0]["message"] and "RA-000001" in ser[0]["message"]


def test_check_ser1_names_the_open_return(cli, catalog):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", "--serial",
           "SN-0001", today=TODAY))
    for type_args in (["--type", "standard", "--item", "CAM-1"],
                      ["--type", "advanced", "--item", "CAM-1"],
                      ["--type", "counter", "--item", "CAM-1", "--ticket", "T-2", "--distributor",
                       "ADI"]):
        code, doc = check_json(cli, *type_args, "--serial", "sn-0001")
        assert code == 1
        assert [v["rule"] for v in doc["violations"]] == ["SER-1"]
        assert "RA-000001" in doc["violations"][0]["message"]
        assert "SN-0001" in doc["violations"][0]["message"]


def test_check_ser1_ignores_closed_returns(cli, catalog):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", "--serial",
           "SN-0001", today=TODAY))
    ok(cli("cancel", "RA-000001", "--reason", "duplicate", today=TODAY))
    code, doc = check_json(cli, "--type", "standard", "--item", "CAM-1", "--serial", "SN-0001")
    assert code == 0, doc


def test_check_otc1_ticket_already_used_any_case(cli):
    ok(cli("open", "--type", "counter", "--customer", "Acme", "--item", "X", "--ticket", "TT-100",
           "--distributor", "ADI", today=TODAY))
    code, doc = check_json(cli, "--type", "counter", "--item", "X", "--ticket", "tt-100",
                           "--distributor", "ADI")
    assert code == 1 and [v["rule"] for v in doc["violations"]] == ["OTC-1"]


def test_check_writes_nothing(cli, catalog, db_path):
    ok(cli("open", "--type", "virtual", "--customer", "Acme", "--item", "CAM-1:2", "--serial",
           "V0001", "--serial", "V0002", *VIRTUAL_OK, today=TODAY))
    before = counts(db_path)
    for _, args in ELIGIBLE:
        check(cli, *args, as_json=False)
        check(cli, *args, as_json=True)
    for _, args, _, _ in BROKEN:
        check(cli, *args, as_json=True)
    check(cli, "--type", "virtual", "--customer", "ACME", "--item", "CAM-1:2", "--serial", "V0003",
          "--serial", "V0004", *VIRTUAL_OK, as_json=False)
    assert counts(db_path) == before


@pytest.mark.first_run("a file not created")
def test_check_on_a_new_database_records_nothing(cli, db_path):
    check(cli, "--type", "standard", "--item", "X", as_json=True)
    if db_path.exists():
        assert set(counts(db_path).values()) == {0}


@pytest.mark.parametrize(
    "args",
    [
        ["--item", "X"],  # no type
        ["--type", "standard"],  # no item
        ["--type", "refund", "--item", "X"],
        ["--type", "standard", "--item", "X:0"],
        ["--type", "standard", "--item", "X:many"],
        ["--type", "advanced", "--item", "CAM-1", "--serial", "NO"],  # too short
        ["--type", "advanced", "--item", "CAM-1", "--serial", "BAD SERIAL!"],
        ["--type", "virtual", "--item", "CAM-1", "--serial", "V0001", "--approved-by", "Sue",
         "--reason", "card 4111 1111 1111 1111"],
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_check_bad_input(cli, catalog, db_path, args, as_json):
    before = counts(db_path)
    result = cli("check", *args, *(["--json"] if as_json else []), today=TODAY)
    if as_json:  # the document in every case, the input problem among its violations
        assert result.exit_code == 1 and result.stderr == ""
        doc = json.loads(result.stdout)
        assert doc["eligible"] is False and None in [v["rule"] for v in doc["violations"]]
    else:
        lines = refused(result)
        assert len(lines) == 1
        assert result.stdout == ""
    assert "4111" not in result.output
    assert counts(db_path) == before


# --- catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, stored",
    [("1299", "1299.00"), ("1,299.00", "1299.00"), ("$1,299.00", "1299.00"), ("$1299", "1299.00"),
     ("1299.5", "1299.50"), ("0.99", "0.99"), ("0", "0.00"), ("1,234,567.89", "1234567.89"),
     (" $25 ", "25.00")],
)
def test_catalog_add_money_forms(cli, given, stored):
    result = ok(cli("catalog", "add", "cam-1", "--category", "camera", "--list-price", given))
    assert "CAM-1" in result.stdout
    assert catalog_json(cli)["CAM-1"]["list_price"] == stored


def test_catalog_add_trims_and_upper_cases_the_model(cli):
    ok(cli("catalog", "add", "  vl-62 ", "--category", "Camera", "--list-price", "10",
           "--description", "bullet"))
    row = catalog_json(cli)["VL-62"]
    assert row == {**row, "model": "VL-62", "category": "camera", "list_price": "10.00",
                   "description": "bullet"}


def test_catalog_add_updates_an_existing_model(cli, db_path):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))
    ok(cli("catalog", "add", "cam-1", "--category", "ptz", "--list-price", "$1,250.00"))
    rows = catalog_json(cli)
    assert list(rows) == ["CAM-1"]
    assert rows["CAM-1"]["category"] == "ptz" and rows["CAM-1"]["list_price"] == "1250.00"
    assert counts(db_path)["catalog"] == 1


def test_catalog_add_without_price(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera"))
    assert catalog_json(cli)["CAM-1"]["list_price"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["CAM-1", "--category", "camera", "--list-price", "12.345"],
        ["CAM-1", "--category", "camera", "--list-price", "abc"],
        ["CAM-1", "--category", "camera", "--list-price", "-5"],
        ["CAM-1", "--category", "camera", "--list-price", "$-5.00"],
        ["CAM-1", "--category", "camera", "--list-price", "1,29"],
        ["CAM-1", "--category", "camera", "--list-price", "1.2.3"],
        ["CAM-1", "--category", "camera", "--list-price", "$"],
        ["CAM-1", "--category", "camera", "--list-price", "1e3"],
        ["CAM-1", "--category", "lens", "--list-price", "10"],
        ["   ", "--category", "camera", "--list-price", "10"],
        ["CAM-1", "--category", "camera", "--list-price", "10", "--description",
         "paid with 4111-1111-1111-1111"],
    ],
)
def test_catalog_add_bad_input(cli, db_path, args):
    ok(cli("catalog", "add", "OTHER", "--category", "camera", "--list-price", "5"))
    before = counts(db_path)
    result = cli("catalog", "add", *args)
    assert len(refused(result)) == 1
    assert "4111" not in result.output
    assert counts(db_path) == before
    assert list(catalog_json(cli)) == ["OTHER"]


def test_catalog_add_missing_category_is_a_usage_error(cli):
    refused_usage = cli("catalog", "add", "CAM-1", "--list-price", "10")
    assert refused_usage.exit_code == 2
    assert "Traceback" not in refused_usage.output


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def test_catalog_import(cli, tmp_path):
    f = write(tmp_path / "c.csv", "model,category,list_price,description\n"
                                 "cam-1,camera,\"$1,299.00\",Bullet camera\n"
                                 "PTZ-9,ptz,2500,\"Dome, outdoor\"\n"
                                 "NVR-4,recorder,,\n")
    result = ok(cli("catalog", "import", f))
    assert "3" in result.stdout
    rows = catalog_json(cli)
    assert sorted(rows) == ["CAM-1", "NVR-4", "PTZ-9"]
    assert (rows["CAM-1"]["list_price"] == "1299.00"
            and rows["CAM-1"]["description"] == "Bullet camera")
    assert rows["PTZ-9"]["category"] == "ptz" and rows["PTZ-9"]["description"] == "Dome, outdoor"
    assert rows["NVR-4"]["list_price"] is None


def test_catalog_import_without_description_column(cli, tmp_path):
    f = write(tmp_path / "c.csv", "model,category,list_price\r\nCAM-1,camera,10\r\n")
    ok(cli("catalog", "import", f))
    assert catalog_json(cli)["CAM-1"]["list_price"] == "10.00"


def test_catalog_reimport_updates_prices(cli, tmp_path, db_path):
    ok(cli("catalog", "import",
           write(tmp_path / "a.csv",
                 "model,category,list_price\nCAM-1,camera,10\nCAM-2,camera,20\n")))
    ok(cli("catalog", "import",
           write(tmp_path / "b.csv",
                 "model,category,list_price\ncam-1,camera,11.50\nCAM-3,camera,30\n")))
    rows = catalog_json(cli)
    assert ({m: r["list_price"] for m, r in rows.items()}
            == {"CAM-1": "11.50", "CAM-2": "20.00", "CAM-3": "30.00"})
    assert counts(db_path)["catalog"] == 3


GOOD_LINES = ["CAM-1,camera,10", "CAM-2,camera,20", "CAM-3,camera,30", "CAM-4,camera,40"]


@pytest.mark.parametrize("bad", ["CAM-X,lens,10", "CAM-X,camera,ten", ",camera,10",
                                 "CAM-X,camera,-1"])
@pytest.mark.parametrize("where", [0, 2, 4])  # first, middle, last data line
def test_catalog_import_bad_line_writes_nothing(cli, tmp_path, db_path, bad, where):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "1"))
    before = counts(db_path)
    lines = GOOD_LINES[:where] + [bad] + GOOD_LINES[where:]
    f = write(tmp_path / "c.csv", "model,category,list_price\n" + "\n".join(lines) + "\n")
    errors = refused(cli("catalog", "import", f))
    assert len(errors) == 1
    assert f"line {where + 2}" in errors[0]  # the header is line 1
    assert counts(db_path) == before
    assert catalog_json(cli)["CAM-1"]["list_price"] == "1.00"  # not updated by the good lines


def test_catalog_import_names_every_bad_line(cli, tmp_path, db_path):
    f = write(tmp_path / "c.csv",
              "model,category,list_price\nCAM-1,camera,10\nCAM-2,lens,10\nCAM-3,camera,x\n")
    errors = refused(cli("catalog", "import", f))
    assert len(errors) == 2
    assert "line 3" in errors[0] and "line 4" in errors[1]
    assert counts(db_path)["catalog"] == 0


@pytest.mark.parametrize(
    "content",
    ["model,price\nCAM-1,10\n", "", "category,list_price\ncamera,10\n"],
    ids=["wrong header", "empty file", "no model column"],
)
def test_catalog_import_bad_header(cli, tmp_path, db_path, content):
    Store(db_path).close()
    assert len(refused(cli("catalog", "import", write(tmp_path / "c.csv", content)))) == 1
    assert counts(db_path)["catalog"] == 0


def test_catalog_import_missing_or_binary_file(cli, tmp_path):
    assert len(refused(cli("catalog", "import", str(tmp_path / "nope.csv")))) == 1
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"model,category,list_price\n\xff\xfe\x00garbage,camera,1\n")
    assert len(refused(cli("catalog", "import", str(binary)))) == 1


def test_catalog_import_ten_thousand_lines(cli, tmp_path, db_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["model", "category", "list_price", "description"])
        for i in range(10_000):
            w.writerow([f"M-{i:05d}", "camera", f"${1 + i // 100},{i % 1000:03d}.{i % 100:02d}",
                        f"model {i}"])
    result = ok(cli("catalog", "import", str(path)))
    assert "10000" in result.stdout
    assert counts(db_path)["catalog"] == 10_000
    rows = catalog_json(cli)
    assert rows["M-01234"]["list_price"] == "13234.34"
    assert rows["M-09999"]["description"] == "model 9999"


def test_catalog_list_forms(cli, db_path):
    Store(db_path).close()
    assert ok(cli("catalog", "list")).exit_code == 0  # empty catalog
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "1,299.00",
           "--description", "Bullet"))
    ok(cli("catalog", "add", "NVR-1", "--category", "recorder"))

    table = ok(cli("catalog", "list")).stdout
    assert "CAM-1" in table and "$1,299.00" in table and "recorder" in table

    doc = json.loads(ok(cli("catalog", "list", "--json")).stdout)
    assert [r["model"] for r in doc] == ["CAM-1", "NVR-1"]
    assert ({k: doc[0][k] for k in ("model", "category", "list_price")}
            == {"model": "CAM-1", "category": "camera", "list_price": "1299.00"})
    assert doc[1]["list_price"] is None

    result = ok(cli("catalog", "list", "--csv"))
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    assert rows[0][:3] == ["model", "category", "list_price"]
    assert [r[:3] for r in rows[1:]] == [["CAM-1", "camera", "1299.00"], ["NVR-1", "recorder", ""]]


def test_catalog_list_json_and_csv_is_a_usage_error(cli):
    result = cli("catalog", "list", "--json", "--csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_refusal_is_one_unwrapped_line_even_when_long(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    model = "M" * 60
    result = cli("catalog", "add", model, "--category", "not-a-category-" + "x" * 60)
    lines = refused(result)
    assert len(lines) == 1 and len(lines[0]) > 40


def test_json_errors_leave_stdout_empty(cli):
    for args in (("show", "RA-000123", "--json"), ("list", "--type", "refund", "--json"),
                 ("policy", "refund", "--json"),  # check --json answers with its document instead
                 ("open", "--type", "standard", "--customer", "A", "--item", "X", "--on",
                  "2999-01-01", "--json")):
        result = cli(*args, today=TODAY)
        refused(result)
        assert result.stdout == "", args
