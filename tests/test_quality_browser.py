"""`report quality --html` as a browser shows it: headless Chromium (Debian's `chromium`, which
.ci/run installs) opens the file, the page it renders has every chart with its title and
figures, a screenshot is taken, and the page asks the network for nothing (Chromium's own
network log: no request the page started). Without Chromium this skips, but fails under CI."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest
from clihelpers import ok
from quality_pages import Page
from test_quality import MONTH, PERIOD, TODAY

from speco_returns.cli import quality_html

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         # Chromium's own services still try to call home: no name resolves, so nothing leaves the machine.
         "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed")
    return CHROMIUM


def browse(chromium: str, tmp_path, page, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"  # a fresh --user-data-dir each run
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)


def page_requests(net_log) -> list[str]:
    """The requests the page made (Chromium's own have no origin as their initiator)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"].get("url") for e in log["events"] if e["type"] == start
            and e.get("params", {}).get("initiator") not in (None, "not an origin")]


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def report_file(cli, tmp_path):
    for args in MONTH:
        ok(cli(*args, today=TODAY))
    doc = json.loads(ok(cli("report", "quality", *PERIOD, "--json", today=TODAY)).stdout)
    target = tmp_path / "quality.html"
    ok(cli("report", "quality", *PERIOD, "--html", str(target), today=TODAY))
    return doc, target


def test_chromium_renders_every_chart_with_its_title_and_figures(chromium, report_file, tmp_path):
    doc, target = report_file
    net_log = tmp_path / "net-log.json"
    done = browse(chromium, tmp_path, target, "--dump-dom", f"--log-net-log={net_log}")
    assert done.returncode == 0, done.stderr[-2000:]
    rendered = Page(done.stdout)  # the DOM as Chromium built it
    expected = {chart.name: (chart.title, rows) for chart, _, rows, _ in quality_html.build_charts(doc)}
    assert set(rendered.charts) == set(expected)
    for name, (title, rows) in expected.items():
        chart = rendered.charts[name]
        assert chart["caption"] == title and title in chart["svg_text"], name
        assert chart["rows"][1:] == [[str(c) for c in row] for row in rows], name
    assert page_requests(net_log) == []


def test_the_network_check_sees_a_page_that_asks_for_something(chromium, tmp_path):
    """The check above can fail: a page loading an image from elsewhere shows in the log."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">x</body></html>')
    net_log = tmp_path / "net-log.json"
    assert browse(chromium, tmp_path, page, "--dump-dom", f"--log-net-log={net_log}").returncode == 0
    assert page_requests(net_log) == ["http://127.0.0.1:9/x.png"]


def test_a_screenshot_of_the_page(chromium, report_file, tmp_path):
    _, target = report_file
    shot = tmp_path / "quality.png"
    done = browse(chromium, tmp_path, target, f"--screenshot={shot}", "--window-size=1100,1600",
                  "--hide-scrollbars")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert png_size(shot) == (1100, 1600)
    assert shot.stat().st_size > 30_000  # charts and tables, not a blank page
    keep = os.environ.get("SPECO_QUALITY_SCREENSHOT")  # where a person wants to look at it
    if keep:
        shutil.copy(shot, keep)
