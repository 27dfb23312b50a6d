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


def test_postgres_gives_the_numbers_of_the_files(cli, data, files, pg_quality):
    from tests.logs.conftest import PG_PASSWORD

    def panels(source: str) -> dict:
        out = cli.json("dashboard", "model", "planted", "--source", source, "--baseline", data.arg(BASELINE),
                       "--current", data.arg(CURRENT), "--once", expect=0, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
        return {p["kind"]: p for p in out["panels"]}

    on_files, on_pg = panels(str(files.logs)), panels(pg_quality)
    # float sums in another order: equal to 1e-12
    for kind in ("prediction_distribution", "confidence", "low_confidence"):
        assert on_files[kind]["empty"] is None and on_pg[kind]["empty"] is None
    dist_f, dist_p = on_files["prediction_distribution"]["data"], on_pg["prediction_distribution"]["data"]
    assert dist_p["psi"] == pytest.approx(dist_f["psi"], rel=1e-12)
    assert [(c["label"], c["ref_share"], c["cur_share"]) for c in dist_p["classes"]] == [
        (c["label"], pytest.approx(c["ref_share"], rel=1e-12), pytest.approx(c["cur_share"], rel=1e-12))
        for c in dist_f["classes"]]
    conf_f, conf_p = on_files["confidence"]["data"], on_pg["confidence"]["data"]
    assert conf_p["histogram"] == conf_f["histogram"]
    assert conf_p["mean"] == pytest.approx(conf_f["mean"], rel=1e-12)
    assert conf_p["low_share"] == pytest.approx(conf_f["low_share"], rel=1e-12)
    low_f, low_p = on_files["low_confidence"]["data"]["rows"], on_pg["low_confidence"]["data"]["rows"]
    assert [(r["time"], r["count"]) for r in low_p] == [(r["time"], r["count"]) for r in low_f] and low_f
    assert [r["mean_confidence"] for r in low_p] == pytest.approx([r["mean_confidence"] for r in low_f], rel=1e-12)
    # and the files' numbers are the rows' own: the current period's share under 0.6, from the generated scores
    start, end = data.period(CURRENT)
    rows = data.logs[(data.logs.model_id == "planted") & (data.logs.timestamp >= start) & (data.logs.timestamp < end)]
    assert conf_f["low_share"] == pytest.approx(float((rows.output_score < 0.6).mean()), rel=1e-12)
    assert on_files["feature_psi"]["empty"] and on_pg["feature_psi"]["empty"]  # these logs hold no features


def test_unreachable_prometheus_empties_its_panels_and_exits_3(cli, closed_port):
    out = cli.json("dashboard", "model", "fraud-det", *EXAMPLE, "--prometheus", f"http://127.0.0.1:{closed_port}",
                   "--experiment", "canary", "--once", expect=3)
    panels = {p["kind"]: p for p in out["panels"]}
    assert all(panels[k]["empty"].startswith("no data:") for k in ("feature_psi", "experiment"))
    assert panels["prediction_distribution"]["empty"] is None  # the logs' panels still show
    assert {e["backend"] for e in out["errors"]} == {"prometheus"}
