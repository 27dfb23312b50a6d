"""`logs latency`: percentiles of the total and of each phase, per group, against numpy on the same rows."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.logs.conftest import iso, window_args

PHASES = ("queue_wait_ms", "inference_ms", "preprocessing_ms", "postprocessing_ms")
REL = 1e-9  # the stores and numpy interpolate the same way; only the last bits of the arithmetic may differ


def test_percentiles_by_model_and_version_match_numpy(logs, source, logs_cli):
    start, end = logs.current
    out = logs_cli("latency", "--source", source, "--by", "model,version", *window_args(start, end))
    assert out["complete"] and out["by"] == ["model_id", "model_version"]
    rows = logs.between(start, end)
    expected = sorted({(m, v) for m, v in zip(logs.columns["model_id"][rows], logs.columns["model_version"][rows])})
    assert [(g["group"]["model_id"], g["group"]["model_version"]) for g in out["groups"]] == expected
    for g in out["groups"]:
        sel = rows & (logs.columns["model_id"] == g["group"]["model_id"]) & (
            logs.columns["model_version"] == g["group"]["model_version"])
        assert g["requests"] == int(sel.sum())
        for column in ("total_latency_ms", *PHASES):
            want = np.percentile(logs.columns[column][sel], [50, 95, 99])
            got = [g[p][column] for p in ("p50", "p95", "p99")]
            assert got == pytest.approx(want, rel=REL), column


def test_the_slow_phase_of_the_slow_version_shows(logs, source, logs_cli):
    out = logs_cli("latency", "--source", source, "--by", "model,version", "--model", "fraud",
                   *window_args(*logs.current))
    v2 = next(g for g in out["groups"] if g["group"]["model_version"] == "v2")
    assert v2["p99"]["slowest_phase"] == "inference_ms"
    v1 = next(g for g in out["groups"] if g["group"]["model_version"] == "v1")
    assert v2["p99"]["total_latency_ms"] > 1.5 * v1["p99"]["total_latency_ms"]


def test_no_grouping_is_one_row_over_all_requests(logs, source, logs_cli):
    start, end = logs.baseline
    out = logs_cli("latency", "--source", source, *window_args(start, end))
    rows = logs.between(start, end)
    (group,) = out["groups"]
    assert group["requests"] == int(rows.sum()) and group["group"] == {}
    assert group["p95"]["total_latency_ms"] == pytest.approx(
        np.percentile(logs.columns["total_latency_ms"][rows], 95), rel=REL)


def test_window_includes_from_and_excludes_to(logs, source, logs_cli):
    """Rows at exactly edge, edge + 1h - 1ms and edge + 1h: [edge, edge + 1h) holds the first two."""
    hour = timedelta(hours=1)
    out = logs_cli("latency", "--source", source, "--model", "edge", *window_args(logs.edge, logs.edge + hour))
    assert out["groups"][0]["requests"] == 2
    # the same window as Unix seconds, --since counting back from --to
    out = logs_cli("latency", "--source", source, "--model", "edge", "--since", "1h", "--to",
                   str(int((logs.edge + hour).timestamp())))
    assert out["groups"][0]["requests"] == 2
    assert out["window"] == {"from": iso(logs.edge).replace(".000", ""), "to": iso(logs.edge + hour).replace(".000", "")}
    # to at the row at edge + 1h - 1ms leaves it out: only the row at edge is left
    ms = timedelta(milliseconds=1)
    out = logs_cli("latency", "--source", source, "--model", "edge", *window_args(logs.edge, logs.edge + hour - ms))
    assert out["groups"][0]["requests"] == 1
    assert out["groups"][0]["p50"]["total_latency_ms"] == pytest.approx(logs.columns["total_latency_ms"][-3])
    out = logs_cli("latency", "--source", source, "--model", "edge", "--from", "2026-01-01T00:00:00Z",
                   "--to", "2026-01-02T00:00:00Z")
    assert out["groups"] == []
