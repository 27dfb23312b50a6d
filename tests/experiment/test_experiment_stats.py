"""The experiment statistics against independent references: statsmodels, scipy, the sample-size formula by hand,
and the mSPRT written from Johari et al. 2017 in its own notation (equal arms, V = sum of per-observation
variances)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

from mlobs_cli.experiment import stats

TOL = 1e-9  # relative: the same formula in floating point


@pytest.mark.parametrize(("cc", "nc", "ct", "nt"), [
    pytest.param(7456, 142567, 406, 7503, id="design panel 95/5"),
    pytest.param(50, 1000, 80, 1000, id="equal arms, treatment better"),
    pytest.param(500, 10000, 20, 1000, id="treatment worse"),
    pytest.param(1, 30, 0, 40, id="tiny counts"),
])
def test_ztest_matches_statsmodels(cc: int, nc: int, ct: int, nt: int) -> None:
    z, p = stats.ztest(cc, nc, ct, nt)
    ref_z, ref_p = proportions_ztest([ct, cc], [nt, nc])  # pooled SE is statsmodels' default
    assert z == pytest.approx(ref_z, rel=TOL)
    assert p == pytest.approx(ref_p, rel=TOL)


def test_ztest_without_variance_is_nan() -> None:
    assert all(math.isnan(v) for v in stats.ztest(0, 100, 0, 50))


@pytest.mark.parametrize(("p_c", "p_t", "k"), [
    pytest.param(0.0523, 0.0541, 19.0, id="design 95/5"),
    pytest.param(0.10, 0.12, 1.0, id="equal split"),
    pytest.param(0.20, 0.15, 3.0, id="treatment worse"),
])
def test_sample_size_by_hand(p_c: float, p_t: float, k: float) -> None:
    # the formula, with z(0.975) = 1.959963984540054 and z(0.8) = 0.8416212335729143 written out
    z_a, z_b = 1.959963984540054, 0.8416212335729143
    p = (k * p_c + p_t) / (k + 1)
    n_t = (z_a * math.sqrt(p * (1 - p) * (1 + 1 / k)) + z_b * math.sqrt(p_c * (1 - p_c) / k + p_t * (1 - p_t))) ** 2 \
        / (p_c - p_t) ** 2
    n_c, got_t = stats.sample_size(p_c, p_t, k)
    assert got_t == pytest.approx(n_t, rel=1e-12)
    assert n_c == pytest.approx(k * n_t, rel=1e-12)


def test_sample_size_equal_split_matches_textbook() -> None:
    # k = 1: Fleiss' classic n per arm for 10% vs 12% is about 3841 (e.g. G*Power, R power.prop.test's 3841)
    _, n_t = stats.sample_size(0.10, 0.12, 1.0)
    assert n_t == pytest.approx(3840.8, abs=1.0)


def test_no_difference_needs_no_sample_size() -> None:
    assert stats.sample_size(0.05, 0.05, 19.0) is None


@pytest.mark.parametrize(("observed", "split", "flag"), [
    pytest.param([95_000, 5_000], [0.95, 0.05], False, id="exact split"),
    pytest.param([94_000, 6_000], [0.95, 0.05], True, id="planted srm"),
    pytest.param([9_500_900, 499_100], [0.95, 0.05], False, id="significant but under 1% off"),
    pytest.param([480, 520], [0.5, 0.5], False, id="small, not significant"),
    pytest.param([33_000, 33_000, 34_000], [1 / 3, 1 / 3, 1 / 3], True, id="three arms"),
])
def test_srm_matches_scipy(observed: list[int], split: list[float], flag: bool) -> None:
    chi2, p, mismatch = stats.srm(observed, split)
    total = sum(observed)
    ref = sps.chisquare(observed, f_exp=[total * s for s in split])
    assert chi2 == pytest.approx(ref.statistic, rel=TOL)
    assert p == pytest.approx(ref.pvalue, rel=TOL, abs=1e-300)
    assert mismatch is flag


def test_srm_needs_both_conditions() -> None:
    # 100M samples, the treatment 0.8% under its share: p far below 0.001, yet not more than 1% off -> no SRM
    _, p, mismatch = stats.srm([95_040_000, 4_960_000], [0.95, 0.05])
    assert p < stats.SRM_P and not mismatch


def johari_msprt(x_successes: int, y_successes: int, n: int, tau2: float) -> float:
    """Johari et al. 2017 (section 4, two-stream normal mixture) in the paper's notation, for n pairs:
    Lambda_n = sqrt(V / (V + n tau^2)) exp(n^2 tau^2 (Ybar_n - Xbar_n)^2 / (2 V (V + n tau^2))),
    V the variance of one observation of Y - X (here Bernoulli, plug-in); p_n = min(1, 1 / Lambda_n)."""
    xbar, ybar = x_successes / n, y_successes / n
    v = xbar * (1 - xbar) + ybar * (1 - ybar)
    lam = math.sqrt(v / (v + n * tau2)) * math.exp(n**2 * tau2 * (ybar - xbar) ** 2 / (2 * v * (v + n * tau2)))
    return min(1.0, 1 / lam)


@pytest.mark.parametrize(("cx", "cy", "n", "tau2"), [
    pytest.param(500, 560, 10_000, 1e-4, id="small lift"),
    pytest.param(500, 700, 10_000, 1e-4, id="clear lift"),
    pytest.param(500, 400, 10_000, 1e-3, id="worse, wider mixture"),
    pytest.param(50, 52, 1_000, 1e-4, id="no evidence: p is 1"),
])
def test_msprt_matches_paper(cx: int, cy: int, n: int, tau2: float) -> None:
    assert stats.msprt_pvalue(cx, n, cy, n, tau2) == pytest.approx(johari_msprt(cx, cy, n, tau2), rel=1e-9)


def test_msprt_is_more_conservative_than_fixed_horizon() -> None:
    # what peeking safety costs: at a difference a fixed-horizon test calls significant, the mSPRT does not yet
    _, fixed = stats.ztest(500, 10_000, 570, 10_000)
    assert fixed < 0.05 < stats.msprt_pvalue(500, 10_000, 570, 10_000)


def test_msprt_without_variance() -> None:
    assert stats.msprt_pvalue(0, 100, 0, 100) == 1.0


def test_bonferroni() -> None:
    assert stats.bonferroni(0.05, 3) == pytest.approx(0.05 / 3)
    assert stats.bonferroni(0.05, 1) == 0.05


def test_always_valid_pvalue_is_the_running_minimum() -> None:
    looks = [(100, 2_000, 150, 2_000), (260, 5_000, 330, 5_000), (500, 10_000, 560, 10_000)]
    expected = min(johari_msprt(cx, cy, n, stats.MIXTURE_VARIANCE) for cx, _, cy, n in looks)
    assert stats.always_valid_pvalue(looks) == pytest.approx(expected, rel=1e-9)
    assert stats.always_valid_pvalue(looks) <= stats.msprt_pvalue(*looks[-1])
    assert stats.always_valid_pvalue([]) == 1.0
