"""render/metrics.py drawn without a server: sparklines of any numbers, the range table at any width, and the live
dashboard's footer."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from mlobs_cli.backends.prometheus import Series
from mlobs_cli.metrics.dashboard import Dashboard
from mlobs_cli.metrics.query import RangeResult
from mlobs_cli.render.metrics import SPARKS, _g, _shrink, live_screen, sparkline, table
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


# -- the range table ------------------------------------------------------------------------------------------------

SHARED = {"__name__": "inference_requests_total", "job": "model-server", "namespace": "ml-serving-prod",
          "model": "llm-7b", "version": "2024-11-03-a", "status": "200", "region": "eu-west-1", "cluster": "gpu-a"}
LABEL_SETS = {
    "one series": [{"__name__": "up", "job": "api", "instance": "node-0"}],
    "two series apart only by instance": [{**SHARED, "instance": "node-0"}, {**SHARED, "instance": "node-1"}],
    "ten labels apart": [{f"label{j}": f"v{j}-s{k}" for j in range(10)} for k in range(3)],
}


def _range_result(label_sets: list[dict[str, str]]) -> RangeResult:
    """Series k: 5 + k points around 1.2e6 * (k + 1), so each number is 11 characters and no two series share one."""
    t = datetime(2026, 11, 26, 3, tzinfo=UTC)
    return RangeResult("q", t, t, 15.0, tuple(
        Series(labels, tuple((i, 1222222.0 * (k + 1) + i * 7.123) for i in range(5 + k)))
        for k, labels in enumerate(label_sets)))


def _drawn(result: RangeResult, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    table(result, console)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [120, 80, 50, 40, 30])
@pytest.mark.parametrize("label_sets", LABEL_SETS.values(), ids=LABEL_SETS.keys())
def test_a_range_table_shows_every_number_whole_beside_the_labels_of_its_series(label_sets, width):
    result = _range_result(label_sets)
    screen = _drawn(result, width)
    assert max(len(line) for line in screen) <= width
    flat = " ".join(" ".join(screen).split())  # a block's numbers may wrap onto the next line
    apart = [n for n in result.labels if len({s.labels.get(n) for s in result.series}) > 1]
    end = 0
    for s in result.series:
        values = [v for _, v in s.points]
        numbers = [_g(values[-1]), _g(min(values)), _g(max(values)), str(len(values))]
        # a row of the table, or the numbers line of a block
        found = re.compile(r"(?:last )?{} (?:min )?{} (?:max )?{} (?:points )?{}(?!\S)".format(
            *map(re.escape, numbers))).search(flat, end)
        assert found, (numbers, screen)
        # between the previous series' numbers and its own: the labels that tell this series apart
        assert all(s.labels[n] in flat[end:found.start()] for n in apart), screen
        end = found.end()


def _heading(screen: list[str], labels: dict[str, str]) -> tuple[str, list[str]]:
    """The `every series:` line(s) at the top of `screen`, joined, and the lines after them."""
    heading = "every series: " + ", ".join(f"{'metric' if k == '__name__' else k}={v}"
                                           for k, v in sorted(labels.items(), key=lambda kv: (kv[0] != "__name__",
                                                                                               kv[0])))
    for n in range(1, len(screen) + 1):  # wrapped at spaces, or a value folded anywhere
        if "".join(screen[:n]).replace(" ", "") == heading.replace(" ", ""):
            return heading, screen[n:]
    raise AssertionError(f"no heading {heading!r} in {screen}")


def test_labels_every_series_shares_are_said_once_above_the_table():
    shared = {k: v for k, v in LABEL_SETS["two series apart only by instance"][0].items() if k != "instance"}
    screen = _drawn(_range_result(LABEL_SETS["two series apart only by instance"]), 80)
    heading, rest = _heading(screen, shared)  # all of them, wrapped: none is cut
    assert heading.startswith("every series: metric=inference_requests_total, ") and "cluster=gpu-a" in heading
    assert rest[0].split() == ["instance", "last", "min", "max", "points"]
    assert [line.split()[0] for line in rest[1:]] == ["node-0", "node-1"]


def test_one_series_has_no_label_columns():
    screen = _drawn(_range_result(LABEL_SETS["one series"]), 80)
    assert screen[0] == "every series: metric=up, instance=node-0, job=api"
    assert screen[1].split() == ["last", "min", "max", "points"]


def test_one_series_with_long_labels_shows_every_label_whole():
    labels = {"__name__": "container_memory_working_set_bytes", "namespace": "ml-serving-prod", "pod":
              "triton-llm-7b-v2-1-0-7c9f8d6b5-x2k4p", "container": "triton",
              "node": "gpu-node-a100-17.eu-west-1.compute.internal"}
    heading, rest = _heading(_drawn(_range_result([labels]), 60), labels)
    assert all(f"{k}={v}" in heading for k, v in labels.items() if k != "__name__")
    assert rest[0].split() == ["last", "min", "max", "points"]


def test_wide_characters_are_measured_in_cells():
    # 日本語 takes two cells a character: counted as one, the column would be cut before the ends that differ
    sets = [{"model": f"日本語のモデル名前-{k}"} for k in range(2)]
    screen = _drawn(_range_result(sets), 80)
    assert [line.split()[0] for line in screen[1:]] == ["日本語のモデル名前-0", "日本語のモデル名前-1"]


def test_too_narrow_for_the_table_each_series_is_a_block():
    shared = {k: v for k, v in LABEL_SETS["two series apart only by instance"][0].items() if k != "instance"}
    _, rest = _heading(_drawn(_range_result(LABEL_SETS["two series apart only by instance"]), 40), shared)
    assert rest == [
        "instance=node-0",
        "▁▃▅▆█  last 1.22225e+06  min 1.22222e+06",
        "max 1.22225e+06  points 5",
        "",
        "instance=node-1",
        "▁▂▄▅▇█  last 2.44448e+06",
        "min 2.44444e+06  max 2.44448e+06",
        "points 6",
    ]


@pytest.mark.parametrize(
    ("widths", "floors", "room", "shrunk"),
    [
        pytest.param([20, 10, 6], [8, 8, 6], 30, [14, 10, 6], id="the widest gives way first"),
        pytest.param([20, 10, 6], [8, 8, 6], 24, [9, 9, 6], id="then the next widest, in turn"),
        pytest.param([20, 10, 6], [8, 8, 6], 10, [8, 8, 6], id="no room: every column at its floor"),
        pytest.param([20, 10, 6], [8, 8, 6], 99, [20, 10, 6], id="room enough: unchanged"),
    ],
)
def test_shrink(widths, floors, room, shrunk):
    assert _shrink(widths, floors, room) == shrunk


def test_a_number_wider_than_the_console_wraps_whole_onto_its_own_line():
    _, rest = _heading(_drawn(_range_result(LABEL_SETS["one series"]), 12), LABEL_SETS["one series"][0])
    assert [line.rstrip() for line in rest] == ["▁▃▅▆█", "last", "1.22225e+06", "min", "1.22222e+06", "max", "1.22225e+06", "points 5"]


@pytest.mark.parametrize("width", [200, 30], ids=["table", "blocks"])
def test_a_huge_answer_shows_the_first_series_and_says_how_many_were_left_out(width):
    # 90,000 series once took minutes to lay out; the table keeps TABLE_ROWS of them, -o json/csv all (5,000 here)
    from mlobs_cli.backends.prometheus import Sample
    from mlobs_cli.metrics.query import InstantResult
    from mlobs_cli.render.metrics import TABLE_ROWS

    t = datetime(2026, 12, 1, tzinfo=UTC)
    n = 5_000
    instant = InstantResult("up", None, tuple(Sample({"instance": f"i{k:05d}"}, t.timestamp(), 1.0) for k in range(n)))
    ranged = RangeResult("up", t, t, 15.0, tuple(Series({"instance": f"i{k:05d}"}, ((t.timestamp(), 1.0),))
                                                 for k in range(n)))
    for result in (instant, ranged):
        out = io.StringIO()
        table(result, Console(file=out, width=width, color_system=None))
        text = out.getvalue()
        assert f"i{TABLE_ROWS - 1:05d}" in text and f"i{TABLE_ROWS:05d}" not in text
        assert f"{n - TABLE_ROWS} more series left out of the table (of {n})" in " ".join(text.split())
    assert len(instant.rows()) == n  # what -o csv writes: every series
