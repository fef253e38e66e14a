"""`deliveries import` through the CLI, on both engines: a carrier's file moves the 30-day clock to
the carrier's date, twice-imported files change nothing, an updated date supersedes a carrier's
date (never an agent's without --force --reason), the unit delivered to Speco stops it stalling,
exceptions reach `overdue`, a bad file records nothing, and the nightly folder is imported whole."""

from __future__ import annotations

import json

import pytest
from clihelpers import ok, query, raw, refused

TODAY = "2026-11-26"
TRACK = "1Z999AA10123456784"


@pytest.fixture
def shipped(cli):
    """RA-000001: an advanced replacement shipped 2026-11-02 with tracking typed with spaces, in
    lower case; RA-000002: its unit on the way back to Speco since 2026-10-20 (return-stalled)."""
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "$1,299.00"))
    for ra, serial, on in (("RA-000001", "SN-0001", "2026-11-01"),
                           ("RA-000002", "SN-0002", "2026-10-01")):
        ok(cli("open", "-t", "advanced", "-c", "Ann Lee", "-i", "CAM-1", "-s", serial, "--on", on,
               "-y", today=TODAY))
        ok(cli("link", ra, "--on", on, today=TODAY))
        ok(cli("hold", ra, "--ref", f"H-{ra[-1]}", "--on", on, "--expires", "2026-12-31",
               today=TODAY))
    ok(cli("ship", "RA-000001", "--tracking", "1z 999 aa1 01 2345 6784", "--on", "2026-11-02",
           today=TODAY))
    ok(cli("ship", "RA-000002", "--tracking", "1Z999AA10000000002", "--on", "2026-10-02",
           today=TODAY))
    ok(cli("deliver", "RA-000002", "--on", "2026-10-05", today=TODAY))
    ok(cli("unit-shipped", "RA-000002", "--tracking", "9400111206213642173009", "--on",
           "2026-10-20", today=TODAY))


def easypost(tmp_path, *rows, name="ep.csv"):
    path = tmp_path / name
    body = "id,tracking_code,status,status_detail,datetime\r\n" + "".join(f"{r}\r\n" for r in rows)
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    return path


def imported(cli, path, *args, today=TODAY):
    fmt = () if "--format" in args else ("--format", "easypost")
    return json.loads(ok(cli("deliveries", "import", str(path), *fmt, *args, "--json",
                             today=today)).stdout)


def show(cli, ra):
    return json.loads(ok(cli("show", ra, "--json")).stdout)


def states(cli, as_of=TODAY):
    return {(r["ra"], r["state"])
            for r in json.loads(ok(cli("overdue", "--as-of", as_of, "--json")).stdout)}


def event_count(db_path):
    return query(db_path, "SELECT count(*) FROM events")[0][0]


def test_the_carriers_date_starts_the_clock_and_a_second_import_changes_nothing(
        cli, shipped, tmp_path, db_path):
    # 21:30 at UTC-6 on the 4th is the 5th in UTC: the customer received it on the 4th
    path = easypost(tmp_path,
                    f"trk_1,{TRACK},delivered,arrived_at_destination,2026-11-04T21:30:00-06:00",
                    "trk_2,EZ4000000004,delivered,arrived,2026-11-04T10:00:00Z")
    doc = imported(cli, path)
    assert doc["counts"]["delivered"] == 1 and doc["counts"]["unmatched"] == 1
    assert ([(r["line"], r["result"]) for r in doc["rows_by_line"]]
            == [(2, "delivered"), (3, "unmatched")])
    ret = show(cli, "RA-000001")
    assert (ret["status"], ret["due_on"]) == ("replacement-delivered", "2026-12-04")
    deliver = ret["events"][-1]
    assert ((deliver["event"], deliver["on"], deliver["source"], deliver["file"])
            == ("deliver", "2026-11-04", "carrier", "ep.csv"))
    assert deliver["row"] and deliver["status"] == "replacement-delivered"
    before = event_count(db_path)
    again = imported(cli, path)
    assert again["counts"]["already"] == 1 and again["counts"]["delivered"] == 0
    assert event_count(db_path) == before


