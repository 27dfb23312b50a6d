"""`logs confidence` against numpy; `logs export` writes what it says, by suffix, and never loses a file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pytest

from mlobs_cli.timeparse import isoformat
from tests.logs.conftest import FEATURES, PG_PASSWORD, iso, window_args


def test_low_confidence_per_bucket_and_distribution_match_numpy(logs, source, logs_cli):
    start, end = logs.current
    out = logs_cli("confidence", "--source", source, *window_args(start, end), "--bucket", "1h",
                   "--threshold", "0.6")
    rows = logs.between(start, end)
    score = logs.columns["output_score"][rows]
    seconds = logs.ts[rows].astype("datetime64[us]").astype(np.int64) / 1e6
    index = np.floor(seconds / 3600).astype(int)
    buckets = {b["bucket_start"]: b for b in out["buckets"]}
    assert len(buckets) == 21  # 20 h less a minute, from a time that is not on the hour
    for i in np.unique(index):
        sel = index == i
        low = sel & (score < 0.6)
        b = buckets[isoformat(datetime.fromtimestamp(int(i) * 3600, UTC))]
        assert (b["predictions"], b["low_confidence"]) == (int(sel.sum()), int(low.sum()))
        assert b["mean_score"] == pytest.approx(score[sel].mean(), rel=1e-9)
        # a bucket the window cuts short (the session may start a minute after the hour) can hold no low score
        if low.any():
            assert b["mean_low_score"] == pytest.approx(score[low].mean(), rel=1e-9)
        else:
            assert b["mean_low_score"] is None
    hist = np.bincount(np.clip(np.floor(score * 10), 0, 9).astype(int), minlength=10)
    assert [d["count"] for d in out["distribution"]] == hist.tolist()
    assert out["low_share"] == pytest.approx((score < 0.6).mean())
    # the planted dip, 10 h to 8 h before the anchor, is the worst stretch
    worst = max(out["buckets"], key=lambda b: b["low_share"] or 0)
    worst_start = datetime.fromisoformat(worst["bucket_start"])
    assert logs.anchor - timedelta(hours=11) <= worst_start < logs.anchor - timedelta(hours=8)


def test_threshold_from_the_environment(logs, stores, cli):
    out = cli.json("logs", "confidence", "--source", stores.parquet, *window_args(*logs.current), "--bucket", "20h",
                   env={"MLOBS_LOG_CONFIDENCE_THRESHOLD": "0.5"}, expect=0)
    score = logs.columns["output_score"][logs.between(*logs.current)]
    assert out["threshold"] == 0.5 and out["low_confidence"] == int((score < 0.5).sum())


def test_too_many_buckets_is_refused(stores, cli):
    result = cli("logs", "confidence", "--source", stores.parquet, "--since", "30d", "--bucket", "1m")
    assert result.exit_code == 2 and "buckets" in result.stderr


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export_writes_the_period_by_suffix(logs, source, logs_cli, tmp_path, suffix):
    path = tmp_path / f"samples{suffix}"
    start, end = logs.current
    out = logs_cli("export", "--source", source, *window_args(start, end), "--model", "fraud", "-o", path)
    rows = logs.between(start, end) & (logs.columns["model_id"] == "fraud")
    assert out["rows"] == int(rows.sum()) and out["features"] == sorted(FEATURES)
    assert out["format"] == {".parquet": "parquet", ".csv": "csv", ".jsonl": "json"}[suffix]
    con = duckdb.connect()
    got = con.execute("SELECT * FROM read_" + ("json_auto" if suffix == ".jsonl" else suffix[1:]) + "(?)",
                      [str(path)]).fetchnumpy()
    assert list(got) == ["timestamp", "model_id", "model_version", *sorted(FEATURES), "output_class", "output_score"]
    expected = np.sort(logs.features["score_a"][rows & logs.has_features])
    values = np.ma.filled(np.ma.asarray(got["score_a"], dtype=float), np.nan)  # NULL: a row without features
    assert np.array_equal(np.sort(values[~np.isnan(values)]), expected)
    assert np.array_equal(np.sort(np.asarray(got["output_score"], dtype=float)),
                          np.sort(logs.columns["output_score"][rows]))


def test_export_never_replaces_a_file_without_force(logs, stores, cli, tmp_path):
    path = tmp_path / "samples.parquet"
    path.write_bytes(b"precious")
    args = ["logs", "export", "--source", stores.parquet, *window_args(*logs.current), "-o", path]
    result = cli(*args)
    assert result.exit_code == 2 and "--force" in result.stderr and path.read_bytes() == b"precious"
    out = cli.json(*args, "--force", "--features", "age", expect=0)
    assert out["features"] == ["age"] and path.read_bytes().startswith(b"PAR1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.parquet"]  # no temporary file left


def test_export_never_writes_over_its_input(stores, cli, tmp_path):
    copy = tmp_path / "logs.parquet"
    copy.write_bytes(stores.parquet.read_bytes())
    result = cli("logs", "export", "--source", tmp_path / "*.parquet", "--since", "30d", "-o", copy, "--force")
    assert result.exit_code == 2 and "logs read" in result.stderr
    assert copy.read_bytes() == stores.parquet.read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "out.txt", "--since", "1d"], "expected a file ending in"),
    (["-o", "out.parquet"], "--since or --from"),
    (["-o", "a.parquet", "-o", "b.csv", "--since", "1d"], "one -o FILE"),
    (["-o", "out.parquet", "--since", "1d", "--features", "nope"], "unknown feature nope"),
    (["-o", "out.parquet", "--since", "1d", "--from", "2d"], "--since or --from, not both"),
])
def test_export_refuses_what_it_cannot_do(stores, cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = cli("logs", "export", "--source", stores.parquet, *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_summary_in_json_beside_the_file(logs, postgres, cli, tmp_path):
    path = tmp_path / "s.jsonl"
    result = cli("logs", "export", "--source", postgres.url, "--from", iso(logs.current[0]), "-o", path, "-o", "json",
                 env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(path)
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) >= {"timestamp", "model_id", *FEATURES}
