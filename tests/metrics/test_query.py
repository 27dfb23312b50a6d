"""`mlobs metrics query`: instant and range, on the scenario in Prometheus and VictoriaMetrics, checked against
metrics_reference.py; and the choice of step under Prometheus' 11,000-point limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    assert report["step"] == pytest.approx(10800 / 11000, abs=1e-3)
    assert len(report["result"][0]["points"]) <= MAX_POINTS


@pytest.mark.parametrize(
    ("span", "step", "expected"),
    [
        pytest.param(timedelta(hours=1), None, 15.0, id="1h: 15s, 241 points"),
        pytest.param(timedelta(hours=24), None, 600.0, id="24h: 10m"),
        pytest.param(timedelta(days=30), None, 10800.0, id="30d: 3h"),
        pytest.param(timedelta(days=400), None, 172800.0, id="400d: whole days"),
        pytest.param(timedelta(hours=1), 1.0, 1.0, id="a step that fits is kept"),
        pytest.param(timedelta(days=7), 1.0, 54.982, id="7d every 1s: widened to 11,000 points"),
        pytest.param(timedelta(days=365), 60.0, 2866.91, id="a year every minute: widened, to the millisecond"),
    ],
)
def test_choose_step(span, step, expected):
    end = datetime(2026, 11, 26, tzinfo=UTC)
    chosen, note = choose_step(end - span, end, step)
    assert chosen == pytest.approx(expected, abs=1e-3)
    assert span.total_seconds() / chosen <= MAX_POINTS
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


def test_step_without_range_is_a_usage_error(cli, scenario_prometheus):
    result = cli("metrics", "query", "up", "--step", "1m", "--prometheus", scenario_prometheus.url)
    assert result.exit_code == 2 and "--step needs --range" in result.stderr



def test_markdown_names_the_query(cli, scenario_prometheus, scenario):
    result = cli("metrics", "query", RATE, "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                 "-o", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"`{RATE}`" and lines[2] == "| model | value | time |" and len(lines) == 4 + 4