def test_an_updated_delivery_date_supersedes_the_carriers_date_through_void_and_deliver(
        cli, shipped, tmp_path, db_path):
    first = tmp_path / "QVD_1.csv"
    first.write_text("Record Type,Tracking Number,Activity Type,Date,Time,"
                     "Rescheduled Delivery Date\r\n"
                     f"D1,{TRACK},,20261104,213000,\r\n")
    second = tmp_path / "QVD_2.csv"
    second.write_text("Record Type,Tracking Number,Activity Type,Date,Time,"
                      "Rescheduled Delivery Date\r\n"
                      f"G1,{TRACK},UD,20261107,090000,20261103\r\n")
    assert imported(cli, first, "--format", "ups-qvd")["counts"]["delivered"] == 1
    doc = imported(cli, second, "--format", "ups-qvd")
    assert doc["rows_by_line"][0]["result"] == "superseded"
    events = [(e["event"], e["on"]) for e in show(cli, "RA-000001")["events"]][-3:]
    assert events == [("deliver", "2026-11-04"), ("void", TODAY), ("deliver", "2026-11-03")]
    assert show(cli, "RA-000001")["due_on"] == "2026-12-03"
    # the first file again: its row was applied once, it does not flip back
    before = event_count(db_path)
    assert imported(cli, first, "--format", "ups-qvd")["counts"]["already"] == 1
    assert event_count(db_path) == before


