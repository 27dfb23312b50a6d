"""The function the runbook's drift step calls: prediction drift and the accuracy verdict, never an exception."""

from __future__ import annotations

from mlobs_cli import config
from mlobs_cli.quality.runbook_check import model_quality

PERIODS = {"baseline": "2025-01-07..2025-01-08T12:00", "current": "2025-01-08T12:00..2025-01-09"}


def test_prediction_drift_and_accuracy_verdict():
    s = config.resolve({"log.source": "examples/prediction-logs.jsonl", "log.labels": "examples/labels.csv"})
    check = model_quality(s, "fraud-det", **PERIODS, window="2h")
    assert check.status == "alert"
    assert check.lines[0].startswith("prediction drift fraud-det: class PSI 0.155 (ALERT")
    assert "concept_drift" in check.lines[1]


def test_unreadable_source_is_unknown():
    s = config.resolve({"log.source": "no/such/logs.jsonl"})
    check = model_quality(s, "fraud-det", **PERIODS)
    assert check.status == "unknown" and "no such file" in check.lines[0]


def test_too_few_labels_per_window_is_unknown_not_fine():
    s = config.resolve({"log.source": "examples/prediction-logs.jsonl", "log.labels": "examples/labels.csv",
                        "concept.min_labels": 1000})
    check = model_quality(s, "fraud-det", **PERIODS, window="2h")
    assert "accuracy" in check.lines[1] and "unknown" in check.lines[1]
    assert check.status == "alert"  # the prediction drift still alerts
