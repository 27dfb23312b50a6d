"""The statistics of an A/B test on conversion: two-proportion z-test, sample size, sample-ratio mismatch, the
always-valid p-value of the mixture sequential probability ratio test, and the Bonferroni correction.

Pure functions of counts; every one is checked in tests/experiment/test_stats.py against an independent
reference (statsmodels, scipy, the formula by hand, Johari et al.'s mSPRT written out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from scipy import stats

ALPHA = 0.05  # two-sided, the design's "p-value" decision level
POWER = 0.8
# SRM: flagged only when both hold, since at large N any tiny skew is significant (issue 14).
SRM_P = 0.001
SRM_RELATIVE_OFF = 0.01  # an observed share off by more than 1% of the expected share
# The mSPRT's normal mixture over the true difference of conversion rates, H: N(0, tau^2). tau is in rate units:
# 0.01 puts most prior weight on differences within +-2 percentage points, the scale of a model canary's effect.
# Fixed in advance (not fitted to the data), which the always-valid guarantee needs.
MIXTURE_TAU = 0.01
MIXTURE_VARIANCE = MIXTURE_TAU**2


def ztest(conv_c: int, n_c: int, conv_t: int, n_t: int) -> tuple[float, float]:
    """Two-sided two-proportion z-test of treatment against control with the pooled standard error, as
    statsmodels' proportions_ztest computes it.

    Returns:
        (z, p-value); z > 0 when the treatment converts more. NaN, NaN when the pooled rate is 0 or 1.
    """
    pooled = (conv_c + conv_t) / (n_c + n_t)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    if se == 0:
        return math.nan, math.nan
    z = (conv_t / n_t - conv_c / n_c) / se
    return z, float(2 * stats.norm.sf(abs(z)))  # a Python float: CSV writes repr()


def sample_size(p_c: float, p_t: float, k: float, alpha: float = ALPHA, power: float = POWER
                ) -> tuple[float, float] | None:
    """Samples per arm to detect rates p_c (control) and p_t (treatment) with a two-sided test at `alpha` and
    `power`, control allocated k times the treatment (k = n_c / n_t):
    n_t = (z(1-a/2) sqrt(p(1-p)(1+1/k)) + z(1-b) sqrt(p_c(1-p_c)/k + p_t(1-p_t)))^2 / (p_c-p_t)^2, n_c = k n_t,
    p the pooled rate (k p_c + p_t) / (k + 1).

    Returns:
        (n_control, n_treatment), or None when p_c == p_t (no difference can be detected).
    """
    if p_c == p_t:
        return None
    pooled = (k * p_c + p_t) / (k + 1)
    z_a, z_b = float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))
    root = z_a * math.sqrt(pooled * (1 - pooled) * (1 + 1 / k)) + z_b * math.sqrt(p_c * (1 - p_c) / k
                                                                                  + p_t * (1 - p_t))
    n_t = root**2 / (p_c - p_t) ** 2
    return k * n_t, n_t


def srm(observed: Sequence[int], split: Sequence[float]) -> tuple[float, float, bool]:
    """Sample-ratio mismatch: chi-square goodness of fit of the samples per variant against the split (shares
    summing to 1).

    Returns:
        (chi-square, p-value, mismatch): mismatch when p < SRM_P and some observed share is off its expected
        share by more than SRM_RELATIVE_OFF of it.
    """
    total = sum(observed)
    expected = [total * s for s in split]
    chi2, p = stats.chisquare(observed, f_exp=expected)
    off = max(abs(o / total - s) / s for o, s in zip(observed, split, strict=True))
    return float(chi2), float(p), bool(p < SRM_P and off > SRM_RELATIVE_OFF)


def msprt_pvalue(conv_c: int, n_c: int, conv_t: int, n_t: int, tau2: float = MIXTURE_VARIANCE) -> float:
    """Always-valid p-value of H0 "no difference in conversion" (Johari, Pekelis, Walsh 2017, "Always Valid
    Inference", normal mixture): with the estimated difference d = p_t - p_c and its variance
    s2 = p_c(1-p_c)/n_c + p_t(1-p_t)/n_t, the mixture likelihood ratio is
    L = sqrt(s2 / (s2 + tau2)) * exp(tau2 d^2 / (2 s2 (s2 + tau2))), and p = min(1, 1/L).

    This is one look; the paper's p-value is the running minimum over the looks (`always_valid_pvalue`).

    Returns:
        The p-value; 1.0 when the variance is 0 (no conversions, or all converted, in both arms).
    """
    p_c, p_t = conv_c / n_c, conv_t / n_t
    s2 = p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t
    if s2 == 0:
        return 1.0
    d = p_t - p_c
    log_l = 0.5 * math.log(s2 / (s2 + tau2)) + tau2 * d * d / (2 * s2 * (s2 + tau2))
    return 1.0 if log_l <= 0 else math.exp(-log_l)


def always_valid_pvalue(looks: Iterable[tuple[int, int, int, int]], tau2: float = MIXTURE_VARIANCE) -> float:
    """The always-valid p-value after a sequence of looks, each (conv_c, n_c, conv_t, n_t) cumulative from the
    start, in time order: p_n = min(p_(n-1), 1 / L_n) (Johari et al. 2017). The looks must be fixed in advance
    (a time grid), not chosen by the data; fewer looks only make it larger (conservative).

    Returns:
        The running minimum; 1.0 with no look.
    """
    return min((msprt_pvalue(*look, tau2=tau2) for look in looks), default=1.0)


def bonferroni(alpha: float, comparisons: int) -> float:
    """The level each of `comparisons` tests is held to, so the family's error rate stays at `alpha`."""
    return alpha / max(comparisons, 1)