def test_a_supersede_refused_after_its_void_leaves_nothing_of_the_row(
        cli, shipped, tmp_path, db_path):
    """The hold re-authorized on the 3rd bounds the dates after it: the void would go through,
    then the deliver on the 2nd is refused; the row is a conflict and its void is not kept."""
    ok(cli("hold", "RA-000001", "--ref", "H-1B", "--on", "2026-11-03", "--expires", "2026-12-31",
           today=TODAY))
    imported(cli, easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-04T10:00:00-05:00"))
    before = event_count(db_path)
    doc = imported(cli,
                   easypost(tmp_path, f"trk_1b,{TRACK},delivered,arrived,2026-11-02T10:00:00-05:00",
                            name="b.csv"))
    assert (doc["rows_by_line"][0]["result"] == "conflict"
            and "before this return's latest event" in doc["rows_by_line"][0]["message"])
    assert event_count(db_path) == before
    assert [e["event"] for e in show(cli, "RA-000001")["events"]][-1] == "deliver"


def test_an_agents_typed_date_stands_unless_a_supervisor_forces_the_carriers(
        cli, shipped, tmp_path, db_path):
    ok(cli("deliver", "RA-000001", "--on", "2026-11-06", today=TODAY))
    path = easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-04T12:00:00-05:00")
    before = event_count(db_path)
    doc = imported(cli, path)
    assert doc["rows_by_line"][0]["result"] == "conflict"
    assert "--force --reason" in doc["rows_by_line"][0]["message"]
    assert event_count(db_path) == before and show(cli, "RA-000001")["due_on"] == "2026-12-06"
    assert "--force needs --reason" in refused(cli("deliveries", "import", str(path), "--format",
                                                   "easypost", "--force", today=TODAY))[0]
    doc = imported(cli, path, "--force", "--reason", "K. Alvarez: the agent read the wrong line")
    assert doc["rows_by_line"][0]["result"] == "superseded"
    ret = show(cli, "RA-000001")
    assert (ret["due_on"] == "2026-12-04"
            and ret["events"][-1]["reason"] == "K. Alvarez: the agent read the wrong line")
    assert "over tester's 2026-11-06" in ret["events"][-2]["reason"]


def test_the_unit_delivered_to_speco_is_no_longer_stalled_and_is_not_received(
        cli, shipped, tmp_path):
    assert ("RA-000002", "return-stalled") in states(cli)
    path = tmp_path / "aftership.csv"
    path.write_text("Tracking number,Carrier,Status,Sub-status,Delivered date\n"
                    "9400 1112 0621 3642 1730 09,"
                    "usps,Delivered,Delivered_001,2026-10-24T16:05:00-05:00\n")
    doc = imported(cli, path, "--format", "aftership")
    assert ((doc["rows_by_line"][0]["result"], doc["rows_by_line"][0]["parcel"])
            == ("arrived", "unit"))
    assert ("RA-000002", "return-stalled") not in states(cli)
    ret = show(cli, "RA-000002")
    # receive stays the dock's act
    assert ret["status"] == "unit-in-transit" and ret["received_on"] is None
    assert ret["events"][-1]["event"] == "unit-arrived" and ret["events"][-1]["on"] == "2026-10-24"
    # delivered to Speco by the due date (2026-11-04): the card cannot be charged as a lost parcel
    assert "AR-4" in refused(cli("charge", "RA-000002", "--reason", "lost", today=TODAY))[0]


def test_an_exception_is_listed_and_shown_by_overdue_until_the_parcel_is_delivered(
        cli, shipped, tmp_path):
    path = tmp_path / "aftership.csv"
    path.write_text('Tracking number,Carrier,Status,Sub-status,Issues,Delivered date\r\n'
                    f'{TRACK},ups,Exception,Exception_011,"Returned to sender, refused",\r\n')
    doc = imported(cli, path, "--format", "aftership")
    row = doc["rows_by_line"][0]
    assert ((row["result"], row["ra"]) == ("exception", "RA-000001")
            and "returned-to-sender" in row["message"])
    rows = json.loads(ok(cli("overdue", "--as-of", TODAY, "--json")).stdout)
    flagged = [r for r in rows if r["state"] == "carrier-exception"]
    assert ([r["ra"] for r in flagged] == ["RA-000001"]
            and "returned-to-sender" in flagged[0]["carrier_exception"])
    assert "returned-to-sender" in ok(cli("overdue", "--as-of", TODAY)).stdout
    assert imported(cli, path, "--format", "aftership")["counts"]["already"] == 1
    imported(cli, easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-20T10:00:00-05:00"))
    assert ("RA-000001", "carrier-exception") not in states(cli)


def test_an_exception_older_than_the_delivery_since_is_recorded_but_not_chased(
        cli, shipped, tmp_path):
    ok(cli("deliver", "RA-000001", "--on", "2026-11-06", today=TODAY))
    path = tmp_path / "late.csv"
    path.write_text("tracking_code,status,status_detail,datetime\n"
                    f"{TRACK},failure,delivery_attempted,2026-11-05T09:00:00-05:00\n")
    assert imported(cli, path)["rows_by_line"][0]["result"] == "exception"
    assert show(cli, "RA-000001")["events"][-1]["event"] == "carrier-exception"
    assert ("RA-000001", "carrier-exception") not in states(cli)


def test_a_carrier_files_control_characters_are_shown_escaped(cli, shipped, tmp_path):
    path = tmp_path / "evil.csv"
    path.write_text("tracking_code,status,status_detail,datetime\n"
                    f"{TRACK},in_\x1b[2Jtransit,x,2026-11-04T10:00:00Z\n"
                    f"{TRACK},failure,\x9b31m\x07lost,2026-11-04T10:00:00Z\n")
    result = ok(cli("deliveries", "import", str(path), "--format", "easypost", "--dry-run",
                    today=TODAY))
    assert not any(ch in result.stdout for ch in ("\x1b", "\x9b", "\x07")), repr(result.stdout)
    assert "\\x9b31m\\x07lost" in result.stdout  # the exception's description, escaped
    doc = ok(cli("deliveries", "import", str(path), "--format", "easypost", "--dry-run", "--json",
                 today=TODAY)).stdout
    assert "\x1b" not in doc and "\\u001b" in doc


def test_a_bad_file_records_nothing_and_names_its_line(cli, shipped, tmp_path, db_path):
    path = easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-04T21:30:00-06:00",
                    "trk_2,EZ4000000004,delivered,arrived,the fourth")
    before = event_count(db_path)
    lines = refused(cli("deliveries", "import", str(path), "--format", "easypost", "--json",
                        today=TODAY))
    assert lines == ["error: ep.csv line 3: 'the fourth' is not a date (YYYY-MM-DD, ISO 8601 "
                     "date-time): "
                     "nothing recorded from it"]
    assert (event_count(db_path) == before
            and show(cli, "RA-000001")["status"] == "replacement-shipped")


def test_unmatched_rows_ambiguous_numbers_and_returns_the_file_does_not_mention(
        cli, shipped, tmp_path):
    ok(cli("open", "-t", "advanced", "-c", "Bo", "-i", "CAM-1", "-s", "SN-0003", "--on",
           "2026-11-01", "-y", today=TODAY))
    ok(cli("link", "RA-000003", "--on", "2026-11-01", today=TODAY))
    ok(cli("hold", "RA-000003", "--ref", "H-3", "--on", "2026-11-01", today=TODAY))
    # the same parcel number
    ok(cli("ship", "RA-000003", "--tracking", TRACK, "--on", "2026-11-02", today=TODAY))
    doc = imported(cli, easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-04T10:00:00Z",
                                 "trk_9,UNKNOWN123,delivered,arrived,2026-11-04T10:00:00Z"))
    assert [r["result"] for r in doc["rows_by_line"]] == ["ambiguous", "unmatched"]
    assert "RA-000001, RA-000003" in doc["rows_by_line"][0]["message"]
    assert show(cli, "RA-000001")["status"] == "replacement-shipped"
    waiting = {(w["ra"], w["parcel"]) for w in doc["not_in_file"]}
    assert waiting == {("RA-000002", "unit")}  # the two the file mentions are not listed
    text = ok(cli("deliveries", "import", str(tmp_path / "ep.csv"), "--format", "easypost",
                  "--dry-run", today=TODAY)).stdout
    assert ("1 open return(s) wait for a parcel this file does not mention" in text
            and "RA-000002 unit" in text)


