"""render/metrics.py drawn without a server: sparklines of any numbers, and the live dashboard's footer."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from mlobs_cli.metrics.dashboard import Dashboard
from mlobs_cli.render.metrics import SPARKS, live_screen, sparkline
from mlobs_cli.results import BackendError

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("values", "width", "drawn"),
    [
        pytest.param([1.0, 2.0, 3.0], 40, "▁▅█", id="scaled from least to greatest"),
        pytest.param([INF, 1.0, NAN, 3.0, -INF, None], 40, " ▁ █  ", id="1/0, 0/0 and no value are gaps"),
        pytest.param([INF, INF], 40, "  ", id="nothing finite: all gap"),
        pytest.param([-500.0, -200.0, 100.0], 40, "▁▅█", id="negative values are low, not tall"),
        pytest.param([-1.0, -2.0, -3.0], 40, "█▅▁", id="all negative"),
        pytest.param([-250.0, -250.0], 40, "▁▁", id="flat and negative: a flat line"),
        pytest.param([7.0] * 5, 40, "▁▁▁▁▁", id="flat: a flat line"),
        pytest.param([1.7e308, -1.7e308, 0.0], 40, "█▁▅", id="near the float limits: no overflow"),
        pytest.param([0.0, 0.0, 10.0, 10.0], 2, "▁█", id="each character the mean of its share"),
        pytest.param([1.0, 2.0], 0, "", id="no room"),
    ],
)
def test_sparkline(values, width, drawn):
    assert sparkline(values, width) == drawn


def test_a_sparkline_draws_every_level_once_over_a_ramp():
    assert sparkline([float(i) for i in range(8)], 8) == SPARKS


def _dashboard(errors=(), warnings=()):
    return Dashboard(datetime(2026, 11, 26, 3, tzinfo=UTC), timedelta(minutes=5), (), tuple(warnings), tuple(errors))


def _screen(renderable, width=60, height=12) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text().splitlines()


def test_live_footer_lists_errors_and_warnings_at_the_bottom_one_line_each():
    screen = _screen(live_screen(_dashboard(
        [BackendError("prometheus", "prometheus http://x answered 500: range store down " + "x" * 80)],
        ["store eu-1 unreachable\nretrying"])))
    assert len(screen) == 12  # the whole screen: the footer is pinned to its bottom
    assert screen[-2].startswith("prometheus: prometheus http://x answered 500: range store") and len(screen[-2]) == 60
    assert screen[-2].endswith("…")
    assert screen[-1].rstrip() == "warning: store eu-1 unreachable retrying"
    assert screen[0].startswith("ML MODEL SERVING")


def test_live_footer_says_a_warning_among_the_errors_once():
    screen = _screen(live_screen(_dashboard(
        [BackendError("prometheus", "the server warned: store eu-1 unreachable (so the answer may be incomplete)")],
        ["store eu-1 unreachable"])))
    assert [line for line in screen if "store eu-1" in line] == [screen[-1]]


def test_live_footer_is_empty_without_errors_or_warnings():
    assert _screen(live_screen(_dashboard())) == _screen(live_screen(_dashboard()).renderables[0])


def test_a_failed_refresh_is_in_the_footer_under_the_last_dashboard():
    screen = _screen(live_screen(_dashboard(), "refresh failed: cannot reach prometheus"))
    assert screen[0].startswith("ML MODEL SERVING") and screen[-1].rstrip() == "refresh failed: cannot reach prometheus"
