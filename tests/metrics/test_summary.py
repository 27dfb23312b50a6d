"""`mlobs metrics summary` on the scenario, in Prometheus and in VictoriaMetrics: every number of every row against
metrics_reference.py's computation over the generated samples (relative tolerance: its TOLERANCE), and every
level against the story the scenario tells (scenario.py's docstring)."""

from __future__ import annotations

import math

import pytest
from metrics_reference import TOLERANCE, close, gauges, quantiles, rates
from canary import canary, imported
from scenario import SHORT, Scenario

from mlobs_cli.metrics.common import LEVEL_RANK
from mlobs_cli.metrics.summary import COLUMNS, LOAD_WINDOW
from mlobs_cli.timeparse import isoformat
from tests.conftest import backfilled_prometheus

W = 300.0


def expected_row(sc: Scenario, model: str, version: str, t: float) -> dict[str, float]:
    """Every column of one row at t, from the samples."""
    mv, m = (model, version), (model,)
    # the version's own error ratio: the scenario's errors_total has no version label, its requests carry status
    requests = rates(sc, "inference_requests_total", t, W, ("model", "version"), model=model)[mv]
    errors = rates(sc, "inference_requests_total", t, W, ("model", "version", "status"), model=model)[
        (*mv, "500")]
    gpus = [labels["gpu_id"] for labels, _ in gauges(sc, "gpu_memory_allocated_bytes", t, model=model)]
    used = {labels["gpu_id"]: v for labels, v in gauges(sc, "gpu_memory_used_bytes", t)}
    total = {labels["gpu_id"]: v for labels, v in gauges(sc, "gpu_memory_total_bytes", t)}
    batch = rates(sc, "batch_size_sum", t, W, ("model",), model=model)[m] / \
        rates(sc, "batch_size_count", t, W, ("model",), model=model)[m]
    return {
        "requests_per_second": rates(sc, "inference_requests_total", t, W, ("model", "version"), model=model)[mv],
        "error_ratio": errors / requests,
        **{f"latency_p{p}_seconds": quantiles(sc, p / 100, "inference_latency_seconds", t, W, ("model", "version"),
                                              model=model)[mv] for p in (50, 95, 99)},
        "queue_depth": sum(v for _, v in gauges(sc, "request_queue_depth", t, model=model)),
        "batch_size_avg": batch,
        "batch_wait_p99_seconds": quantiles(sc, 0.99, "batch_wait_seconds", t, W, ("model",), model=model)[m],
        "gpu_utilization_percent": float(
            sum(v for _, v in gauges(sc, "gpu_utilization_percent", t, model=model))
            / len(gauges(sc, "gpu_utilization_percent", t, model=model))),
        "gpu_memory_used_ratio": max(used[g] / total[g] for g in gpus),
        "model_load_p99_seconds": quantiles(sc, 0.99, "model_load_seconds", t, LOAD_WINDOW.total_seconds(),
                                            ("model", "version"), model=model).get(mv, math.nan),
    }


# What the scenario's labels allow: the columns whose metric has no version label show the model's number.
MODEL_WIDE = {"queue_depth": "request_queue_depth", "batch_size_avg": "batch_size",
              "batch_wait_p99_seconds": "batch_wait_seconds", "gpu_utilization_percent": "gpu_utilization_percent",
              "gpu_memory_used_ratio": "gpu_memory_allocated_bytes"}

# The story, not the thresholds' code: which cell of which row crosses which catalogue level at the end.
LEVELS = {
    ("llm-7b", "v2.1.0"): {"latency_p99_seconds": "warn", "queue_depth": "scale_up", "batch_wait_p99_seconds": "warn",
                           "gpu_utilization_percent": "alert", "model_load_p99_seconds": "investigate"},
    ("llm-7b", "v2.2.0"): {"queue_depth": "scale_up", "batch_wait_p99_seconds": "warn",
                           "gpu_utilization_percent": "alert", "model_load_p99_seconds": "investigate"},
    ("cv-resnet", "v1.5.2"): {"batch_size_avg": "investigate"},
    ("embedding", "v3.0.0"): {"gpu_utilization_percent": "warn"},
    ("fraud-det", "v2.2.0"): {"error_ratio": "alert", "gpu_memory_used_ratio": "alert"},
}


