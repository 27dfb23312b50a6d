"""`mlobs experiment list` over the planted experiments, and with the logs' experiments."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.experiment.conftest import EXPERIMENTS, STEP, STEPS, WINDOW_STEPS


def test_lists_every_planted_experiment(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    out = cli.json("experiment", "list", "--prometheus", s.url, "--at", str(s.end), "--since", "1h", expect=0)
    names = [e["experiment"] for e in out["experiments"]]
    assert names == sorted(EXPERIMENTS)
    srm = next(e for e in out["experiments"] if e["experiment"] == "srm")
    assert [v["name"] for v in srm["variants"]] == ["control", "treatment"]  # most traffic first
    assert [v["share"] for v in srm["variants"]] == pytest.approx([0.9, 0.1], rel=1e-9)
    assert srm["variants"][0]["samples"] == pytest.approx(900 * WINDOW_STEPS, rel=1 / WINDOW_STEPS)
    # the counters start 2 h before the end; first seen is found to the subquery's step, 1h / 12 = 5 min
    first = datetime.fromisoformat(srm["first_seen"]).timestamp()
    start = s.end - STEPS * STEP
    assert start <= first <= start + 300
    assert srm["age_seconds"] == pytest.approx(s.end - first, abs=1e-3)


def test_logs_add_experiments_prometheus_lacks(cli, experiments_prometheus, experiment_logs) -> None:
    s = experiments_prometheus
    out = cli.json("experiment", "list", "--prometheus", s.url, "--at", str(s.end), "--since", "1h", "--source",
                   str(experiment_logs.jsonl), expect=0)
    only = next(e for e in out["experiments"] if e["experiment"] == "logs-only")
    assert only["source"] == "files" and only["variants"] == [{"name": "a", "samples": 1, "share": 1.0}]


def test_nothing_seen_is_not_an_error(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    out = cli.json("experiment", "list", "--prometheus", s.url, "--at", str(s.end - 86400 * 3), "--since", "1h",
                   expect=0)
    assert out["experiments"] == []
