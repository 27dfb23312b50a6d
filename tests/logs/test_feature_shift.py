"""`logs feature-shift` against numpy, and its PSI against `drift compare` on the rows `logs export` wrote."""

from __future__ import annotations

import numpy as np
import pytest

from tests.logs.conftest import FEATURES, iso

REL = 1e-9


def _period(start, end) -> str:
    return f"{iso(start)}..{iso(end)}"


def _args(logs, source, *more):
    return ("feature-shift", "--source", source, "--baseline", _period(*logs.baseline), "--current",
            _period(*logs.current), *more)


def _numpy_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI written out in numpy, not through mlobs' drift.stats (which the command itself calls): bins on the
    baseline's quantiles at i/bins, right-closed, open ends (a value's bin is the number of edges below it), or
    one bin per value of either period when the baseline has at most `bins` values; proportions floored at 1e-4,
    natural log."""
    if np.unique(ref).size <= bins:
        values = np.union1d(ref, cur)
        r, c = (np.array([(x == v).sum() for v in values]) for x in (ref, cur))
    else:
        edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
        r, c = (np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1) for x in (ref, cur))
    p, q = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def test_quartiles_median_shift_and_psi_match_numpy(logs, source, logs_cli):
    out = logs_cli(*_args(logs, source))
    base, cur = logs.between(*logs.baseline), logs.between(*logs.current)
    got = {f["feature"]: f for f in out["features"]}
    assert sorted(got) == sorted(FEATURES)
    for name in FEATURES:
        values = logs.features[name]
        ref, now = values[base & logs.has_features], values[cur & logs.has_features]
        f = got[name]
        assert (f["n_baseline"], f["n_current"]) == (ref.size, now.size)
        assert [f["baseline_q1"], f["baseline_median"], f["baseline_q3"]] == pytest.approx(
            np.quantile(ref, [0.25, 0.5, 0.75]), rel=REL)
        assert [f["current_q1"], f["current_median"], f["current_q3"]] == pytest.approx(
            np.quantile(now, [0.25, 0.5, 0.75]), rel=REL)
        if np.median(ref) != 0:
            assert f["median_shift"] == pytest.approx(abs(np.median(now) - np.median(ref)) / abs(np.median(ref)))
        assert f["psi"] == pytest.approx(_numpy_psi(ref, now), rel=1e-12), name
    # the planted shift: +0.5 sd on score_a, x1.5 scale on score_b, a share moved on is_mobile (one bin per value)
    assert got["score_a"]["status"] == "alert" and got["score_b"]["psi"] > 0.1 and got["is_mobile"]["psi"] > 0.1
    assert "one bin per value" in got["is_mobile"]["note"]
    assert all(got[n]["status"] == "ok" for n in ("amount", "age", "stable"))
    assert [f["psi"] for f in out["features"]] == sorted((f["psi"] for f in out["features"]), reverse=True)


def test_psi_equals_drift_compare_on_the_exported_rows(logs, source, logs_cli, cli, tmp_path):
    """What `logs export` writes, `drift compare` reads; both compute the same PSI on the same rows."""
    base, cur = tmp_path / "baseline.parquet", tmp_path / "current.csv"
    for path, (start, end) in ((base, logs.baseline), (cur, logs.current)):
        logs_cli("export", "--source", source, "--from", iso(start), "--to", iso(end), "-o", path)
    shift = {f["feature"]: f["psi"] for f in logs_cli(*_args(logs, source, "--bins", "8"))["features"]}
    drift = cli.json("drift", "compare", base, cur, "--exit-zero", "--bins", "8", "--features",
                     ",".join(FEATURES), expect=0)
    compared = {f["name"]: f["psi"] for f in drift["features"]}
    assert compared.keys() == shift.keys()
    for name, psi in shift.items():
        assert psi == pytest.approx(compared[name], rel=1e-12, abs=1e-15), name


def test_only_the_named_features_and_the_model_filter(logs, source, logs_cli):
    out = logs_cli(*_args(logs, source, "--features", "score_a,stable", "--model", "ranker"))
    assert [f["feature"] for f in out["features"]] == ["score_a", "stable"]
    base = logs.between(*logs.baseline) & logs.has_features & (logs.columns["model_id"] == "ranker")
    assert out["features"][0]["n_baseline"] == int(base.sum())


def test_an_unknown_feature_is_named_with_those_the_logs_have(logs, source, cli):
    from tests.logs.conftest import PG_PASSWORD

    result = cli("logs", *_args(logs, source, "--features", "score_a,income"), env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
    assert result.exit_code == 2
    assert "unknown feature income" in result.stderr and "score_a" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["a'); DROP TABLE prediction_logs; --", "x\"y", "", "a b"])
def test_a_feature_name_with_sql_in_it_is_refused(logs, stores, cli, name):
    result = cli("logs", *_args(logs, str(stores.parquet), "--features", name or ","))
    if not name:  # nothing named: every feature
        assert result.exit_code == 0
        return
    assert result.exit_code == 2 and "feature name" in result.stderr