def test_every_number_and_level(cli, server, scenario):
    at = scenario.end
    report = cli.json("metrics", "summary", "--prometheus", server.url, "--at", int(at), expect=0)
    assert report["complete"] and report["errors"] == [] and report["time"] == isoformat(_utc(at))
    assert [(r["model"], r["version"]) for r in report["models"]] == sorted(LEVELS)
    for row in report["models"]:
        now = expected_row(scenario, row["model"], row["version"], at)
        before = expected_row(scenario, row["model"], row["version"], at - 3600)
        for key in now:
            cell = row[key]
            assert close(cell["value"], now[key], server.kind), (row["model"], row["version"], key, cell, now[key])
            assert close(cell["previous"], before[key], server.kind), (row["model"], key, cell, before[key])
            if cell["change"] is not None:  # a difference of two close numbers: absolute tolerance
                assert math.isclose(cell["change"], now[key] - before[key], rel_tol=1e-6, abs_tol=1e-6)
        levels = {k: row[k]["level"] for k in now if row[k]["level"]}
        assert levels == LEVELS[row["model"], row["version"]], (row["model"], row["version"])
        scopes = {k: row[k]["scope"] for k in now if row[k]["value"] is not None}
        assert scopes == {k: "model" if k in MODEL_WIDE else "version" for k in scopes}, (row["model"], scopes)
    assert report["model_wide"] == {k: f"model-wide: no version label on {m}" for k, m in MODEL_WIDE.items()}


def test_the_incident_shows_as_a_change(cli, server, scenario):
    report = cli.json("metrics", "summary", "--prometheus", server.url, "--at", int(scenario.end), "--model",
                      "llm-7b", expect=0)
    rows = {r["version"]: r for r in report["models"]}
    assert set(rows) == {"v2.1.0", "v2.2.0"}
    p99 = rows["v2.1.0"]["latency_p99_seconds"]
    # the incident's p99, by hand: rank 0.99 in the (0.25, 0.5] bucket holding 0.995 - 0.90 of the requests
    assert math.isclose(p99["value"], 0.25 + 0.25 * (0.99 - 0.90) / (0.995 - 0.90), rel_tol=TOLERANCE[server.kind])
    assert math.isclose(p99["previous"], 0.05 + 0.05 * (0.99 - 0.80) / (0.998 - 0.80),
                        rel_tol=TOLERANCE[server.kind])
    # the canary began loading less than an hour ago: no p99 load time an hour earlier
    assert rows["v2.2.0"]["model_load_p99_seconds"]["previous"] is None
    assert all('model="llm-7b"' in q for q in report["queries"].values())


def test_before_the_history_there_is_nothing(cli, scenario_prometheus, scenario):
    report = cli.json("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at",
                      int(scenario.end - SHORT - 7 * 86400), expect=0)
    assert report["models"] == []