def day_folder(tmp_path, name="ep"):
    """The day's folder of the nightly job, with a.csv delivering RA-000001's replacement."""
    day = tmp_path / name
    day.mkdir()
    (day / "a.csv").write_text("tracking_code,status,datetime\n"
                               f"{TRACK},delivered,2026-11-04T10:00:00-05:00\n")
    return day


def test_the_nightly_folder_moves_each_imported_file_to_done_and_leaves_a_bad_one(
        cli, shipped, tmp_path, db_path):
    day = day_folder(tmp_path, "ups")
    (day / "b.csv").write_text("tracking_code,status,datetime\n"
                               "9400111206213642173009,delivered,Nov 24th\n")
    before = event_count(db_path)
    dry = cli("deliveries", "import", str(day), "--format", "easypost", "--dry-run", today=TODAY)
    assert (dry.exit_code == 1 and "dry run, nothing recorded" in dry.stdout
            and event_count(db_path) == before)
    assert sorted(p.name for p in day.iterdir()) == ["a.csv", "b.csv"]
    result = cli("deliveries", "import", str(day), "--format", "easypost", today=TODAY)
    assert (result.exit_code == 1
            and "error: b.csv line 2: 'Nov 24th' is not a date" in result.stderr)
    assert (sorted(p.name for p in day.iterdir()) == ["b.csv", "done"]
            and [p.name for p in (day / "done").iterdir()] == ["a.csv"])
    assert show(cli, "RA-000001")["status"] == "replacement-delivered"
    # nothing from the bad file
    assert show(cli, "RA-000002")["events"][-1]["event"] == "unit-shipped"


def test_generic_format_with_a_map(cli, shipped, tmp_path):
    path = tmp_path / "fedex.csv"
    path.write_text("Parcel,What,When,Zone\n"
                    "1Z999 AA1 0123456784,Delivered,2026-11-05T04:00:00Z,America/Chicago\n")
    doc = imported(cli, path, "--format", "generic", "--map",
                   "tracking=Parcel,status=What,delivered_at=When,time_zone=Zone")
    assert doc["rows_by_line"][0]["on"] == "2026-11-04"
    assert show(cli, "RA-000001")["due_on"] == "2026-12-04"


def test_the_lookup_by_tracking_number_is_served_by_its_index(cli, shipped, db, backend):
    from speco_returns.db.deliveries import tracking_key_sql

    expr = tracking_key_sql(db)
    sql = ("SELECT e.return_id FROM events e JOIN returns r ON r.id = e.return_id "
           f"WHERE e.event IN ('ship', 'unit-shipped') AND {expr} IN ('A', 'B') "
           "AND r.status NOT IN ('completed', 'cancelled', 'charged')")
    if backend == "postgres":
        # A few rows: the planner would read the table, or scan events_tracking (same predicate,
        # another expression) for its predicate alone; without either, the plan shows whether
        # the query's expression is the index's. Rolled back.
        with pytest.raises(RuntimeError), db.write():
            db.execute("SET LOCAL enable_seqscan = off")
            db.execute("DROP INDEX events_tracking")
            plan = "\n".join(r[0] for r in db.all("EXPLAIN " + sql))
            raise RuntimeError("roll back")
    else:
        plan = "\n".join(str(tuple(r)) for r in db.all("EXPLAIN QUERY PLAN " + sql))
    assert "events_tracking_key" in plan, plan


