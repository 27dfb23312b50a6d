"""`drift compare --html`: a self-contained page with every feature and one chart per drifted feature, checked by
parsing it and by opening it in a real headless Chromium with the network off."""

from __future__ import annotations

import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mlobs_cli.config import resolve
from mlobs_cli.drift.report import DriftReport
from mlobs_cli.drift.service import Request, run
from mlobs_cli.render import html
from mlobs_cli.errors import InputError

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; scripts/test installs it
BROWSER_TIMEOUT = 90
HOSTILE_NUMBER = "amount & fees"
HOSTILE_CATEGORY = "<script>alert(1)</script>"
URL_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "poster", "data"}


class Page(HTMLParser):
    """What the tests read from a page: charts, table rows, script tags, URL attributes, body data and text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[str] = []
        self.row_headers: list[str] = []
        self.scripts = 0
        self.urls: list[str] = []
        self.body: dict[str, str | None] = {}
        self.text: list[str] = []
        self._in_row_header = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.charts.append(a["data-feature"])
        self._in_row_header = tag == "th" and a.get("scope") == "row"
        self.scripts += tag == "script"
        self.urls += [v or "" for k, v in attrs if k in URL_ATTRIBUTES]
        if tag == "body":
            self.body = a

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_row_header = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_row_header:
            self.row_headers.append(data)


@pytest.fixture
def samples(sample) -> tuple[Path, Path]:
    """One stable number, one shifted number, one shifted category and one that only lost coverage (watch);
    two of the names carry HTML that the page must escape."""
    rng = np.random.default_rng(11)
    n = 2000
    coverage = rng.normal(10, 3, n)
    lost = coverage.copy()
    lost[: n // 10] = np.nan  # 0% -> 10% missing, same distribution: watch, not alert
    ref = sample("ref.parquet", {
        "stable": rng.normal(0, 1, n), HOSTILE_NUMBER: rng.normal(0, 1, n), "coverage": coverage,
        HOSTILE_CATEGORY: rng.choice(["a & b", "<b>bold</b>", "c" * 40], n, p=[0.6, 0.3, 0.1]),
    })
    cur = sample("cur.parquet", {
        "stable": rng.normal(0, 1, n), HOSTILE_NUMBER: rng.normal(1.0, 1, n), "coverage": lost,
        HOSTILE_CATEGORY: rng.choice(["a & b", "<b>bold</b>", "c" * 40], n, p=[0.2, 0.3, 0.5]),
    })
    return ref, cur


@pytest.fixture
def report(samples) -> DriftReport:
    return run(Request(str(samples[0]), str(samples[1])), resolve({}, config=os.devnull))


def drifted(report: DriftReport) -> list[str]:
    return [f.name for f in report.features if f.status in ("watch", "alert")]


def test_page_has_every_feature_one_chart_per_drifted_feature_and_escapes_names(report, tmp_path):
    assert {f.name: f.status for f in report.features} == {
        "stable": "ok", HOSTILE_NUMBER: "alert", HOSTILE_CATEGORY: "alert", "coverage": "watch"}
    out = tmp_path / "report.html"
    html.write_report(report, out)
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert sorted(page.charts) == sorted(drifted(report))
    assert sorted(page.row_headers) == sorted(f.name for f in report.features)
    # escaped: the hostile names come back as text, and the only script is the page's own
    assert page.scripts == 1
    assert "<script>alert(1)" not in text and "amount &amp; fees" in text
    joined = "".join(page.text)
    assert HOSTILE_CATEGORY in joined and "<b>bold</b>" in joined
    # nothing that a browser would fetch
    assert "http://" not in text and "https://" not in text
    assert all(not u.startswith("//") and "://" not in u for u in page.urls), page.urls
    assert "url(" not in text and "@import" not in text


def test_write_is_atomic(report, tmp_path, monkeypatch):
    out = tmp_path / "site" / "report.html"
    out.parent.mkdir()
    out.write_text("previous report", encoding="utf-8")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        html.write_report(report, out, force=True)
    assert out.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_write_never_replaces_a_file_that_appeared_meanwhile(report, tmp_path):
    # refused before the work when it exists; here it appears after that check, while the report is computed
    out = tmp_path / "site" / "report.html"
    out.parent.mkdir()
    out.write_text("someone else's file", encoding="utf-8")
    with pytest.raises(InputError, match="exists: give --force"):
        html.write_report(report, out)
    assert out.read_text(encoding="utf-8") == "someone else's file"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def chromium_dom(page: Path, profile: Path) -> str:
    """The page's DOM after load, from headless Chromium whose every network request goes to a dead proxy."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); required when CI is set")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000",
               "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_chromium_renders_every_chart_offline(report, tmp_path):
    out = tmp_path / "report.html"
    html.write_report(report, out)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    dom = Page(chromium_dom(out, profile))
    assert len(dom.charts) == len(drifted(report)) == 3
    assert dom.body.get("data-charts-rendered") == str(len(dom.charts)), dom.body


def test_cli_writes_the_report(cli, samples, tmp_path):
    out = tmp_path / "out" / "drift.html"
    out.parent.mkdir()
    result = cli("drift", "compare", *samples, "--html", out)
    assert result.exit_code == 1, (result.stderr, result.exception)  # two features alert
    assert f"wrote {out}" in result.stderr
    page = Page(out.read_text(encoding="utf-8"))
    assert sorted(page.charts) == sorted(["coverage", HOSTILE_NUMBER, HOSTILE_CATEGORY])
    assert [p.name for p in out.parent.iterdir()] == ["drift.html"]  # no temporary file left behind