def test_units_and_queries_in_json(cli, scenario_prometheus, scenario):
    report = cli.json("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                      "--window", "10m", expect=0)
    assert report["window_seconds"] == 600
    assert report["units"]["latency_p99_seconds"] == "seconds" and report["units"]["error_ratio"] == "ratio"
    assert set(report["queries"]) == {name for c in COLUMNS for name in c.names}
    assert {c.key for c in COLUMNS} | {"error_ratio.1", "error_ratio.2"} <= set(report["queries"])
    assert "[10m]" in report["queries"]["requests_per_second"] and "[1h]" in report["queries"]["model_load_p99_seconds"]


def test_table_shows_levels_changes_and_queries(cli, scenario_prometheus, scenario):
    result = cli("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                 "--show-queries", env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "fraud-det" in out and "8.00% ⚠" in out  # the error spike, over the catalogue's 0.1%
    assert "487 ms ⚠" in out  # the incident's p99
    assert "▲" in out and "▼" in out
    assert " ᵐ" in out and "ᵐ queue: model-wide: no version label on request_queue_depth" in out
    assert "requests_per_second: sum by (model, version) (rate(inference_requests_total[5m]))" in out


def test_csv_has_a_row_per_model_version(cli, scenario_prometheus, scenario):
    result = cli("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end), "-o", "csv")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("model,version,requests_per_second,requests_per_second_change,error_ratio")
    assert len(lines) == 1 + len(LEVELS)
    header = lines[0].split(",")
    assert header[-len(COLUMNS):] == [f"{c.key}_scope" for c in COLUMNS]
    llm = next(dict(zip(header, line.split(","), strict=True)) for line in lines if line.startswith("llm-7b,v2.1.0"))
    assert (llm["error_ratio_scope"], llm["queue_depth_scope"]) == ("version", "model")


@pytest.mark.parametrize("level", sorted(LEVEL_RANK))
def test_every_catalogue_level_is_drawn(level):
    from mlobs_cli.render.metrics import LEVEL_STYLE

    assert level in LEVEL_STYLE


def _utc(seconds: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def test_a_narrow_terminal_drops_the_least_needed_columns_and_says_so(cli, scenario_prometheus, scenario):
    result = cli("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                 env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "too narrow for: p50" in result.stdout
    header = next(line for line in result.stdout.splitlines() if line.startswith("model"))
    assert "p99" in header and "errors" in header and "p50" not in header
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= 100


def test_a_model_with_only_per_model_series_gets_a_row_without_version(cli, tmp_path):
    """A queue gauge with no inference series yet (a model being rolled out): one row, version none."""
    at = 1795690000
    samples = "".join(f'request_queue_depth{{model="new-model"}} 3 {at - n * 15}\n' for n in range(40, -1, -1))
    with backfilled_prometheus(tmp_path, samples + "# EOF\n") as url:
        report = cli.json("metrics", "summary", "--prometheus", url, "--at", at, expect=0)
    (row,) = report["models"]
    assert (row["model"], row["version"], row["queue_depth"]["value"]) == ("new-model", None, 3)
    # the row is the model's: its numbers are model-wide, and no versioned row needs the footnote
    assert row["queue_depth"]["scope"] == "model" and report["model_wide"] == {}
    assert row["requests_per_second"]["value"] is None


def test_a_column_the_server_cannot_evaluate_is_the_only_one_missing(cli, scenario_prometheus, scenario,
                                                                     monkeypatch):
    """Valid PromQL that fails on the data (here: duplicate series once the model label is overwritten) makes
    Prometheus refuse the whole union of the view's queries: each is then sent alone, so the other columns
    still show, and the run says what failed (exit 3)."""
    import dataclasses

    from mlobs_cli.metrics import summary

    at = int(scenario.end)
    whole = cli.json("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", at, expect=0)
    broken = tuple(dataclasses.replace(c, promql='max by (model) (label_replace(request_queue_depth{sel}, "model", '
                                       '"x", "", ""))') if c.key == "queue_depth" else c for c in summary.COLUMNS)
    monkeypatch.setattr(summary, "COLUMNS", broken)
    report = cli.json("metrics", "summary", "--prometheus", scenario_prometheus.url, "--at", at, expect=3)
    assert report["complete"] is False
    assert any("could not evaluate the query" in e["message"] for e in report["errors"])
    assert [r["model"] for r in report["models"]] == [r["model"] for r in whole["models"]]
    for row, before in zip(report["models"], whole["models"], strict=True):
        assert row["queue_depth"]["value"] is None
        assert row["requests_per_second"] == before["requests_per_second"]
        assert row["latency_p99_seconds"] == before["latency_p99_seconds"]


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
@pytest.mark.parametrize("versioned_errors", [True, False], ids=["errors-by-version", "errors-by-status"])
def test_a_broken_canary_shows_its_own_error_rate(cli, tmp_path, kind, versioned_errors):
    """v1 at 0%, v2 at 20%: each row says its own rate (model-wide it would be 50 * 0.2 / 150 = 6.67% on both),
    whichever way the errors are counted, and the value says it is the version's."""
    at = 1795690000
    with imported(kind, tmp_path, canary(at, versioned_errors)) as url:
        report = cli.json("metrics", "summary", "--prometheus", url, "--at", at, expect=0)
    rows = {r["version"]: r["error_ratio"] for r in report["models"]}
    assert set(rows) == {"v1", "v2"}
    assert math.isclose(rows["v1"]["value"], 0.0, abs_tol=1e-12)
    assert math.isclose(rows["v2"]["value"], 0.2, rel_tol=TOLERANCE[kind])
    assert rows["v1"]["scope"] == rows["v2"]["scope"] == "version"
    assert "error_ratio" not in report["model_wide"]


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
def test_errors_without_any_version_label_show_the_model_wide_rate_marked(cli, tmp_path, kind):
    """A store whose only error count is inference_errors_total{model} and whose requests carry no status: the
    error ratio can only be the model's, 10 / 150 on both rows, and both the table and the JSON say so."""
    at = 1795690000
    text = "\n".join(line for line in canary(at, False).splitlines() if 'status="503"' not in line)
    text = text.replace(',status="200"', "")
    with imported(kind, tmp_path, text + "\n") as url:
        report = cli.json("metrics", "summary", "--prometheus", url, "--at", at, expect=0)
        table = cli("metrics", "summary", "--prometheus", url, "--at", at, env={"COLUMNS": "250"})
    expected = 50 * 0.2 / (100 + 50 * 0.8)  # the requests kept are the ones that did not fail
    for row in report["models"]:
        assert math.isclose(row["error_ratio"]["value"], expected, rel_tol=TOLERANCE[kind])
        assert row["error_ratio"]["scope"] == "model"
    assert report["model_wide"] == {"error_ratio": "model-wide: no version label on inference_errors_total"}
    assert table.exit_code == 0 and f"{expected:.2%} ⚠ ᵐ" in table.stdout  # 7.14%, over the catalogue threshold
    assert "ᵐ errors: model-wide: no version label on inference_errors_total" in table.stdout
