"""Step 4 of the high-latency runbook shows model quality from the prediction logs: prediction drift, and with a
label source the accuracy verdict, the same numbers `drift predictions` and `drift concept` give."""

from __future__ import annotations

import pytest

AT = "2025-01-09T12:00:00Z"  # the shipped example logs: their last day drifts, in inputs and in accuracy
BASELINE, CURRENT = "2025-01-02T12:00:00Z..2025-01-08T12:00:00Z", "2025-01-08T12:00:00Z..2025-01-09T12:00:00Z"
LOGS, LABELS = "examples/prediction-logs.jsonl", "examples/labels.csv"


def drift_step(cli, server, config, *args, **env):
    # the scenario Prometheus has no series in January 2025; the logs' drift findings make the exit 1
    report = cli.json("runbook", "latency", "--no-input", "--at", AT, "--prometheus", server.url, "--config",
                      config, "--model", "fraud-det", "--set", f"log_source={LOGS}", *args, expect=1, **env)
    return next(s for s in report["steps"] if s["step"] == "drift")


def rows(step):
    evidence = next(e for e in step["evidence"] if e["check"] == "model_quality")
    return {r["labels"]["signal"]: r["values"] for r in evidence["rows"]}, evidence


@pytest.fixture
def with_labels(walk_config, tmp_path):
    config = tmp_path / "labels.yaml"
    config.write_text(open(walk_config, encoding="utf-8").read() + f"\nlog:\n  labels: {LABELS}\n", encoding="utf-8")
    return config


def test_prediction_drift_and_the_accuracy_verdict_are_those_of_the_drift_commands(cli, scenario_server,
                                                                                  with_labels):
    step = drift_step(cli, scenario_server, with_labels)
    got, evidence = rows(step)
    predictions = cli.json("drift", "predictions", "--source", LOGS, "--baseline", BASELINE, "--current", CURRENT,
                           "--model", "fraud-det", "--no-versions", expect=1)
    concept = cli.json("drift", "concept", "--source", LOGS, "--labels", LABELS, "--baseline", BASELINE,
                       "--current", CURRENT, "--window", "4h", "--model", "fraud-det", expect=1)
    (group,) = predictions["groups"]
    assert got["prediction"]["class_psi"] == pytest.approx(group["class_psi"], rel=1e-12)
    assert got["prediction"]["alert"] == 1.0 and group["class_psi"] > 0.15
    assert got["accuracy"]["accuracy_baseline"] == pytest.approx(concept["baseline"]["accuracy"], rel=1e-12)
    assert got["accuracy"]["accuracy_current"] == pytest.approx(concept["current"]["accuracy"], rel=1e-12)
    assert got["accuracy"]["p_value"] == pytest.approx(concept["p_value"], rel=1e-12)
    assert got["accuracy"]["alert"] == 1.0 and concept["verdict"]["drift_type"] == "concept_drift"
    messages = {f["labels"]["signal"]: (f["status"], f["message"]) for f in step["findings"]
                if f["check"] == "model_quality"}
    assert messages["prediction"][0] == "ALERT" and "class distribution" in messages["prediction"][1]
    assert messages["accuracy"][0] == "WARN" and "concept drift" in messages["accuracy"][1]
    assert "concept_drift" in evidence["digest"]


def test_without_labels_only_prediction_drift_is_shown(cli, scenario_server, walk_config):
    got, evidence = rows(drift_step(cli, scenario_server, walk_config))
    assert set(got) == {"prediction"} and "accuracy" not in evidence["digest"]


def test_too_few_labels_per_window_is_said_not_a_fine_accuracy(cli, scenario_server, with_labels):
    got, evidence = rows(drift_step(cli, scenario_server, with_labels, env={"MLOBS_CONCEPT_MIN_LABELS": "100000"}))
    assert set(got) == {"prediction"}  # no accuracy row, rather than one that says all is well
    assert "accuracy: unknown" in evidence["digest"]
