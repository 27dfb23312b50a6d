"""`mlobs metrics query`: instant and range, on the scenario in Prometheus and VictoriaMetrics, checked against
metrics_reference.py; and the choice of step under Prometheus' 11,000-point limit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from metrics_reference import close, gauge_at, rates

from mlobs_cli.errors import InputError
from mlobs_cli.metrics.query import MAX_POINTS, choose_step
from mlobs_cli.timeparse import isoformat, parse_time

RATE = "sum by (model) (rate(inference_requests_total[5m]))"


def test_instant(cli, server, scenario):
    at = scenario.end - 1800
    report = cli.json("metrics", "query", RATE, "--prometheus", server.url, "--at", int(at), expect=0)
    expected = rates(scenario, "inference_requests_total", at, 300, ("model",))
    assert {r["labels"]["model"]: r["value"] for r in report["result"]}.keys() == {k[0] for k in expected}
    for r in report["result"]:
        assert close(r["value"], expected[(r["labels"]["model"],)], server.kind)
        assert r["time"] == isoformat(datetime.fromtimestamp(at, UTC))
    assert report["query"] == RATE and report["complete"]


def test_range(cli, server, scenario):
    start, end = scenario.end - 3600, scenario.end
    report = cli.json("metrics", "query", 'request_queue_depth{model="llm-7b"}', "--range", "--start", int(start),
                      "--end", int(end), "--step", "1m", "--prometheus", server.url, expect=0)
    ((_, times, values),) = scenario.select("request_queue_depth", model="llm-7b")
    (series,) = report["result"]
    assert series["labels"] == {"__name__": "request_queue_depth", "model": "llm-7b"}
    assert len(series["points"]) == 61 and report["step"] == 60
    for p in series["points"]:
        assert close(p["value"], gauge_at(times, values, parse_time(p["time"], "t").timestamp()), server.kind)


def test_range_csv_is_one_row_a_point(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", "sum(request_queue_depth)", "--range", "--start", int(scenario.end - 600),
                 "--end", int(scenario.end), "--step", "30s", "--prometheus", scenario_prometheus.url, "-o", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "time,value" and len(lines) == 1 + 21


def test_range_table_draws_sparklines(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", RATE, "--range", "--start", int(scenario.end - 86400), "--end",
                 int(scenario.end), "--prometheus", scenario_prometheus.url)
    assert result.exit_code == 0, result.stderr
    assert "llm-7b" in result.stdout and "█" in result.stdout and " 145" in result.stdout  # 24 h every 10 min


def test_a_step_too_fine_is_widened_and_said(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", "sum(request_queue_depth)", "--range", "--start", int(scenario.end - 3 * 3600),
                 "--end", int(scenario.end), "--step", "500ms", "--prometheus", scenario_prometheus.url, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert "would exceed 11,000 points" in result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["step"] == 0.982  # 10800 s / 10999 intervals, rounded up to the millisecond
    assert len(report["result"][0]["points"]) <= MAX_POINTS


def test_a_widened_step_gives_at_most_11000_points(cli, scenario_prometheus, scenario):
    """11,000 s every 500 ms: a step of exactly 1 s would give 11,001 points, both ends included."""
    end = int(scenario.end)
    report = cli.json("metrics", "query", "vector(1)", "--range", "--start", end - 11000, "--end", end, "--step",
                      "500ms", "--prometheus", scenario_prometheus.url, expect=0)
    (series,) = report["result"]
    times = [parse_time(p["time"], "t").timestamp() for p in series["points"]]
    assert 1 < report["step"] < 1.01 and f"using {report['step']:g}s" in report["note"]
    assert {round(b - a, 3) for a, b in pairwise(times)} == {report["step"]}  # the server took the step
    assert len(times) == 11000 // report["step"] + 1 <= MAX_POINTS


def test_a_step_giving_exactly_11000_points_is_kept(cli, scenario_prometheus, scenario):
    end = int(scenario.end)
    result = cli("metrics", "query", "vector(1)", "--range", "--start", end - 10999, "--end", end, "--step", "1s",
                 "--prometheus", scenario_prometheus.url, "-o", "json")
    assert result.exit_code == 0 and result.stderr == ""
    import json

    report = json.loads(result.stdout)
    assert report["step"] == 1 and report["note"] is None
    assert len(report["result"][0]["points"]) == MAX_POINTS


@pytest.mark.parametrize(
    ("span", "step", "expected"),
    [
        pytest.param(timedelta(hours=1), None, 15.0, id="1h: 15s, 241 points"),
        pytest.param(timedelta(hours=24), None, 600.0, id="24h: 10m"),
        pytest.param(timedelta(days=30), None, 10800.0, id="30d: 3h"),
        pytest.param(timedelta(days=400), None, 172800.0, id="400d: whole days"),
        pytest.param(timedelta(hours=1), 1.0, 1.0, id="a step that fits is kept"),
        pytest.param(timedelta(days=7), 1.0, 54.987, id="7d every 1s: widened to 11,000 points"),
        pytest.param(timedelta(days=365), 60.0, 2867.17, id="a year every minute: widened, to the millisecond"),
        pytest.param(timedelta(seconds=10999), 1.0, 1.0, id="exactly 11,000 points: kept"),
        pytest.param(timedelta(seconds=11000), 1.0, 1.001, id="11,001 points: widened"),
    ],
)
def test_choose_step(span, step, expected):
    end = datetime(2026, 11, 26, tzinfo=UTC)
    chosen, note = choose_step(end - span, end, step)
    assert chosen == pytest.approx(expected, abs=1e-3)
    assert span.total_seconds() // chosen + 1 <= MAX_POINTS  # both ends are points
    assert (note is not None) == (step is not None and chosen != step)


def test_choose_step_refuses_an_empty_range():
    end = datetime(2026, 11, 26, tzinfo=UTC)
    with pytest.raises(InputError, match="--end must be after --start"):
        choose_step(end, end, None)


def test_invalid_promql_exits_2_with_the_servers_message(cli, server):
    result = cli("metrics", "query", "sum(rate(x[5m])", "--prometheus", server.url)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "refused the request" in result.stderr
    assert ("parse error" if server.kind == "prometheus" else "unexpected token") in result.stderr


def test_a_range_vector_needs_range(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", "request_queue_depth[5m]", "--prometheus", scenario_prometheus.url, "--at",
                 int(scenario.end))
    assert result.exit_code == 2 and "--range" in result.stderr


def test_no_result_is_not_an_error(cli, scenario_prometheus, scenario):
    report = cli.json("metrics", "query", "no_such_metric", "--prometheus", scenario_prometheus.url, "--at",
                      int(scenario.end), expect=0)
    assert report["result"] == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(["--step", "1m"], "--step needs --range", id="--step"),
        pytest.param(["--start", "-2h", "--end", "-1h"], "--start and --end need --range", id="--start --end"),
        pytest.param(["--end", "-1h"], "--end needs --range", id="--end"),
        pytest.param(["--range", "--at", "-1h"], "--at is for one moment", id="--at with --range"),
    ],
)
def test_options_of_the_other_kind_of_query_are_usage_errors(cli, scenario_prometheus, options, message):
    """Never dropped in silence: the query would run at a moment, or over a range, the user did not ask for."""
    result = cli("metrics", "query", "up", *options, "--prometheus", scenario_prometheus.url)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_range_defaults_to_the_last_hour(cli, scenario_prometheus):
    report = cli.json("metrics", "query", "vector(1)", "--range", "--prometheus", scenario_prometheus.url, expect=0)
    start, end = (parse_time(report[k], k).timestamp() for k in ("start", "end"))
    assert end - start == 3600 and report["step"] == 15



def test_markdown_names_the_query(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", RATE, "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                 "-o", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"`{RATE}`" and lines[2] == "| model | value | time |" and len(lines) == 4 + 4


@pytest.mark.parametrize(
    ("promql", "drawn"),
    [
        pytest.param("vector(1)/0", " Inf ", id="+Inf: drawn as a gap, shown as Inf"),
        pytest.param("vector(0)/0", " — ", id="NaN: no value"),
        pytest.param("(time() % 600) - 500", "-500", id="negative, down to -500"),
    ],
)
def test_range_table_draws_any_number(cli, scenario_prometheus, scenario, promql, drawn):
    result = cli("metrics", "query", promql, "--range", "--start", int(scenario.end - 3600), "--end",
                 int(scenario.end), "--prometheus", scenario_prometheus.url)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert drawn in result.stdout


def test_a_negative_series_draws_low_values_low(cli, scenario_prometheus, scenario):
    """Every 10 min a ramp from -500 to +99: the sparkline rises from ▁ to █ each time, never starting tall."""
    start = int(scenario.end // 600 * 600) - 3600
    result = cli("metrics", "query", "(time() % 600) - 500", "--range", "--start", start, "--end", start + 599,
                 "--step", "15s", "--prometheus", scenario_prometheus.url)
    assert result.exit_code == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "▁" in line]
    spark = row.split()[0]
    assert spark[0] == "▁" and spark[-1] == "█" and list(spark) == sorted(spark)


@pytest.mark.parametrize("columns", ["120", "80", "50", "40", "30", "0", "", "wide"])
def test_range_table_never_cuts_a_number(cli, scenario_prometheus, scenario, columns):
    """Wide labels and 7-digit counters in any width (120 also what COLUMNS=0 or nonsense falls back to off a
    terminal): each number shows as -o json has it, to 6 significant digits, after the labels that tell its series
    apart; a row of the table, or where that does not fit a block a series, its numbers wrapped between numbers."""
    args = ("metrics", "query", "inference_requests_total", "--range", "--start", int(scenario.end - 3600), "--end",
            int(scenario.end), "--prometheus", scenario_prometheus.url)
    report = cli.json(*args, expect=0)
    result = cli(*args, env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= (int(columns) if columns.isdigit() and columns != "0" else 120)
    flat = " ".join(result.stdout.split())
    apart = {n for n in {n for s in report["result"] for n in s["labels"]}
             if len({s["labels"].get(n) for s in report["result"]}) > 1}
    drawn = []
    for s in report["result"]:
        values = [p["value"] for p in s["points"]]
        numbers = [f"{values[-1]:.6g}", f"{min(values):.6g}", f"{max(values):.6g}", str(len(values))]
        found = re.search(r"(?:^|\s)(?:last )?{} (?:min )?{} (?:max )?{} (?:points )?{}(?!\S)".format(
            *map(re.escape, numbers)), flat)
        assert found, (numbers, result.stdout)
        drawn.append((found.start(), found.end(), {s["labels"][n] for n in apart if n in s["labels"]}))
    drawn.sort(key=lambda d: d[0])
    for (_, end, _), (start, _, labels) in pairwise([(0, 0, set()), *drawn]):
        assert all(v in flat[end:start] for v in labels), result.stdout
