"""The measures of quality/measures.py against scikit-learn and scipy on random data with ties."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score

from mlobs_cli.quality import measures


@pytest.mark.parametrize("seed", range(5))
def test_isotonic_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(2000), 2)  # many ties, as scores rounded by a serving fleet
    hits = rng.random(2000) < scores ** 2
    x = np.unique(scores)
    n = np.array([(scores == v).sum() for v in x], dtype=float)
    k = np.array([hits[scores == v].sum() for v in x], dtype=float)
    fit = measures.isotonic(x, k, n)
    probe = np.linspace(-0.1, 1.1, 500)
    want = IsotonicRegression(out_of_bounds="clip").fit(scores, hits).predict(probe)
    assert measures.calibrate(probe, fit) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_f1_macro_and_binary_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y, p = rng.choice(["a", "b", "c"], 300), rng.choice(["a", "b", "c", "d"], 300)
    confusion = Counter(zip(p.tolist(), y.tolist()))
    assert measures.f1(confusion, None) == pytest.approx(f1_score(y, p, average="macro"), rel=1e-12)
    yb, pb = rng.choice(["x", "y"], 200), rng.choice(["x", "y"], 200)
    confusion = Counter(zip(pb.tolist(), yb.tolist()))
    assert measures.f1(confusion, "y") == pytest.approx(f1_score(yb, pb, average="binary", pos_label="y"), rel=1e-12)


def test_ttest_matches_scipy_and_edge_cases():
    sample = [0.8, 0.82, 0.79, 0.75, 0.7]
    assert measures.ttest_less(sample, 0.85) == pytest.approx(
        stats.ttest_1samp(sample, 0.85, alternative="less").pvalue, rel=1e-10)
    assert measures.ttest_less([0.8], 0.85) is None  # one window: no spread to test
    assert measures.ttest_less([0.8, 0.8], 0.85) == 0.0 and measures.ttest_less([0.9, 0.9], 0.85) == 1.0


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 40).astype(float)
    assert measures.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, rel=1e-12)
    assert measures.spearman(np.ones(4), np.arange(4.0)) is None
