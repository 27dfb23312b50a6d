"""The runbook's error rate is each version's own where the series allow it, on a real Prometheus and a real
VictoriaMetrics: a canary failing 20% beside a healthy version is named, not averaged into the model's 6.7%; a
store whose errors carry no version shows the model's rate on each version's row, marked ᵐ."""

from __future__ import annotations

import math

import pytest

from tests.metrics.canary import canary, imported

AT = 1795690000
TOLERANCE = {"prometheus": 1e-9, "victoriametrics": 1e-6}  # as tests/metrics/metrics_reference.py argues


def evidence(report, check):
    step = next(s for s in report["steps"] if s["step"] == "immediate")
    return next(e for e in step["evidence"] if e["check"] == check)


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
@pytest.mark.parametrize("versioned_errors", [True, False], ids=["errors-by-version", "errors-by-status"])
def test_the_failing_canary_is_the_finding(cli, walk_config, tmp_path, kind, versioned_errors):
    with imported(kind, tmp_path, canary(AT, versioned_errors)) as url:
        report = cli.json("runbook", "latency", "--no-input", "--at", AT, "--prometheus", url, "--config",
                          walk_config, expect=1)
    rows = {r["labels"]["version"]: r["values"]["value"] for r in evidence(report, "error_rate")["rows"]}
    assert {r["scope"] for r in evidence(report, "error_rate")["rows"]} == {"version"}
    assert set(rows) == {"v1", "v2"}
    assert math.isclose(rows["v1"], 0.0, abs_tol=1e-12) and math.isclose(rows["v2"], 0.2, rel_tol=TOLERANCE[kind])
    errors = [f for f in report["findings"] if f["check"] == "runbook/immediate/error_rate"]
    assert [(f["subject"], f["message"]) for f in errors] == [("m v2", "error rate 20% (alert over 0.1%)")]


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
def test_a_model_wide_error_rate_is_marked_on_each_version(cli, walk_config, tmp_path, kind):
    """Errors counted per model only, requests without status; the queue gauge carries versions, so the
    side-by-side table has a row per version, and the error rate on each is the model's, marked."""
    text = "\n".join(line for line in canary(AT, False).splitlines() if 'status="503"' not in line)
    queue = "".join(f'request_queue_depth{{model="m",version="{v}"}} {q} {AT - n * 15}\n'
                    for v, q in (("v1", 3), ("v2", 40)) for n in range(40, -1, -1))
    text = text.replace(',status="200"', "").replace("# EOF", queue + "# EOF")
    with imported(kind, tmp_path, text + "\n") as url:
        report = cli.json("runbook", "latency", "--no-input", "--at", AT, "--prometheus", url, "--config",
                          walk_config, expect=1)
        table = cli("runbook", "latency", "--no-input", "--at", AT, "--prometheus", url, "--config", walk_config,
                    env={"COLUMNS": "200"})
    (row,) = evidence(report, "error_rate")["rows"]
    assert row["labels"] == {"model": "m"} and row["scope"] == "model"  # no version: the model's number
    assert math.isclose(row["values"]["value"], 10 / 140, rel_tol=TOLERANCE[kind])  # v2's 10 failed of 140 req/s
    lines = table.stdout.splitlines()
    assert any(line.split()[:2] == ["m", "v1"] and line.rstrip().endswith("7% ᵐ") for line in lines), table.stdout
    assert any(line.split()[:2] == ["m", "v2"] and line.rstrip().endswith("7% ᵐ") for line in lines)
    assert "ᵐ model-wide: no version label on the series of error rate" in table.stdout
    errors = [f["subject"] for f in report["findings"] if f["check"] == "runbook/immediate/error_rate"]
    assert errors == ["m"]  # the model's finding, not a version's
