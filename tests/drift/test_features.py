"""Feature drift (`features.numerical`, `features.categorical`) and the seed's judging rules, against independent
references.

Expected numbers come from scipy (`ks_2samp`, `wasserstein_distance`, `jensenshannon`, `chi2_contingency`), numpy,
the slow PSI reference below (written from the specification: np.quantile edges, np.unique/Counter, a Python
loop with bisect for the right-closed bins; the pooling of categoricals done by hand), or hand computations in
the comments. Never from the engine's own output. The tolerance of each comparison is stated where it is made.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from drift_reference import EPS, close_rel, ref_bins, ref_psi
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from mlobs_cli.backends.samples import CategoryCounts
from mlobs_cli.drift import features
from mlobs_cli.drift.report import FeatureDrift, NewCategory
from mlobs_cli.drift.thresholds import DriftConfig

CFG = DriftConfig()


# --- references, written from the specification -------------------------------------------------------------


def ref_js(ref_counts, cur_counts) -> float:
    return float(jensenshannon(np.asarray(ref_counts, float), np.asarray(cur_counts, float), base=2) ** 2)


def ref_categories(ref: dict[str, int], cur: dict[str, int], max_categories: int):
    """Labels and counts of the categorical PSI bins: every category of either sample; above max_categories
    reference categories, the most frequent max_categories are kept and everything else pools into __other__."""
    if len(ref) <= max_categories:
        labels = sorted(set(ref) | set(cur))
        return labels, [ref.get(k, 0) for k in labels], [cur.get(k, 0) for k in labels]
    kept = sorted(ref, key=lambda k: -ref[k])[:max_categories]
    r = [ref[k] for k in kept] + [sum(v for k, v in ref.items() if k not in kept)]
    c = [cur.get(k, 0) for k in kept] + [sum(v for k, v in cur.items() if k not in kept)]
    return [*kept, "__other__"], r, c


def counts(mapping: dict[str, int], missing: int = 0) -> CategoryCounts:
    return CategoryCounts(list(mapping), np.asarray(list(mapping.values()), dtype=np.int64), missing)


def assert_numerical_matches_references(f: FeatureDrift, ref_raw: np.ndarray, cur_raw: np.ndarray, bins: int = 10):
    r = ref_raw[np.isfinite(ref_raw)]
    c = cur_raw[np.isfinite(cur_raw)]
    assert (f.n_ref, f.n_cur) == (r.size, c.size)
    rc, cc = ref_bins(r, c, bins)
    # PSI: 1e-9 relative, 1e-15 absolute around 0 (summation order only).
    assert f.psi == pytest.approx(ref_psi(rc, cc), rel=1e-9, abs=1e-15)
    # JS divergence on the same bins, raw proportions: 1e-12 absolute (it is in [0, 1]);
    # JS distance, its root: 1e-9 absolute (the root amplifies the rounding of a tiny divergence).
    js = ref_js(rc, cc)
    assert f.js_divergence == pytest.approx(js, rel=0, abs=1e-12)
    assert f.js_distance == pytest.approx(math.sqrt(js), rel=0, abs=1e-9)
    ks = ks_2samp(r, c)  # two-sided, method 'auto'
    # KS statistic: 1e-12 absolute.
    assert f.ks_stat == pytest.approx(float(ks.statistic), rel=0, abs=1e-12)
    # KS p-value: 1e-6 relative up to 10,000 values per sample; beyond, 2% relative or both below 1e-10.
    if max(r.size, c.size) <= 10_000:
        assert close_rel(f.ks_pvalue, float(ks.pvalue), 1e-6), (f.ks_pvalue, ks.pvalue)
    else:
        assert close_rel(f.ks_pvalue, float(ks.pvalue), 0.02) or (f.ks_pvalue < 1e-10 and ks.pvalue < 1e-10)
    # Wasserstein: 1e-9 relative; normalised by the population std of the reference, floored at 0.001.
    w = wasserstein_distance(r, c)
    assert close_rel(f.wasserstein, w, 1e-9), (f.wasserstein, w)
    assert close_rel(f.wasserstein_norm, w / max(float(np.std(r)), 0.001), 1e-9)
    # Out of range: exact, a count over the current sample's size.
    assert f.out_of_range == np.count_nonzero((c < r.min()) | (c > r.max())) / c.size


# --- numerical features against the references ----------------------------------------------------------------


def draw(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "shifted":
        return rng.normal(0.25, 1.1, size=n)
    if kind == "far":
        return rng.normal(3.0, 1.0, size=n)
    if kind == "exp":
        return rng.exponential(2.0, size=n)
    if kind == "int10":  # exactly bins (10) distinct values for a large sample
        return rng.integers(0, 10, size=n).astype(float)
    if kind == "int11":  # bins + 1 distinct values
        return rng.integers(0, 11, size=n).astype(float)
    if kind == "int1000":
        return rng.integers(0, 1000, size=n).astype(float)
    if kind == "constant":
        return np.full(n, 7.0)
    raise ValueError(kind)


NUMERICAL_CASES = [
    pytest.param(seed, kr, kc, nr, nc, id=f"s{seed}-{kr}{nr}-{kc}{nc}")
    for seed, kr, kc, nr, nc in [
        (0, "normal", "normal", 1, 1),
        (1, "normal", "shifted", 2, 2),
        (2, "normal", "shifted", 5, 2),
        (3, "normal", "shifted", 1, 100),
        (4, "normal", "normal", 100, 100),
        (5, "normal", "far", 100, 5),
        (6, "exp", "normal", 10_000, 10_000),
        (7, "normal", "shifted", 10_000, 4_321),
        (8, "int10", "int10", 10_000, 10_000),
        (9, "int10", "int11", 1_000, 1_000),  # ref exactly bins distinct values; cur brings the 11th
        (10, "int11", "int10", 1_000, 1_000),  # ref bins + 1 distinct values -> quantile edges on ties
        (11, "int1000", "int1000", 100_000, 100_000),
        (12, "normal", "shifted", 100_000, 100_000),
        (13, "constant", "constant", 100, 50),
        (14, "constant", "normal", 100, 100),
        (15, "normal", "constant", 100, 100),
    ]
]


@pytest.mark.parametrize(("seed", "kind_ref", "kind_cur", "n_ref", "n_cur"), NUMERICAL_CASES)
def test_numerical_against_references(seed, kind_ref, kind_cur, n_ref, n_cur):
    rng = np.random.default_rng(seed)
    r, c = draw(kind_ref, n_ref, rng), draw(kind_cur, n_cur, rng)
    f, _ = features.numerical("x", r, c, CFG)
    assert f.kind == "numerical"
    assert (f.missing_ref, f.missing_cur) == (0.0, 0.0)
    assert f.chi2_stat is None and f.new_categories is None
    assert_numerical_matches_references(f, r, c)


def test_numerical_one_million():
    # 1M x 1M: asymptotic KS p-value (2% relative, or both below 1e-10); everything else as above.
    rng = np.random.default_rng(2024)
    r, c = rng.normal(size=1_000_000), rng.normal(0.003, 1.0, size=1_000_000)
    f, _ = features.numerical("x", r, c, CFG)
    assert_numerical_matches_references(f, r, c)


@pytest.mark.parametrize("bins", [pytest.param(2, id="bins2"), pytest.param(5, id="bins5"),
                                  pytest.param(37, id="bins37")])
def test_numerical_config_bins(bins):
    rng = np.random.default_rng(bins)
    r, c = rng.gamma(2.0, size=3_000), rng.gamma(2.3, size=2_000)
    f, _ = features.numerical("x", r, c, DriftConfig(bins=bins))
    assert_numerical_matches_references(f, r, c, bins=bins)


def test_numerical_inputs_not_required_sorted_and_integer_dtype():
    # Integer arrays straight from rng.integers (no float cast), unsorted; ties everywhere.
    rng = np.random.default_rng(99)
    r, c = rng.integers(0, 30, size=2_000), rng.integers(3, 33, size=1_500)
    f, _ = features.numerical("x", r, c, CFG)
    assert_numerical_matches_references(f, r.astype(float), c.astype(float))


HAND_NUMERICAL = [
    # ref 1..10, bins=5: edges 2.8, 4.6, 6.4, 8.2 (np.quantile positions 1.8, 3.6, 5.4, 7.2), 0.2 per bin.
    # cur five 1s, three 5s, two 9s -> [.5, 0, .3, 0, .2]; empty bins floored at .0001:
    # PSI = .3 ln 2.5 + 2 (.0001-.2) ln(.0001/.2) + .1 ln 1.5 = 3.3633...
    pytest.param(
        np.arange(1.0, 11.0), np.array([1, 1, 1, 1, 1, 5, 5, 5, 9, 9], float), 5,
        0.3 * math.log(2.5) + 2 * (EPS - 0.2) * math.log(EPS / 0.2) + 0.1 * math.log(1.5),
        id="ref-1-to-10-bins5",
    ),
    # Same reference, current = reference: PSI 0.
    pytest.param(np.arange(1.0, 11.0), np.arange(10.0, 0.0, -1.0), 5, 0.0, id="same-values-reversed"),
    # ref 0..100, bins 4: edges 25, 50, 75 exactly; bins hold 26, 25, 25, 25 of 101. cur 25, 50, 75, 76 land
    # one per bin (right-closed): PSI = (.25-26/101) ln(.25 * 101/26) + 3 (.25-25/101) ln(.25 * 101/25).
    pytest.param(
        np.arange(0.0, 101.0), np.array([25.0, 50.0, 75.0, 76.0]), 4,
        (0.25 - 26 / 101) * math.log(0.25 * 101 / 26) + 3 * (0.25 - 25 / 101) * math.log(0.25 * 101 / 25),
        id="right-closed-bins",
    ),
    # ref six 0s, 1, 2, 3, 4 (5 distinct > 4 bins): quantiles 0, 0, 1.75 collapse to edges 0, 1.75 ->
    # [.6, .1, .3]; cur three 0s, three 1s, four 2s -> [.3, .3, .4].
    # PSI = -.3 ln .5 + .2 ln 3 + .1 ln(4/3).
    pytest.param(
        np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], float), np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2], float), 4,
        -0.3 * math.log(0.5) + 0.2 * math.log(3) + 0.1 * math.log(4 / 3),
        id="duplicate-edges",
    ),
    # Constant reference 7, constant current 8: bins {7, 8}, [1, .0001] vs [.0001, 1]:
    # PSI = 2 (1-.0001) ln(1e4) = 18.4188...
    pytest.param(np.full(20, 7.0), np.full(9, 8.0), 10, 2 * (1 - EPS) * math.log(1 / EPS), id="constants-apart"),
]


@pytest.mark.parametrize(("ref", "cur", "bins", "expected_psi"), HAND_NUMERICAL)
def test_numerical_psi_by_hand(ref, cur, bins, expected_psi):
    f, _ = features.numerical("x", ref, cur, DriftConfig(bins=bins))
    # 1e-12 relative, 1e-15 absolute around 0.
    assert f.psi == pytest.approx(expected_psi, rel=1e-12, abs=1e-15)


def test_constant_columns_by_hand():
    # ref all 7 (std 0 -> the 0.001 floor), cur all 8: KS statistic 1, Wasserstein 1, normalised 1 / 0.001 = 1000.
    f, _ = features.numerical("x", np.full(20, 7.0), np.full(9, 8.0), CFG)
    assert f.ks_stat == 1.0
    assert f.wasserstein == pytest.approx(1.0, rel=1e-12)  # 1e-12 relative
    assert f.wasserstein_norm == pytest.approx(1000.0, rel=1e-12)  # 1e-12 relative
    assert f.out_of_range == 1.0  # exact
    assert f.js_divergence == pytest.approx(1.0, abs=1e-12)  # disjoint: 1 bit; 1e-12 absolute
    assert f.alert and f.severity == "high"
    # Same constant on both sides: nothing differs.
    g, _ = features.numerical("x", np.full(20, 7.0), np.full(9, 7.0), CFG)
    assert (g.psi, g.ks_stat, g.ks_pvalue, g.wasserstein, g.js_divergence, g.out_of_range) == (0, 0, 1, 0, 0, 0)
    assert g.status == "ok"


# --- missing values ---------------------------------------------------------------------------------------------

MISSING_CASES = [
    # (ref, cur, expected missing share of ref, of cur)
    pytest.param([1.0, np.nan, 2.0, np.inf, 3.0, -np.inf], [2.0, 2.5, np.nan, np.nan], 3 / 6, 2 / 4, id="nan-inf"),
    pytest.param([1.0, None, 2.0, 3.0], [None, None, 4.0, 1.0], 1 / 4, 2 / 4, id="none-as-null"),
    pytest.param([1.0, 2.0, 3.0, 4.0], [np.inf, 2.0, 3.0, 4.0, 5.0], 0.0, 1 / 5, id="inf-only-in-cur"),
]


@pytest.mark.parametrize(("ref", "cur", "missing_ref", "missing_cur"), MISSING_CASES)
def test_numerical_missing_values_dropped(ref, cur, missing_ref, missing_cur):
    # Null arrives as NaN in a float column (None -> nan via dtype=float, as the backend's coalesce does).
    r, c = np.array(ref, dtype=float), np.array(cur, dtype=float)
    f, _ = features.numerical("x", r, c, CFG)
    # Missing fractions: 1e-12 absolute.
    assert f.missing_ref == pytest.approx(missing_ref, abs=1e-12)
    assert f.missing_cur == pytest.approx(missing_cur, abs=1e-12)
    # Every statistic is the one of the finite values alone.
    assert all(math.isfinite(v) for v in (f.psi, f.ks_stat, f.ks_pvalue, f.js_divergence, f.wasserstein))
    assert_numerical_matches_references(f, r, c)


def test_numerical_missing_values_large():
    rng = np.random.default_rng(5)
    r, c = rng.normal(size=20_000), rng.normal(0.1, size=15_000)
    r[rng.choice(r.size, 1_000, replace=False)] = np.nan  # 5% missing
    c[rng.choice(c.size, 3_000, replace=False)] = np.inf  # 20% missing
    c[:10] = -np.inf
    f, _ = features.numerical("x", r, c, CFG)
    n_missing_cur = np.count_nonzero(~np.isfinite(c))
    assert f.missing_ref == pytest.approx(0.05, abs=1e-12)  # 1e-12 absolute
    assert f.missing_cur == pytest.approx(n_missing_cur / c.size, abs=1e-12)
    assert_numerical_matches_references(f, r, c)
    # 5% -> ~20%: a change above 0.05 -> watch signal named in the reasons.
    assert any("missing" in reason for reason in f.reasons)


EMPTY_NUMERICAL = [
    pytest.param(np.array([np.nan, np.inf]), np.array([1.0, 2.0]), 1.0, 0.0, "the reference", id="ref-all-missing"),
    pytest.param(np.array([1.0, 2.0, 3.0]), np.array([np.nan] * 4), 0.0, 1.0, "the current sample",
                 id="cur-all-missing"),
    pytest.param(np.array([np.nan]), np.array([-np.inf]), 1.0, 1.0, "either sample", id="both-all-missing"),
    pytest.param(np.array([]), np.array([]), 0.0, 0.0, "either sample", id="both-empty"),
]


@pytest.mark.parametrize(("ref", "cur", "missing_ref", "missing_cur", "where"), EMPTY_NUMERICAL)
def test_numerical_empty_sample_gives_none_and_note(ref, cur, missing_ref, missing_cur, where):
    f, _ = features.numerical("x", ref, cur, CFG, note="from a test")
    for stat in ("psi", "ks_stat", "ks_pvalue", "js_divergence", "js_distance", "wasserstein", "wasserstein_norm",
                 "out_of_range"):
        assert getattr(f, stat) is None, stat
    assert (f.missing_ref, f.missing_cur) == (missing_ref, missing_cur)  # exact: 0 or 1
    assert f.note is not None and where in f.note and "from a test" in f.note
    assert not f.alert
    # A change of the missing share by more than 0.05 is a watch signal; none otherwise.
    assert f.status == ("watch" if abs(missing_cur - missing_ref) > 0.05 else "ok")


EMPTY_CATEGORICAL = [
    pytest.param(counts({}, missing=5), counts({"a": 3}), "the reference", id="ref-all-missing"),
    pytest.param(counts({"a": 3}), counts({}, missing=2), "the current sample", id="cur-all-missing"),
    pytest.param(counts({}), counts({}), "either sample", id="both-empty"),
]


@pytest.mark.parametrize(("ref", "cur", "where"), EMPTY_CATEGORICAL)
def test_categorical_empty_sample_gives_none_and_note(ref, cur, where):
    f, _ = features.categorical("c", ref, cur, CFG)
    for stat in ("psi", "js_divergence", "js_distance", "chi2_stat", "chi2_pvalue"):
        assert getattr(f, stat) is None, stat
    assert f.note is not None and where in f.note
    assert not f.alert


# --- categorical features ---------------------------------------------------------------------------------------


CATEGORICAL_HAND = [
    # a/b .5/.5 -> .8/.2: PSI = .3 ln 1.6 - .3 ln .4 = 0.41589 (> .25: high alert).
    pytest.param({"a": 50, "b": 50}, {"a": 80, "b": 20}, 0.3 * math.log(1.6) - 0.3 * math.log(0.4), id="two-cats"),
    # An unseen category counts as its own bin, its reference share floored at .0001:
    # ref [.5, .5, 0], cur [.4, .4, .2]: PSI = 2 (-.1) ln .8 + (.2-.0001) ln(.2/.0001).
    pytest.param({"a": 5, "b": 5}, {"a": 4, "b": 4, "z": 2},
                 -0.2 * math.log(0.8) + (0.2 - EPS) * math.log(0.2 / EPS), id="unseen-category"),
    # A reference category absent from current: cur share floored: ref [.75, .25], cur [1, 0 -> .0001]:
    # PSI = .25 ln(4/3) + (.0001-.25) ln(.0001/.25).
    pytest.param({"a": 3, "b": 1}, {"a": 7}, 0.25 * math.log(4 / 3) + (EPS - 0.25) * math.log(EPS / 0.25),
                 id="vanished-category"),
    pytest.param({"x": 10}, {"x": 3}, 0.0, id="single-category"),
]


@pytest.mark.parametrize(("ref", "cur", "expected_psi"), CATEGORICAL_HAND)
def test_categorical_by_hand_and_scipy(ref, cur, expected_psi):
    f, _ = features.categorical("c", counts(ref), counts(cur), CFG)
    assert f.kind == "categorical"
    assert f.psi == pytest.approx(expected_psi, rel=1e-12, abs=1e-15)  # 1e-12 relative
    _labels, r, c = ref_categories(ref, cur, CFG.max_categories)
    assert f.js_divergence == pytest.approx(ref_js(r, c), abs=1e-12)  # 1e-12 absolute
    assert f.js_distance == pytest.approx(math.sqrt(ref_js(r, c)), abs=1e-9)  # 1e-9 absolute
    expected = chi2_contingency(np.array([r, c]), correction=False)
    assert f.chi2_stat == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)  # 1e-9 relative
    assert close_rel(f.chi2_pvalue, float(expected.pvalue), 1e-9)  # 1e-9 relative
    # Numerical-only statistics stay None.
    assert (f.ks_stat, f.wasserstein, f.out_of_range) == (None, None, None)


def test_categorical_missing_fraction_and_new_category_share():
    # ref 90 values + 10 null -> missing .1; cur 45 values + 5 null -> .1. New category "z": 9 of 45 = .2.
    ref = counts({"a": 60, "b": 30}, missing=10)
    cur = counts({"a": 20, "b": 16, "z": 9}, missing=5)
    f, _ = features.categorical("c", ref, cur, CFG)
    assert (f.n_ref, f.n_cur) == (90, 45)
    assert f.missing_ref == pytest.approx(0.1, abs=1e-12)  # 1e-12 absolute
    assert f.missing_cur == pytest.approx(0.1, abs=1e-12)
    assert [c.name for c in f.new_categories] == ["z"]
    assert f.new_categories[0].share == pytest.approx(0.2, abs=1e-12)  # share of non-missing current values
    assert any("z" in reason for reason in f.reasons)
    # PSI: ref [2/3, 1/3, 0 -> .0001], cur [4/9, 16/45, 1/5]; 1e-12 relative.
    expected = ref_psi([60, 30, 0], [20, 16, 9])
    assert f.psi == pytest.approx(expected, rel=1e-12)


def pooled_case(n_ref_categories: int, max_categories: int):
    """Reference categories c000.. with distinct counts 1000, 999, ... (no tie at the cut); current shuffles the
    counts around and adds two unseen categories."""
    ref = {f"c{i:03d}": 1000 - i for i in range(n_ref_categories)}
    cur = {f"c{i:03d}": 10 + (i * 37) % 200 for i in range(n_ref_categories)}
    cur["new_big"] = 500
    cur["new_small"] = 3
    return ref, cur


@pytest.mark.parametrize(
    ("n_ref_categories", "max_categories", "pooled"),
    [
        pytest.param(50, 50, False, id="50-of-50-no-pooling"),
        pytest.param(51, 50, True, id="51-of-50-pooled"),
        pytest.param(60, 50, True, id="60-of-50-pooled"),
        pytest.param(12, 5, True, id="configured-max-5"),
    ],
)
def test_categorical_pooling(n_ref_categories, max_categories, pooled):
    ref, cur = pooled_case(n_ref_categories, max_categories)
    f, _ = features.categorical("c", counts(ref), counts(cur), DriftConfig(max_categories=max_categories))
    labels, r, c = ref_categories(ref, cur, max_categories)
    if pooled:
        # Hand check of the pooling: kept are the max_categories most frequent reference categories
        # c000..c{max-1} (counts 1000 down); __other__ holds the rest of the reference, sum(1000 - i for the
        # dropped i), and in current the dropped ones plus both unseen categories (500 + 3).
        kept = [f"c{i:03d}" for i in range(max_categories)]
        assert labels == [*kept, "__other__"]
        assert r[-1] == sum(1000 - i for i in range(max_categories, n_ref_categories))
        assert c[-1] == sum(10 + (i * 37) % 200 for i in range(max_categories, n_ref_categories)) + 503
        # The engine's bins (kept categories and __other__, with their shares): same labels, counts to 1e-12.
        assert sorted(b.label for b in f.bins) == sorted(labels)
        by_label = {b.label: b for b in f.bins}
        assert by_label["__other__"].ref_share == pytest.approx(r[-1] / sum(r), abs=1e-12)
        assert by_label["__other__"].cur_share == pytest.approx(c[-1] / sum(c), abs=1e-12)
    else:
        assert "__other__" not in {b.label for b in f.bins}
        assert sorted(b.label for b in f.bins) == sorted(set(ref) | set(cur))
    # PSI: 1e-9 relative; JS 1e-12 absolute; chi-square 1e-9 relative, on the (pooled) categories.
    assert f.psi == pytest.approx(ref_psi(r, c), rel=1e-9)
    assert f.js_divergence == pytest.approx(ref_js(r, c), abs=1e-12)
    expected = chi2_contingency(np.array([r, c]), correction=False)
    assert f.chi2_stat == pytest.approx(expected.statistic, rel=1e-9)
    assert close_rel(f.chi2_pvalue, float(expected.pvalue), 1e-9)
    # New categories are named with their share of current, pooled or not (1e-12 absolute).
    n_cur = sum(cur.values())
    shares = {nc.name: nc.share for nc in f.new_categories}
    assert set(shares) == {"new_big", "new_small"}
    assert shares["new_big"] == pytest.approx(500 / n_cur, abs=1e-12)
    assert shares["new_small"] == pytest.approx(3 / n_cur, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_categorical_thousands_of_levels(seed):
    # 5,000 reference levels: the 50 most frequent have distinct counts far above the rest (no tie at the cut),
    # the other 4,950 random small counts; current has 4,000 of those levels plus 300 unseen ones.
    rng = np.random.default_rng(seed)
    ref = {f"lvl{i}": (100_000 - 1_000 * i if i < 50 else int(rng.integers(1, 500))) for i in range(5_000)}
    cur = {f"lvl{i}": int(rng.integers(1, 800)) for i in rng.permutation(5_000)[:4_000]}
    cur.update({f"new{i}": int(rng.integers(1, 50)) for i in range(300)})
    f, _ = features.categorical("c", counts(ref), counts(cur), CFG)
    labels, r, c = ref_categories(ref, cur, CFG.max_categories)
    assert labels[:50] == [f"lvl{i}" for i in range(50)]
    # 1e-9 relative for PSI and chi-square, 1e-12 absolute for JS.
    assert f.psi == pytest.approx(ref_psi(r, c), rel=1e-9)
    assert f.js_divergence == pytest.approx(ref_js(r, c), abs=1e-12)
    expected = chi2_contingency(np.array([r, c]), correction=False)
    assert f.chi2_stat == pytest.approx(expected.statistic, rel=1e-9)
    assert close_rel(f.chi2_pvalue, float(expected.pvalue), 1e-9)
    n_cur = sum(cur.values())
    assert len(f.new_categories) == 300
    assert sum(nc.share for nc in f.new_categories) == pytest.approx(
        sum(v for k, v in cur.items() if k.startswith("new")) / n_cur, abs=1e-9)


def test_categorical_thousands_of_levels_unpooled():
    # max_categories raised above the level count: every category of either sample is its own bin.
    rng = np.random.default_rng(7)
    ref = {f"lvl{i}": int(rng.integers(1, 100)) for i in range(3_000)}
    cur = {f"lvl{i}": int(rng.integers(1, 100)) for i in range(500, 3_400)}
    f, _ = features.categorical("c", counts(ref), counts(cur), DriftConfig(max_categories=10_000))
    labels, r, c = ref_categories(ref, cur, 10_000)
    assert len(labels) == 3_400
    assert f.psi == pytest.approx(ref_psi(r, c), rel=1e-9)  # 1e-9 relative
    assert f.js_divergence == pytest.approx(ref_js(r, c), abs=1e-12)  # 1e-12 absolute
    expected = chi2_contingency(np.array([r, c]), correction=False)
    assert f.chi2_stat == pytest.approx(expected.statistic, rel=1e-9)  # 1e-9 relative
    assert {nc.name for nc in f.new_categories} == {f"lvl{i}" for i in range(3_000, 3_400)}


# --- the seed's judging rules at their boundaries -------------------------------------------------------------


def judged(**fields) -> FeatureDrift:
    """Judge a FeatureDrift built by hand, so a threshold can be hit exactly (PSI 0.2 cannot be made from data)."""
    base = {"name": "x", "kind": "numerical", "n_ref": 100, "n_cur": 100, "missing_ref": 0.0, "missing_cur": 0.0}
    return features._judge(FeatureDrift(**{**base, **fields}), CFG)


JUDGE_CASES = [
    # PSI bands: ok below 0.1, watch from 0.1 through 0.2, alert above 0.2; high only above 0.25.
    pytest.param({"psi": 0.0999999}, "ok", "none", id="psi-just-below-watch"),
    pytest.param({"psi": 0.1}, "watch", "none", id="psi-exactly-0.1-watch"),
    pytest.param({"psi": 0.15}, "watch", "none", id="psi-watch-band"),
    pytest.param({"psi": 0.2}, "watch", "none", id="psi-exactly-0.2-not-alert"),
    pytest.param({"psi": 0.2000001}, "alert", "medium", id="psi-just-above-0.2-alert"),
    pytest.param({"psi": 0.25}, "alert", "medium", id="psi-exactly-0.25-medium"),
    pytest.param({"psi": 0.2500001}, "alert", "high", id="psi-just-above-0.25-high"),
    # KS: p < 0.01 and statistic > 0.1, both strict.
    pytest.param({"psi": 0.05, "ks_stat": 0.1000001, "ks_pvalue": 0.0099999}, "alert", "medium", id="ks-alert"),
    pytest.param({"psi": 0.05, "ks_stat": 0.1, "ks_pvalue": 0.001}, "ok", "none", id="ks-stat-exactly-0.1"),
    pytest.param({"psi": 0.05, "ks_stat": 0.5, "ks_pvalue": 0.01}, "ok", "none", id="ks-p-exactly-0.01"),
    pytest.param({"psi": 0.05, "ks_stat": 0.09, "ks_pvalue": 1e-12}, "ok", "none", id="ks-small-stat-tiny-p"),
    pytest.param({"psi": 0.15, "ks_stat": 0.3, "ks_pvalue": 1e-9}, "alert", "medium", id="ks-alert-psi-watch-medium"),
    pytest.param({"psi": 0.3, "ks_stat": 0.3, "ks_pvalue": 1e-9}, "alert", "high", id="ks-and-psi-high"),
    # Out of range above 1% -> at least watch.
    pytest.param({"psi": 0.01, "out_of_range": 0.01}, "ok", "none", id="out-of-range-exactly-1pct"),
    pytest.param({"psi": 0.01, "out_of_range": 0.0100001}, "watch", "none", id="out-of-range-just-above-1pct"),
    pytest.param({"psi": 0.01, "out_of_range": 0.0099}, "ok", "none", id="out-of-range-below-1pct"),
    pytest.param({"psi": 0.3, "out_of_range": 0.5}, "alert", "high", id="out-of-range-with-alert"),
    # New categories above 1% -> at least watch.
    pytest.param({"psi": 0.01, "new_categories": (NewCategory("z", 0.01),)}, "ok", "none", id="new-cat-exactly-1pct"),
    pytest.param({"psi": 0.01, "new_categories": (NewCategory("z", 0.0101),)}, "watch", "none", id="new-cat-above"),
    pytest.param({"psi": 0.01, "new_categories": (NewCategory("y", 0.006), NewCategory("z", 0.006))}, "watch", "none",
                 id="new-cats-sum-above-1pct"),
    # Missing share changed by more than 0.05 -> watch; either direction.
    pytest.param({"psi": 0.01, "missing_cur": 0.05}, "ok", "none", id="missing-change-exactly-0.05"),
    pytest.param({"psi": 0.01, "missing_cur": 0.0501}, "watch", "none", id="missing-change-0.0501"),
    pytest.param({"psi": 0.01, "missing_ref": 0.0501}, "watch", "none", id="missing-decrease-0.0501"),
]


@pytest.mark.parametrize(("fields", "status", "severity"), JUDGE_CASES)
def test_judging_boundaries(fields, status, severity):
    f, findings = judged(**fields)
    assert (f.status, f.severity, f.alert) == (status, severity, status == "alert")
    assert bool(f.reasons) == (status != "ok")
    # Alerts are findings at the feature's severity; watch signals are 'low' findings.
    assert all(x.severity in (severity, "low") for x in findings)
    assert (status == "alert") == any(x.severity == severity != "none" for x in findings)


CATEGORICAL_STATUS = [
    # Two categories a/b .5/.5 in the reference; current a .5+d, b .5-d (100 values). PSI =
    # d ln((.5+d)/.5) + (-d) ln((.5-d)/.5) = d (ln(1+2d) - ln(1-2d)), per case:
    # a .60: .1 (ln 1.2 - ln .8) = 0.04055 -> ok
    pytest.param(60, "ok", "none", id="psi-0.041-ok"),
    # a .65: .15 (ln 1.3 - ln .7) = 0.09286 -> ok
    pytest.param(65, "ok", "none", id="psi-0.093-ok"),
    # a .66: .16 (ln 1.32 - ln .68) = 0.10613 -> watch
    pytest.param(66, "watch", "none", id="psi-0.106-watch"),
    # a .70: .2 (ln 1.4 - ln .6) = 0.16946 -> watch
    pytest.param(70, "watch", "none", id="psi-0.169-watch"),
    # a .72: .22 (ln 1.44 - ln .56) = 0.20778 -> alert, medium
    pytest.param(72, "alert", "medium", id="psi-0.208-medium"),
    # a .73: .23 (ln 1.46 - ln .54) = 0.22876 -> alert, medium
    pytest.param(73, "alert", "medium", id="psi-0.229-medium"),
    # a .74: .24 (ln 1.48 - ln .52) = 0.25103 -> alert, high
    pytest.param(74, "alert", "high", id="psi-0.251-high"),
]


@pytest.mark.parametrize(("a", "status", "severity"), CATEGORICAL_STATUS)
def test_status_from_categorical_data(a, status, severity):
    f, _ = features.categorical("c", counts({"a": 50, "b": 50}), counts({"a": a, "b": 100 - a}), CFG)
    d = (a - 50) / 100
    # 1e-12 relative.
    assert f.psi == pytest.approx(d * (math.log(1 + 2 * d) - math.log(1 - 2 * d)), rel=1e-12)
    assert (f.status, f.severity, f.alert) == (status, severity, status == "alert")


def test_ks_alert_from_numerical_data():
    # A shift the PSI barely sees but KS does: ref and cur of 10,000 uniform values, cur shifted by 0.12 of the
    # range. KS statistic ~0.12 > 0.1 with a tiny p-value -> alert; PSI stays under 0.25 -> medium.
    rng = np.random.default_rng(1)
    r, c = rng.uniform(0, 1, 10_000), rng.uniform(0.12, 1.12, 10_000)
    f, _ = features.numerical("x", r, c, CFG)
    ks = ks_2samp(r, c)
    assert ks.statistic > 0.1 and ks.pvalue < 0.01
    psi = ref_psi(*ref_bins(r, c, 10))
    assert f.alert
    assert f.severity == ("high" if psi > 0.25 else "medium")


def neutral_numerical(n: int) -> np.ndarray:
    """n distinct values 0..n-1 in a shuffled order: the same on both sides gives PSI 0 and KS 0."""
    return np.random.default_rng(n).permutation(n).astype(float)


OUT_OF_RANGE_CASES = [
    # cur = the 10,000 reference values with k of them moved above the reference maximum. Moving k <= 101 values
    # changes the top bin's share by at most 1.01%, PSI < 0.002, KS statistic <= 0.0101: only out_of_range acts.
    pytest.param(99, "ok", id="0.99pct-ok"),
    pytest.param(100, "ok", id="exactly-1pct-ok"),
    pytest.param(101, "watch", id="1.01pct-watch"),
]


@pytest.mark.parametrize(("k", "status"), OUT_OF_RANGE_CASES)
def test_out_of_range_from_data(k, status):
    r = neutral_numerical(10_000)
    c = r.copy()
    c[np.argsort(c)[4_000:4_000 + k]] = 20_000.0  # k middle values moved above the maximum 9,999
    f, _ = features.numerical("x", r, c, CFG)
    assert f.out_of_range == k / 10_000  # exact
    assert f.psi < 0.1 and not f.alert
    assert f.status == status


NEW_CATEGORY_CASES = [
    # 1,000 current values; the reference proportions a/b/c .5/.3/.2 kept on the rest. PSI stays below 0.05:
    # each new category with share s adds about (s - .0001) ln(s / .0001).
    pytest.param({"z": 9}, "ok", id="one-new-0.9pct-ok"),
    pytest.param({"z": 10}, "ok", id="one-new-exactly-1pct-ok"),
    pytest.param({"z": 11}, "watch", id="one-new-1.1pct-watch"),
    # Ten new categories of one value each: 10 / 1000 = exactly 1% in total -> not above 1% -> ok.
    pytest.param({f"z{i}": 1 for i in range(10)}, "ok", id="ten-new-total-exactly-1pct-ok"),
    pytest.param({f"z{i}": 1 for i in range(11)}, "watch", id="eleven-new-total-1.1pct-watch"),
]


@pytest.mark.parametrize(("new", "status"), NEW_CATEGORY_CASES)
def test_new_categories_from_data(new, status):
    k = sum(new.values())
    rest = 1_000 - k
    ref = counts({"a": 5_000, "b": 3_000, "c": 2_000})
    cur_counts = {"a": rest // 2, "b": rest * 3 // 10}
    cur_counts["c"] = rest - cur_counts["a"] - cur_counts["b"]
    f, _ = features.categorical("c", ref, counts({**cur_counts, **new}), CFG)
    assert {nc.name: nc.share for nc in f.new_categories} == pytest.approx({n: v / 1_000 for n, v in new.items()},
                                                                           abs=1e-15)  # 1e-15 absolute
    assert f.psi < 0.1 and not f.alert
    assert f.status == status, (sum(nc.share for nc in f.new_categories), f.reasons)


MISSING_CHANGE_CASES = [
    # Numerical: the same n distinct values on both sides (PSI 0, KS 0) plus extra NaN rows on each side.
    # (n values, NaN rows in ref, NaN rows in cur): missing share = NaN rows / (n + NaN rows).
    pytest.param("numerical", 9_500, 0, 500, "ok", id="num-0-to-exactly-5pct-ok"),  # 500 / 10,000 = 0.05
    pytest.param("numerical", 9_500, 0, 501, "watch", id="num-0-to-5.01pct-watch"),  # 501 / 10,001 = 0.0501
    pytest.param("numerical", 9_500, 0, 400, "ok", id="num-0-to-4.0pct-ok"),
    # 50% -> 55% missing: a change of exactly 0.05 -> ok; 50% -> 55.2% -> watch.
    pytest.param("numerical", 9_000, 9_000, 11_000, "ok", id="num-50-to-55pct-ok"),  # 11,000 / 20,000 = 0.55
    pytest.param("numerical", 9_000, 9_000, 11_100, "watch", id="num-50-to-55.2pct-watch"),
    # Categorical: 95 values on both sides; missing 0 -> 5 of 100 (exactly 0.05) and 6 of 101 (0.0594).
    pytest.param("categorical", 95, 0, 5, "ok", id="cat-0-to-exactly-5pct-ok"),
    pytest.param("categorical", 95, 0, 6, "watch", id="cat-0-to-5.9pct-watch"),
]


@pytest.mark.parametrize(("kind", "n", "missing_ref", "missing_cur", "status"), MISSING_CHANGE_CASES)
def test_missing_change_from_data(kind, n, missing_ref, missing_cur, status):
    if kind == "numerical":
        values = neutral_numerical(n)
        r = np.concatenate([values, np.full(missing_ref, np.nan)])
        c = np.concatenate([values, np.full(missing_cur, np.nan)])
        f, _ = features.numerical("x", r, c, CFG)
        assert f.psi == 0.0 and f.ks_stat == 0.0
    else:
        f, _ = features.categorical("c", counts({"a": 60, "b": n - 60}, missing_ref),
                                    counts({"a": 60, "b": n - 60}, missing_cur), CFG)
        assert f.psi == 0.0
    # The missing shares themselves: 1e-12 absolute.
    assert f.missing_ref == pytest.approx(missing_ref / (n + missing_ref), abs=1e-12)
    assert f.missing_cur == pytest.approx(missing_cur / (n + missing_cur), abs=1e-12)
    assert f.status == status, (f.missing_ref, f.missing_cur, f.reasons)
