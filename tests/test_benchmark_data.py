"""The benchmark's generated database (benchmarks/generate.py) looks like a live one to notify:
the notices a nightly run would have sent before the generator's as-of are recorded as sent,
so a run on as-of finds only what falls due that day."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from speco_returns.db.database import open_database as Store
from speco_returns.domain import notices
from speco_returns.services import notify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate  # noqa: E402

AS_OF = date(2026, 11, 26)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    db = tmp_path_factory.mktemp("generated") / "returns.db"
    generate.generate(db, 4_000, 12, 20261126, AS_OF, quiet=True, open_share=0.10)
    store = Store(db)
    yield store
    store.close()


def with_address(store, day: date) -> list[tuple[str, notices.Notice]]:
    return [(f.key, n) for _, f, n in notify.due(store, day, notices.DEFAULT_REMIND)
            if notify.usable_email(f)]


def test_a_nightly_run_on_any_day_before_as_of_finds_nothing_left_to_send(generated):
    for back in range(1, 40):
        assert with_address(generated, AS_OF - timedelta(days=back)) == [], \
            f"as of {back} days before as-of"


def test_the_run_on_as_of_finds_that_days_notices_only(generated):
    today = with_address(generated, AS_OF)
    assert today, "nothing falls due on as-of: the benchmark's notify would time an empty run"
    open_returns = generated.execute(
        "SELECT count(*) FROM returns WHERE status NOT IN ('completed', 'cancelled', 'charged')"
    ).fetchone()[0]
    assert len(today) < open_returns / 5
    # each of them falls due on as-of, not before: the day before, with nothing recorded, it was
    # not due
    unrecorded_yesterday = {(f.key, n) for _, f, _ in notify.candidates(generated,
                                                                         AS_OF - timedelta(days=1))
                            for n in notices.due(f, AS_OF - timedelta(days=1))}
    assert not set(today) & unrecorded_yesterday


def test_each_sent_notice_has_its_notice_event_as_notify_records_it(generated):
    conn = generated
    rows = conn.execute("SELECT return_id, kind, days, about_on, state, message_id, sent_at "
                        "FROM notices").fetchall()
    assert rows and {r["state"] for r in rows} == {"sent"}
    events = Counter()
    for e in conn.execute("SELECT return_id, happened_on, detail FROM events "
                          "WHERE event = 'notice'"):
        d = json.loads(e["detail"])
        events[(e["return_id"], d["kind"], d.get("days", 0), d["about"], d["message_id"],
                e["happened_on"])] += 1
    assert events == Counter((r["return_id"], r["kind"], r["days"], r["about_on"], r["message_id"],
                              r["sent_at"][:10])
                             for r in rows)
    assert max(r["sent_at"][:10] for r in rows) < AS_OF.isoformat()


def test_the_notify_benchmarks_small_database_finds_the_same_notices_due(generated, tmp_path):
    """run.py's notify scale compares the large database with a small one holding its open
    returns row for row: their sent notices go along, or the small one finds more due."""
    import run

    small = Store(run.same_open_set(Path(generated.path), tmp_path / "small.db", 1_000))
    try:
        assert sorted(with_address(small, AS_OF)) == sorted(with_address(generated, AS_OF))
        assert small.execute("SELECT count(*) FROM returns").fetchone()[0] < 4_000
    finally:
        small.close()
