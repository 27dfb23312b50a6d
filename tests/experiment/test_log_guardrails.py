"""Guardrails from the prediction logs (files through DuckDB, and PostgreSQL): the canary's error rate breaks the
catalogue's 0.1% while its conversion holds, so the verdict is a roll back that Prometheus alone cannot see."""

from __future__ import annotations

import numpy as np
import pytest
from tests.experiment.conftest import LOG_ARMS

from tests.logs.conftest import PG_PASSWORD


@pytest.fixture(params=["jsonl", "postgres"])
def log_source(request: pytest.FixtureRequest, experiment_logs) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("experiment_postgres")
    return str(experiment_logs.jsonl)


def test_error_rate_guardrail_from_logs(cli, experiments_prometheus, experiment_logs, log_source: str) -> None:
    s = experiments_prometheus
    out = cli.json("experiment", "status", "errors-canary", "--prometheus", s.url, "--at", str(s.end), "--since",
                   "1h", "--source", log_source, expect=1, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
    assert out["verdict"] == "roll_back"
    for v in out["variants"]:
        rows, errors = LOG_ARMS[v["name"]]
        assert v["guardrail_source"] == "logs"
        assert v["error_rate"] == pytest.approx(errors / rows, rel=1e-12)
        # percentile_cont is numpy's default (linear) interpolation; the same doubles, so 1e-9
        expected = np.percentile(experiment_logs.latencies[v["name"]], 99) / 1000
        assert v["p99_latency_seconds"] == pytest.approx(expected, rel=1e-9)
    breach = out["comparisons"][0]["guardrail_breaches"]
    assert len(breach) == 1 and breach[0].startswith("error rate 2.40% over the catalogue's 0.10% (alert)")
    assert [f["check"] for f in out["findings"]] == ["experiment/guardrail"]


def test_without_logs_prometheus_sees_no_guardrail(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    out = cli.json("experiment", "status", "errors-canary", "--prometheus", s.url, "--at", str(s.end), "--since",
                   "1h", expect=0)
    assert out["verdict"] == "keep_running"
    assert all(v["error_rate"] is None and v["guardrail_source"] is None for v in out["variants"])


def test_logs_without_experiment_columns(cli, experiments_prometheus, tmp_path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_text('{"timestamp": "2026-01-01T00:00:00Z", "model_id": "m", "status": "SUCCESS"}\n')
    s = experiments_prometheus
    result = cli("experiment", "status", "errors-canary", "--prometheus", s.url, "--at", str(s.end), "--since",
                 "1h", "--source", str(path))
    assert result.exit_code == 2 and "no column experiment_id" in result.stderr
