"""`dashboard model MODEL`: panels as data holding the other commands' numbers, a panel without data says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import _series
from tests.quality.conftest import BASELINE, CURRENT

EXAMPLE = ("--source", "examples/prediction-logs.jsonl", "--baseline", "2025-01-07..2025-01-08T12:00", "--current",
           "2025-01-08T12:00..2025-01-09")


def test_panels_hold_the_commands_numbers(cli):
    out = cli.json("dashboard", "model", "fraud-det", *EXAMPLE, "--once", expect=0)
    panels = {p["kind"]: p for p in out["panels"]}
    assert [p["kind"] for p in out["panels"]] == ["feature_psi", "prediction_distribution", "confidence",
                                                  "low_confidence", "experiment"]
    shift = cli.json("logs", "feature-shift", "--model", "fraud-det", *EXAMPLE, expect=0)
    assert {f["feature"]: f["psi"] for f in panels["feature_psi"]["data"]["features"]} == \
        {f["feature"]: f["psi"] for f in shift["features"]}
    pred = cli.json("drift", "predictions", "--model", "fraud-det", "--no-versions", *EXAMPLE, expect=1)
    assert panels["prediction_distribution"]["data"]["psi"] == pred["groups"][0]["class_psi"]
    conf = panels["confidence"]["data"]
    assert conf["low_share"] == pred["groups"][0]["low_confidence_current"]  # same rows, same threshold
    assert sum(r["count"] for r in panels["low_confidence"]["data"]["rows"]) <= 300
    assert panels["feature_psi"]["data"]["source"] == "logs"
    assert "--prometheus" in panels["experiment"]["empty"]  # the experiment counters are in Prometheus


def test_a_panel_without_data_says_so(cli, data, files):
    # these logs log no feature values: the PSI panel is empty, the others are drawn
    out = cli.json("dashboard", "model", "control", "--source", str(files.logs), "--baseline", data.arg(BASELINE),
                   "--current", data.arg(CURRENT), "--once", expect=0)
    panels = {p["kind"]: p for p in out["panels"]}
    assert panels["feature_psi"]["empty"].startswith("no data:") and "feature_values" in panels["feature_psi"]["empty"]
    assert panels["prediction_distribution"]["empty"] is None and panels["prediction_distribution"]["data"]["psi"] < 0.1


def test_table_without_tty_and_no_color(cli):
    result = cli("dashboard", "model", "fraud-det", *EXAMPLE, env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "MODEL HEALTH DASHBOARD - fraud-det" in result.stdout and "\x1b[" not in result.stdout
    assert "● <0.1: OK  ◐ 0.1-0.2: Watch  ● >0.2: Alert" in result.stdout


def test_operational_dashboard_still_answers_help(cli):
    result = cli("dashboard", "--help")
    assert result.exit_code == 0 and "model" in result.stdout and "--once" in result.stdout


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("model", ["llm-7b", "resnet50"])
def test_feature_psi_from_prometheus(cli, prometheus, model):
    # the session Prometheus holds feature_psi{model, feature} as drift compare --pushgateway publishes it; its
    # value is 0.05 + 0.01 * (i % 5), i the series' index in tests/conftest.py's list
    want = {labels["feature"]: 0.05 + 0.01 * (i % 5) for i, (name, labels) in enumerate(_series())
            if name == "feature_psi" and labels["model"] == model}
    out = cli.json("dashboard", "model", model, "--source", "examples/prediction-logs.jsonl", "--baseline",
                   "2025-01-07..2025-01-08", "--current", f"{_iso(prometheus.end - 3600)}..{_iso(prometheus.end)}",
                   "--prometheus", prometheus.url, "--once", expect=0)
    panels = {p["kind"]: p for p in out["panels"]}
    psi = panels["feature_psi"]["data"]
    assert psi["source"] == "prometheus"
    assert {f["feature"]: f["psi"] for f in psi["features"]} == pytest.approx(want, rel=1e-12)
    assert all(f["status"] == "ok" for f in psi["features"])  # all under psi_watch 0.1
    # the example logs have no prediction of this model in the period: its logs panels say so, nothing is made up
    assert panels["prediction_distribution"]["empty"] and panels["confidence"]["empty"]
    assert panels["experiment"]["empty"].startswith("no running experiment")


def test_feature_psi_panel_without_series_says_so(cli, prometheus):
    out = cli.json("dashboard", "model", "fraud-det", *EXAMPLE, "--prometheus", prometheus.url, "--once", expect=0)
    panel = {p["kind"]: p for p in out["panels"]}["feature_psi"]
    assert panel["data"]["features"] == [] and "no feature_psi series for model fraud-det" in panel["empty"]
