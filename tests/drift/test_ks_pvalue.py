"""`ks_2samp_pvalue` against `scipy.stats.ks_2samp`, the independent reference.

Every expected p-value comes from running `ks_2samp(x, y)` (two-sided, method='auto') on real samples drawn with
numpy; `ks_2samp_pvalue` only gets scipy's statistic and the two sample sizes. The tolerance of each comparison is
stated where it is made.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import ks_2samp

from mlobs_cli.drift.ks_pvalue import ks_2samp_pvalue


def scipy_ks(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """scipy's statistic and p-value, without the RuntimeWarning it gives when it falls back to asymptotic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ks_2samp(x, y)
    return float(res.statistic), float(res.pvalue)


def samples(kind: str, n1: int, n2: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of sizes n1, n2; the second one shifted up by `shift`.

    "normal": continuous, no ties. "ties": integers 0..4, so nearly every value is tied. "same": y is x itself.
    """
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=n1), rng.normal(shift, size=n2)
    if kind == "ties":
        return rng.integers(0, 5, n1).astype(float), rng.integers(0, 5, n2) + shift
    x = rng.normal(size=n1)
    return x, x.copy()


EXACT_SIZES = [(1, 1), (1, 2), (2, 1), (3, 7), (10, 10), (50, 80), (100, 100), (997, 1000), (2000, 3000),
               (10000, 10000), (10000, 9999), (9999, 10000), (1, 10000)]

EXACT_CASES = [
    *(pytest.param(kind, n1, n2, seed, 0.0, id=f"{kind}-{n1}x{n2}-seed{seed}")
      for n1, n2 in EXACT_SIZES for kind in ("normal", "ties") for seed in ((0, 1) if n1 * n2 < 10**7 else (0,))),
    # Shifted samples: tiny p-values, where 1 - P(inside) would have lost every digit.
    pytest.param("normal", 200, 300, 2, 1.5, id="normal-200x300-shifted"),
    pytest.param("ties", 500, 700, 3, 2.0, id="ties-500x700-shifted"),
    pytest.param("normal", 2000, 3000, 4, 0.5, id="normal-2000x3000-shifted"),
    pytest.param("normal", 10000, 10000, 5, 0.2, id="normal-10000x10000-shifted"),
    pytest.param("normal", 10000, 9999, 6, 0.3, id="normal-10000x9999-shifted"),
    pytest.param("ties", 10000, 9999, 7, 1.0, id="ties-10000x9999-shifted"),
    # Identical samples: d = 0, p = 1.
    *(pytest.param("same", n, n, 8, 0.0, id=f"identical-{n}") for n in (1, 10, 997, 10000)),
]


@pytest.mark.parametrize(("kind", "n1", "n2", "seed", "shift"), EXACT_CASES)
def test_matches_scipy_exact(kind: str, n1: int, n2: int, seed: int, shift: float) -> None:
    x, y = samples(kind, n1, n2, seed, shift)
    d, expected = scipy_ks(x, y)
    if shift:
        assert expected < 1e-20, "a shifted case must exercise a tiny p-value"
    # rel 1e-6 is far looser than needed (the two agree to the last bit here); abs=1e-300 only lets two p-values
    # that both underflowed to (nearly) zero compare equal.
    assert ks_2samp_pvalue(d, n1, n2) == pytest.approx(expected, rel=1e-6, abs=1e-300)


def test_equal_sizes_where_exact_rounds_above_one_falls_back_like_scipy() -> None:
    # n1 = n2 = 7, d = 1/7: the exact sum rounds to 1 + 2**-52, so scipy answers with the asymptotic value
    # kstwo.sf(1/7, 4) = 0.99996..., which differs from the clipped 1.0 by far more than the rel 1e-6 allowed.
    x = np.arange(7.0)
    d, expected = scipy_ks(x, x + 0.5)
    assert expected < 1 - 1e-5
    assert ks_2samp_pvalue(d, 7, 7) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("noise", [pytest.param(-1e-13, id="below"), pytest.param(1e-13, id="above")])
def test_statistic_with_rounding_noise_is_snapped_to_the_lattice(noise: float) -> None:
    x, y = samples("normal", 50, 80, 9)
    d, expected = scipy_ks(x, y)
    assert ks_2samp_pvalue(d + noise, 50, 80) == pytest.approx(expected, rel=1e-6)


ASYMPTOTIC_CASES = [
    pytest.param("normal", 10001, 10000, 0, 0.0, id="normal-10001x10000"),
    pytest.param("normal", 20000, 30000, 1, 0.0, id="normal-20000x30000"),
    pytest.param("ties", 20000, 30000, 2, 0.0, id="ties-20000x30000"),
    pytest.param("normal", 20000, 30000, 3, 0.05, id="normal-20000x30000-shifted"),
    pytest.param("normal", 10, 50000, 4, 0.0, id="normal-10x50000"),
    pytest.param("same", 20000, 20000, 5, 0.0, id="identical-20000"),
    pytest.param("normal", 1_000_000, 1_000_000, 6, 0.0, id="normal-1Mx1M"),
    pytest.param("normal", 1_000_000, 1_000_000, 7, 0.003, id="normal-1Mx1M-shifted"),
]


@pytest.mark.parametrize(("kind", "n1", "n2", "seed", "shift"), ASYMPTOTIC_CASES)
def test_matches_scipy_asymptotic(kind: str, n1: int, n2: int, seed: int, shift: float) -> None:
    x, y = samples(kind, n1, n2, seed, shift)
    d, expected = scipy_ks(x, y)
    got = ks_2samp_pvalue(d, n1, n2)
    # Above 10000 scipy uses an approximation, so only its accuracy is asked of us: 2% relative, or both
    # p-values negligible (< 1e-10).
    assert got == pytest.approx(expected, rel=0.02) or (got < 1e-10 and expected < 1e-10)


@pytest.mark.parametrize(
    ("d", "n1", "n2"),
    [
        pytest.param(0.5, 0, 5, id="n1-zero"),
        pytest.param(0.5, 5, 0, id="n2-zero"),
        pytest.param(0.5, -3, 5, id="n1-negative"),
        pytest.param(-0.01, 5, 5, id="d-negative"),
        pytest.param(1.01, 5, 5, id="d-above-one"),
        pytest.param(math.nan, 5, 5, id="d-nan"),
        pytest.param(0.5, 20000, 0, id="n2-zero-asymptotic-range"),
        pytest.param(1.5, 20000, 20000, id="d-above-one-asymptotic-range"),
    ],
)
def test_rejects_invalid_arguments(d: float, n1: int, n2: int) -> None:
    with pytest.raises(ValueError):
        ks_2samp_pvalue(d, n1, n2)


def test_rejects_non_integer_sample_size() -> None:
    with pytest.raises(TypeError):
        ks_2samp_pvalue(0.5, 10.0, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [50_000, 500_000, 5_000_000], ids=lambda n: f"effective n {n}")
def test_kolmogorov_limit_stays_within_2_percent_of_kstwo(n):
    """Large effective sizes use the Kolmogorov limit with Stephens' correction instead of kstwo.sf: over the
    whole range of d it must agree with scipy's kstwo within 2% relative, or both be below 1e-10."""
    from scipy.stats import kstwo

    for d in np.linspace(0.0005, 1, 400):
        ours, scipy_p = ks_2samp_pvalue(float(d), 2 * n, 2 * n), kstwo.sf(d, n)
        assert ours == pytest.approx(scipy_p, rel=0.02) or (ours < 1e-10 and scipy_p < 1e-10), (d, ours, scipy_p)
