"""The drift statistics of `mlobs_cli.drift.stats` against independent references.

Every expected number comes from scipy (`ks_2samp`, `wasserstein_distance`, `jensenshannon`, `chi2_contingency`),
from numpy, from the slow PSI reference written out below from the specification, or from a hand computation in
the comments; never from the engine itself. The tolerance of each comparison is stated where it is made.

`stats` works on sorted, finite, non-empty samples (`features.numerical` drops the missing values and sorts), so
the inputs here are sorted first; the missing-value handling is tested in test_features.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from drift_reference import EPS, close_rel, ref_bins, ref_psi
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from mlobs_cli.drift import stats

# --- references, written from the specification -------------------------------------------------------------


def sample(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "shifted":
        return rng.normal(0.3, 1.2, size=n)
    if kind == "lognormal":
        return rng.lognormal(size=n)
    if kind == "int5":  # heavy ties, at most 5 distinct values
        return rng.integers(0, 5, size=n).astype(float)
    if kind == "int40":  # ties, more distinct values than bins: quantile edges on the values themselves
        return rng.integers(0, 40, size=n).astype(float)
    if kind == "constant":
        return np.full(n, 3.5)
    if kind == "rounded":  # many ties, edges often land on a value
        return np.round(rng.normal(size=n), 1)
    raise ValueError(kind)


# --- PSI on quantile bins: hand-computed cases ----------------------------------------------------------------

HAND_BINS = [
    # ref 1..10, bins=5: edges np.quantile at .2/.4/.6/.8 = positions 1.8, 3.6, 5.4, 7.2 -> 2.8, 4.6, 6.4, 8.2.
    # Bins (-inf,2.8] (2.8,4.6] (4.6,6.4] (6.4,8.2] (8.2,inf) hold {1,2} {3,4} {5,6} {7,8} {9,10}: 0.2 each.
    # cur = five 1s, three 5s, two 9s -> [5, 0, 3, 0, 2] / 10; the two empty bins are floored at 0.0001:
    # PSI = (.5-.2) ln(.5/.2) + 2 (.0001-.2) ln(.0001/.2) + (.3-.2) ln(.3/.2) + (.2-.2) ln 1 = 3.3633... .
    pytest.param(
        np.arange(1, 11), [1, 1, 1, 1, 1, 5, 5, 5, 9, 9], 5,
        [2, 2, 2, 2, 2], [5, 0, 3, 0, 2],
        0.3 * math.log(2.5) + 2 * (EPS - 0.2) * math.log(EPS / 0.2) + 0.1 * math.log(1.5),
        id="ref-1-to-10-bins5-empty-bins-floored",
    ),
    # ref 0..100 (101 values), bins=4: edges at positions 25, 50, 75 -> exactly 25, 50, 75.
    # Right-closed: 25 is in the first bin, 50 in the second, 75 in the third, 76 in the open top bin.
    # ref counts: {0..25}=26, {26..50}=25, {51..75}=25, {76..100}=25.
    # PSI = (.25-26/101) ln(.25/(26/101)) + 3 (.25-25/101) ln(.25/(25/101)).
    pytest.param(
        np.arange(0, 101), [25, 50, 75, 76], 4,
        [26, 25, 25, 25], [1, 1, 1, 1],
        (0.25 - 26 / 101) * math.log(0.25 / (26 / 101)) + 3 * (0.25 - 25 / 101) * math.log(0.25 / (25 / 101)),
        id="right-closed-values-on-edges",
    ),
    # ref six 0s and 1, 2, 3, 4 (5 distinct > bins=4): quantiles at positions 2.25, 4.5, 6.75 -> 0, 0, 1.75; the
    # duplicate 0 collapses, leaving bins (-inf,0] (0,1.75] (1.75,inf) = [6, 1, 3] / 10.
    # cur three 0s, three 1s, four 2s -> [3, 3, 4] / 10.
    # PSI = (.3-.6) ln(.5) + (.3-.1) ln(3) + (.4-.3) ln(4/3).
    pytest.param(
        [0, 0, 0, 0, 0, 0, 1, 2, 3, 4], [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 4,
        [6, 1, 3], [3, 3, 4],
        -0.3 * math.log(0.5) + 0.2 * math.log(3) + 0.1 * math.log(4 / 3),
        id="duplicate-edges-collapse",
    ),
    # ref has 2 distinct values (<= bins=10): one bin per distinct value of either sample, {1, 2, 3}.
    # ref [2, 2, 0] / 4 -> the unseen 3 is floored at 0.0001; cur [1, 1, 2] / 4.
    # PSI = 2 (.25-.5) ln(.5) + (.5-.0001) ln(.5/.0001).
    pytest.param(
        [1, 1, 2, 2], [1, 2, 3, 3], 10,
        [2, 2, 0], [1, 1, 2],
        2 * (-0.25) * math.log(0.5) + (0.5 - EPS) * math.log(0.5 / EPS),
        id="few-distinct-values-unseen-value-own-bin",
    ),
    # ref 0..4 twice: exactly bins=5 distinct values -> one bin per value of either sample, {0..5}.
    # ref [2, 2, 2, 2, 2, 0] / 10, cur five 0s and five 5s -> [5, 0, 0, 0, 0, 5] / 10.
    # PSI = (.5-.2) ln(2.5) + 4 (.0001-.2) ln(.0001/.2) + (.5-.0001) ln(.5/.0001).
    pytest.param(
        [0, 1, 2, 3, 4] * 2, [0] * 5 + [5] * 5, 5,
        [2, 2, 2, 2, 2, 0], [5, 0, 0, 0, 0, 5],
        0.3 * math.log(2.5) + 4 * (EPS - 0.2) * math.log(EPS / 0.2) + (0.5 - EPS) * math.log(0.5 / EPS),
        id="exactly-bins-distinct-values",
    ),
    # ref 0..5 twice: bins+1 = 6 distinct values -> quantile bins. Sorted ref has 12 values; positions 11 q =
    # 2.2, 4.4, 6.6, 8.8 fall between equal neighbours -> edges exactly 1, 2, 3, 4.
    # Bins (-inf,1] (1,2] (2,3] (3,4] (4,inf) = [4, 2, 2, 2, 2] / 12; cur five 0s, five 5s -> [5, 0, 0, 0, 5] / 10.
    # PSI = (.5-1/3) ln(1.5) + 3 (.0001-1/6) ln(.0001 * 6) + (.5-1/6) ln(3).
    pytest.param(
        [0, 1, 2, 3, 4, 5] * 2, [0] * 5 + [5] * 5, 5,
        [4, 2, 2, 2, 2], [5, 0, 0, 0, 5],
        (0.5 - 1 / 3) * math.log(1.5) + 3 * (EPS - 1 / 6) * math.log(EPS * 6) + (0.5 - 1 / 6) * math.log(3),
        id="bins-plus-one-distinct-values",
    ),
    # Constant reference (1 distinct value) and a constant current elsewhere: bins {3, 7};
    # ref [1, 0] -> [1, .0001], cur [0, 1] -> [.0001, 1]: PSI = 2 (1-.0001) ln(1/.0001) = 18.4188... .
    pytest.param(
        [3] * 8, [7] * 5, 10,
        [8, 0], [0, 5],
        2 * (1 - EPS) * math.log(1 / EPS),
        id="constant-columns-apart",
    ),
    # Single values on both sides, equal: one bin, PSI 0.
    pytest.param([2.5], [2.5], 10, [1], [1], 0.0, id="size-1-equal"),
]


@pytest.mark.parametrize(("ref", "cur", "bins", "ref_counts", "cur_counts", "expected_psi"), HAND_BINS)
def test_quantile_bins_and_psi_by_hand(ref, cur, bins, ref_counts, cur_counts, expected_psi):
    r = np.sort(np.asarray(ref, dtype=float))
    c = np.sort(np.asarray(cur, dtype=float))
    b = stats.quantile_bins(r, c, bins)
    # Counts: exact.
    assert b.ref_counts.tolist() == ref_counts
    assert b.cur_counts.tolist() == cur_counts
    # PSI: 1e-12 relative (or 1e-15 absolute around 0), only summation order differs.
    assert stats.psi(b.ref_counts, b.cur_counts, EPS) == pytest.approx(expected_psi, rel=1e-12, abs=1e-15)
    # The slow reference agrees with the hand computation (exact counts), so it can be trusted on random data.
    assert ref_bins(r, c, bins) == (ref_counts, cur_counts)


PSI_COUNTS = [
    # Two bins: .5/.5 -> .8/.2: PSI = .3 ln 1.6 + (-.3) ln .4 = 0.41588...
    pytest.param([50, 50], [80, 20], 0.3 * math.log(1.6) - 0.3 * math.log(0.4), id="two-bins"),
    pytest.param([10, 20, 30], [1, 2, 3], 0.0, id="same-proportions-different-sizes"),
    # Empty on opposite sides: floored proportions [1, .0001] and [.0001, 1], NOT renormalised (renormalising to
    # sum 1 would give 2 (1-.0001)/1.0001 ln(1e4) = 18.4170..., which the tolerance below rejects).
    pytest.param([7, 0], [0, 3], 2 * (1 - EPS) * math.log(1 / EPS), id="floor-not-renormalised"),
    # A current share below the floor but not zero: 1/20000 = .00005 -> floored to .0001, so it contributes
    # (.0001 - .5) ln(.0001/.5), and the other bin (19999/20000 - .5) ln((19999/20000)/.5).
    pytest.param(
        [1, 1], [1, 19999],
        (EPS - 0.5) * math.log(EPS / 0.5) + (19999 / 20000 - 0.5) * math.log((19999 / 20000) / 0.5),
        id="tiny-share-floored",
    ),
]


@pytest.mark.parametrize(("ref_counts", "cur_counts", "expected"), PSI_COUNTS)
def test_psi_by_hand(ref_counts, cur_counts, expected):
    # 1e-12 relative, 1e-15 absolute around 0.
    got = stats.psi(np.asarray(ref_counts), np.asarray(cur_counts), EPS)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --- PSI and JS on random data against the slow reference and scipy -------------------------------------------

RANDOM_CASES = [
    pytest.param(seed, kr, kc, nr, nc, bins, id=f"s{seed}-{kr}{nr}-{kc}{nc}-b{bins}")
    for seed, kr, kc, nr, nc, bins in [
        (0, "normal", "normal", 100, 100, 10),
        (1, "normal", "shifted", 100, 37, 10),
        (2, "normal", "shifted", 10_000, 10_000, 10),
        (3, "lognormal", "normal", 10_000, 2_000, 20),
        (4, "int5", "int5", 1_000, 300, 10),
        (5, "int40", "int40", 5_000, 5_000, 10),
        (6, "rounded", "shifted", 3_000, 500, 10),
        (7, "normal", "normal", 2, 5, 10),
        (8, "normal", "shifted", 5, 100, 2),
        (9, "int5", "int40", 500, 500, 4),
        (10, "constant", "normal", 100, 100, 10),
        (11, "normal", "constant", 100, 100, 10),
        (12, "normal", "shifted", 100_000, 100_000, 10),
        (13, "int40", "int40", 100_000, 20_000, 50),
    ]
]


@pytest.mark.parametrize(("seed", "kind_ref", "kind_cur", "n_ref", "n_cur", "bins"), RANDOM_CASES)
def test_bins_psi_js_against_reference(seed, kind_ref, kind_cur, n_ref, n_cur, bins):
    rng = np.random.default_rng(seed)
    r = np.sort(sample(kind_ref, n_ref, rng))
    c = np.sort(sample(kind_cur, n_cur, rng))
    expected_ref, expected_cur = ref_bins(r, c, bins)
    b = stats.quantile_bins(r, c, bins)
    # Counts: exact.
    assert b.ref_counts.tolist() == expected_ref
    assert b.cur_counts.tolist() == expected_cur
    # PSI: 1e-9 relative, 1e-15 absolute (summation order only).
    assert stats.psi(b.ref_counts, b.cur_counts, EPS) == pytest.approx(ref_psi(expected_ref, expected_cur),
                                                                       rel=1e-9, abs=1e-15)
    # JS divergence: scipy's jensenshannon(p, q, base=2) ** 2 on the raw proportions, 1e-12 absolute (it is in [0, 1]).
    expected_js = jensenshannon(np.asarray(expected_ref, float), np.asarray(expected_cur, float), base=2) ** 2
    assert stats.js_divergence(b.ref_counts, b.cur_counts) == pytest.approx(expected_js, rel=0, abs=1e-12)


JS_COUNTS = [
    pytest.param([1, 0], [0, 1], id="disjoint-is-1"),
    pytest.param([5, 5], [5, 5], id="identical-is-0"),
    pytest.param([50, 50], [80, 20], id="two-bins"),
    pytest.param([3, 0, 7, 0], [1, 4, 0, 5], id="zeros-on-both-sides"),
    pytest.param([1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1], id="reversed"),
    pytest.param([10**9, 1], [1, 10**9], id="huge-counts"),
]


@pytest.mark.parametrize(("ref_counts", "cur_counts"), JS_COUNTS)
def test_js_divergence_against_scipy(ref_counts, cur_counts):
    expected = jensenshannon(np.asarray(ref_counts, float), np.asarray(cur_counts, float), base=2) ** 2
    # 1e-12 absolute: JS in base 2 lies in [0, 1]. Disjoint supports are exactly 1, identical exactly 0.
    assert stats.js_divergence(np.asarray(ref_counts), np.asarray(cur_counts)) == pytest.approx(expected, abs=1e-12)


def test_js_divergence_disjoint_and_identical_by_hand():
    # Disjoint: m = (.5, .5), KL(p||m) = 1 bit each, JS = 1; identical: 0.
    assert stats.js_divergence(np.array([4, 0]), np.array([0, 9])) == pytest.approx(1.0, abs=1e-15)
    assert stats.js_divergence(np.array([2, 6]), np.array([1, 3])) == 0.0


# --- KS and Wasserstein against scipy -------------------------------------------------------------------------

CDF_CASES = [
    pytest.param(seed, kr, kc, nr, nc, id=f"s{seed}-{kr}{nr}-{kc}{nc}")
    for seed, kr, kc, nr, nc in [
        (0, "normal", "normal", 1, 1),
        (1, "normal", "shifted", 1, 2),
        (2, "normal", "shifted", 2, 5),
        (3, "normal", "shifted", 5, 100),
        (4, "normal", "normal", 100, 100),
        (5, "normal", "shifted", 100, 37),
        (6, "int5", "int5", 100, 100),
        (7, "int5", "int40", 300, 200),
        (8, "rounded", "rounded", 1_000, 999),
        (9, "constant", "normal", 50, 60),
        (10, "constant", "constant", 20, 30),
        (11, "normal", "shifted", 10_000, 10_000),  # exact p-value, equal sizes
        (12, "normal", "shifted", 10_000, 3_000),  # exact p-value, unequal sizes
        (13, "lognormal", "normal", 10_000, 1),
        (14, "int40", "int40", 10_000, 9_999),
        (15, "normal", "normal", 100_000, 100_000),  # asymptotic p-value
        (16, "normal", "shifted", 100_000, 30_000),
        (17, "normal", "normal", 10_001, 50),
    ]
]


@pytest.mark.parametrize(("seed", "kind_ref", "kind_cur", "n_ref", "n_cur"), CDF_CASES)
def test_cdf_stats_against_scipy(seed, kind_ref, kind_cur, n_ref, n_cur):
    rng = np.random.default_rng(seed)
    r = np.sort(sample(kind_ref, n_ref, rng))
    c = np.sort(sample(kind_cur, n_cur, rng))
    expected = ks_2samp(r, c)  # two-sided, method 'auto'
    got = stats.cdf_stats(r, c)
    # KS statistic: 1e-12 absolute.
    assert got.ks_stat == pytest.approx(float(expected.statistic), rel=0, abs=1e-12)
    # KS p-value: 1e-6 relative where both samples have at most 10,000 values; above that 2% relative, or both
    # below 1e-10.
    if max(n_ref, n_cur) <= 10_000:
        assert close_rel(got.ks_pvalue, float(expected.pvalue), 1e-6), (got.ks_pvalue, expected.pvalue)
    else:
        assert close_rel(got.ks_pvalue, float(expected.pvalue), 0.02) or (
            got.ks_pvalue < 1e-10 and expected.pvalue < 1e-10
        ), (got.ks_pvalue, expected.pvalue)
    # Wasserstein-1: 1e-9 relative (both exactly 0 for identical distributions).
    assert close_rel(got.wasserstein, wasserstein_distance(r, c), 1e-9), (got.wasserstein, wasserstein_distance(r, c))


def test_cdf_stats_by_hand():
    # ref {0, 1}, cur {1, 2, 3}: ECDFs at 0: 1/2 vs 0; at 1: 1 vs 1/3; at 2: 1 vs 2/3; at 3: 1 vs 1.
    # KS = max gap = 2/3. Wasserstein = integral of |F - G| = 1/2 (0..1) + 2/3 (1..2) + 1/3 (2..3) = 3/2.
    # Exact p-value (n1=2, n2=3): under the null each of the C(5,2) = 10 orders of the pooled values is equally
    # likely; D over those orders (positions of the two ref values): (0,1) 1, (0,2) 2/3, (0,3) 1/2, (0,4) 1/2,
    # (1,2) 2/3, (1,3) 1/3, (1,4) 1/2, (2,3) 2/3, (2,4) 2/3, (3,4) 1 -> P(D >= 2/3) = 6/10.
    got = stats.cdf_stats(np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    assert got.ks_stat == pytest.approx(2 / 3, abs=1e-12)  # 1e-12 absolute
    assert got.wasserstein == pytest.approx(1.5, rel=1e-12)  # 1e-12 relative
    assert got.ks_pvalue == pytest.approx(0.6, rel=1e-6)  # 1e-6 relative
    assert got.ks_pvalue == pytest.approx(float(ks_2samp([0.0, 1.0], [1.0, 2.0, 3.0]).pvalue), rel=1e-6)


def test_cdf_stats_identical_samples():
    # Identical samples: KS 0 with p-value exactly 1, Wasserstein exactly 0.
    x = np.sort(np.random.default_rng(3).normal(size=500))
    got = stats.cdf_stats(x, x.copy())
    assert (got.ks_stat, got.ks_pvalue, got.wasserstein) == (0.0, 1.0, 0.0)


# --- share outside the reference range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cur", "expected"),
    [
        # Range [0, 9] is closed: 0 and 9 are inside; -1 and 10 outside -> 2/5.
        pytest.param(range(10), [-1, 0, 5, 9, 10], 2 / 5, id="bounds-inclusive"),
        pytest.param(range(10), [0, 9, 9, 0], 0.0, id="all-on-bounds"),
        pytest.param([4] * 3, [3.999, 4, 4.001, 4], 2 / 4, id="constant-reference"),
        pytest.param([1], [2], 1.0, id="size-1"),
        pytest.param(range(100), [-5] + [50] * 99, 0.01, id="exactly-one-percent"),
    ],
)
def test_share_outside_by_hand(ref, cur, expected):
    r = np.sort(np.asarray(ref, dtype=float))
    c = np.sort(np.asarray(cur, dtype=float))
    assert stats.share_outside(r, c) == expected  # exact: a count over the sample size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_share_outside_against_numpy(seed):
    rng = np.random.default_rng(seed)
    r = np.sort(rng.normal(size=1_000))
    c = np.sort(rng.normal(0.5, 1.5, size=777))
    expected = np.count_nonzero((c < r.min()) | (c > r.max())) / c.size
    assert stats.share_outside(r, c) == expected  # exact


# --- chi-square against scipy ---------------------------------------------------------------------------------

CHI2_TABLES = [
    # A 2 x 2 table where Yates' correction would change the answer: the spec asks for correction=False.
    pytest.param([12, 5], [7, 15], id="2x2-no-yates"),
    pytest.param([50, 50], [80, 20], id="two-categories"),
    pytest.param([30, 20, 0], [25, 20, 5], id="unseen-category"),
    pytest.param([10, 20, 30, 40], [1, 2, 3, 4], id="same-proportions"),
    pytest.param([1000, 1], [1, 1000], id="tiny-p-value"),
    pytest.param(list(range(1, 61)), list(range(60, 0, -1)), id="60-categories"),
]


@pytest.mark.parametrize(("ref_counts", "cur_counts"), CHI2_TABLES)
def test_chi_square_against_scipy(ref_counts, cur_counts):
    expected = chi2_contingency(np.array([ref_counts, cur_counts]), correction=False)
    stat, pvalue = stats.chi_square(np.asarray(ref_counts), np.asarray(cur_counts))
    # Statistic 1e-9 relative (1e-12 absolute around 0); p-value 1e-9 relative (tiny ones included).
    assert stat == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
    assert close_rel(pvalue, float(expected.pvalue), 1e-9), (pvalue, expected.pvalue)


def test_chi_square_single_category():
    # One category on both sides: scipy gives statistic 0 and p-value 1 (no degrees of freedom).
    expected = chi2_contingency(np.array([[5], [7]]), correction=False)
    assert stats.chi_square(np.array([5]), np.array([7])) == (expected.statistic, expected.pvalue) == (0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_chi_square_random_tables(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 40))
    table = rng.integers(1, 500, size=(2, k))
    expected = chi2_contingency(table, correction=False)
    stat, pvalue = stats.chi_square(table[0], table[1])
    # 1e-9 relative for both.
    assert stat == pytest.approx(expected.statistic, rel=1e-9)
    assert close_rel(pvalue, float(expected.pvalue), 1e-9), (pvalue, expected.pvalue)


@pytest.mark.parametrize("seed", range(5))
def test_sorted_quantiles_are_numpys_bit_for_bit(seed):
    """The PSI edges come from sorted_quantiles; the spec says numpy's linear interpolation: equal, not close."""
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 10, 11, 997, 10_000):
        for values in (rng.normal(size=n), rng.integers(0, 4, n).astype(float), rng.lognormal(size=n) * 1e9):
            values.sort()
            q = np.arange(1, 10) / 10
            assert np.array_equal(stats.sorted_quantiles(values, q), np.quantile(values, q))