def test_an_older_database_gets_the_index_over_the_parcels_it_already_holds(
        cli, shipped, tmp_path, db_path, backend):
    table = "speco_migrations" if backend == "postgres" else "_sqlite_migrations"
    with raw(db_path) as conn:  # as the tool before m016 left it
        conn.execute("DROP INDEX events_tracking_key")
        conn.execute(f"DELETE FROM {table} WHERE name = 'm016_tracking_key'")
    doc = imported(cli,
                   easypost(tmp_path, f"trk_1,{TRACK},delivered,arrived,2026-11-04T10:00:00-05:00"))
    assert doc["counts"]["delivered"] == 1
    assert (query(db_path, f"SELECT count(*) FROM {table} WHERE name = 'm016_tracking_key'")[0][0]
            == 1)


def test_a_done_folder_that_cannot_take_the_files_is_refused_before_anything_is_imported(
        cli, shipped, tmp_path, db_path):
    day = day_folder(tmp_path)
    (day / "done").write_text("a file where the folder goes\n")
    before = event_count(db_path)
    lines = refused(cli("deliveries", "import", str(day), "--format", "easypost", today=TODAY))
    assert event_count(db_path) == before and (day / "a.csv").exists()
    assert len(lines) == 1 and "is not a folder" in lines[0] and "nothing imported" in lines[0]
    assert show(cli, "RA-000001")["status"] == "replacement-shipped"


def test_a_done_folder_on_another_filesystem_is_refused_before_anything_is_imported(
        cli, shipped, tmp_path, db_path):
    import os
    from pathlib import Path

    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem beside the test's folder")
    day = day_folder(tmp_path)
    done = other / f"speco-test-done-{os.getpid()}-{tmp_path.name}"
    try:
        before = event_count(db_path)
        lines = refused(cli("deliveries", "import", str(day), "--format", "easypost", "--done",
                            str(done), today=TODAY))
        assert event_count(db_path) == before and (day / "a.csv").exists()
        assert len(lines) == 1 and "another filesystem" in lines[0] and not done.exists()
    finally:
        if done.is_dir():
            done.rmdir()


def test_time_zone_reads_easyposts_utc_updated_at_as_the_date_where_it_was_delivered(
        cli, shipped, tmp_path, db_path):
    # a report without `datetime`: delivered 21:30 in Chicago on the 4th, updated_at 03:30 UTC
    # on the 5th
    path = tmp_path / "ep.csv"
    path.write_bytes(b"id,tracking_code,status,status_detail,updated_at\r\n"
                     + f"trk_1,{TRACK},delivered,arrived_at_destination,2026-11-05T03:30:00Z\r\n"
                     .encode())
    before = event_count(db_path)
    assert "--time-zone Mars/Olympus is not a time zone" in refused(
        cli("deliveries", "import", str(path), "--format", "easypost", "--time-zone",
            "Mars/Olympus", today=TODAY))[0]
    assert event_count(db_path) == before
    assert imported(cli, path, "--time-zone", "America/New_York")["counts"]["delivered"] == 1
    ret = show(cli, "RA-000001")
    assert (ret["events"][-1]["on"], ret["due_on"]) == ("2026-11-04", "2026-12-04")


def test_a_quantum_view_file_as_ups_writes_it_is_refused_at_line_1_naming_the_header_and_generic(
        cli, shipped, tmp_path, db_path):
    path = tmp_path / "QVD_20261105.csv"
    path.write_bytes(b'"M1","A1B2C3","' + TRACK.encode() + b'","20261102","Ann Lee"\r\n'
                     b'"D1","A1B2C3","' + TRACK.encode()
                     + b'","20261104","213000","FRONT DOOR","LEE"\r\n')
    before = event_count(db_path)
    lines = refused(cli("deliveries", "import", str(path), "--format", "ups-qvd", today=TODAY))
    assert len(lines) == 1 and "line 1" in lines[0] and "Record Type,Tracking Number" in lines[0]
    assert "--format generic --map" in lines[0] and "nothing recorded" in lines[0]
    assert event_count(db_path) == before
