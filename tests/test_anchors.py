"""Chains anchored outside the database (admin/anchors.py): the file's format, and on both
engines the two ways around a hash chain an owner has: rows removed from its end, and the whole
chain recomputed after an edit. Each is named by the anchors the nightly job kept."""

from __future__ import annotations

import pytest
from clihelpers import ok, raw
from hypothesis import given
from hypothesis import strategies as st

from speco_returns.admin import anchors
from speco_returns.db import chain
from speco_returns.db.database import open_database
from speco_returns.errors import ReturnsError
from speco_returns.integrity import chains

TODAY = "2026-12-01"
AT = "2026-12-01T23:00:00Z"

hashes = st.text("0123456789abcdef", min_size=64, max_size=64)
an_anchor = st.builds(anchors.Anchor, st.just(AT), st.sampled_from(["events", "ledger"]),
                      st.integers(0, 10**12), st.integers(0, 10**12), hashes)


@given(st.lists(an_anchor, max_size=5))
def test_a_file_of_anchors_reads_back_as_written(written):
    assert anchors.parse("".join(anchors.line(a) + "\n" for a in written)) == written


@pytest.mark.parametrize("text", [
    "hello", anchors.PREFIX + " at=x table=returns rows=1 last_id=1 hash=" + "0" * 64,
    anchors.PREFIX + " at=x table=events rows=1 last_id=1 hash=" + "0" * 63])
def test_a_line_that_is_not_an_anchor_is_refused_naming_it(text):
    with pytest.raises(ReturnsError, match="line 2 of the anchor file is not an anchor"):
        anchors.parse(anchors.line(anchors.Anchor(AT, "events", 1, 1, "0" * 64)) + "\n" + text)


def test_each_way_an_anchor_breaks_is_one_line():
    a = anchors.Anchor(AT, "events", 3, 5, "a" * 64)
    assert anchors.problems([a], {("events", 5): ("a" * 64, 3)}) == []
    assert "no longer has row 5" in anchors.problems([a], {("events", 5): (None, 0)})[0]
    assert "hash changed" in anchors.problems([a], {("events", 5): ("b" * 64, 3)})[0]
    assert "2 row(s) up to row 5" in anchors.problems([a], {("events", 5): ("a" * 64, 2)})[0]


@pytest.fixture
def desk(cli, db_path):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))
    for n in range(3):
        ok(cli("open", "--type", "standard", "--customer", f"Customer {n}", "--item", "CAM-1",
               today=TODAY))
    return db_path


def _anchor(db_path, file) -> list[str]:
    db = open_database(db_path, read=True)
    try:
        return anchors.run(db, file, AT, chains_ok=True)
    finally:
        db.close()


def _untriggered(db_path, *statements):
    """The owner's (or the file's writer's) edit, append-only triggers set aside for it."""
    with raw(db_path) as conn:
        if isinstance(db_path, str):
            conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            for sql in statements:
                conn.execute(sql)
            conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        else:
            for name in ("events_no_update", "events_no_delete"):
                conn.execute(f"DROP TRIGGER {name}")
            for sql in statements:
                conn.execute(sql)


def test_the_nightly_anchor_holds_while_the_chain_grows(cli, desk, tmp_path):
    file = tmp_path / "anchors.txt"
    assert _anchor(desk, file) == []
    first = anchors.read(file)
    assert [a.table for a in first] == ["events"] and first[0].rows == 3
    ok(cli("note", "RA-000001", "later", today=TODAY))
    assert _anchor(desk, file) == []  # the chain extends the first anchor
    assert [a.rows for a in anchors.read(file)] == [3, 4]
    assert file.stat().st_mode & 0o077 == 0


def test_rows_removed_from_the_end_are_named_by_the_anchor(desk, tmp_path):
    file = tmp_path / "anchors.txt"
    _anchor(desk, file)
    _untriggered(desk, "DELETE FROM events WHERE id = 3")
    with raw(desk) as conn:  # the head moved back too: no hashing needed
        conn.execute("UPDATE chain_heads SET last_id = 2, rows = 2, "
                     "hash = (SELECT hash FROM events WHERE id = 2) "
                     "WHERE name = 'events'")
    [line] = _anchor(desk, file)
    assert "no longer has row 3" in line
    assert len(anchors.read(file)) == 1  # nothing appended over a broken anchor


def test_a_chain_recomputed_after_an_edit_is_named_by_the_anchor(desk, tmp_path):
    file = tmp_path / "anchors.txt"
    _anchor(desk, file)
    _untriggered(desk, "UPDATE events SET agent = 'someone' WHERE id = 1")
    db = open_database(desk)
    try:
        server = isinstance(desk, str)
        if server:
            db.execute("ALTER TABLE events DISABLE TRIGGER USER")
        chain.rebuild(db)  # every hash and the head recomputed: the chain itself verifies again
        if server:
            db.execute("ALTER TABLE events ENABLE TRIGGER USER")
        bad, wrong = chains.verify(db, "events")
    finally:
        db.close()
    assert bad == [] and wrong == []
    [line] = _anchor(desk, file)
    assert "row 3's hash changed" in line


def test_doctor_anchor_appends_the_heads_and_names_a_broken_anchor(cli, desk, tmp_path):
    file = tmp_path / "anchors.txt"
    doc = ok(cli("doctor", "--json", "--anchor", str(file)))
    assert [a.rows for a in anchors.read(file)] == [3]
    _untriggered(desk, "DELETE FROM events WHERE id = 3")
    with raw(desk) as conn:
        conn.execute("UPDATE chain_heads SET last_id = 2, rows = 2, "
                     "hash = (SELECT hash FROM events WHERE id = 2) "
                     "WHERE name = 'events'")
    doc = cli("doctor", "--json", "--anchor", str(file))
    assert doc.exit_code == 1
    assert any("no longer has row 3" in line for line in doc.stderr.splitlines())
    assert len(anchors.read(file)) == 1
