"""Two-sided p-value of the two-sample Kolmogorov-Smirnov statistic.

Reproduces the p-value of ``scipy.stats.ks_2samp(x, y)`` (two-sided, ``method='auto'``) from the statistic and the
sample sizes alone, so the drift statistics can find d in their own walk over the two ECDFs and still report scipy's
p-value without a second pass over the data.

Under the null hypothesis every interleaving of the two sorted samples is equally likely, i.e. every monotone lattice
path from (0, 0) to (n1, n2) is; the p-value is the fraction of those paths that ever reach |i/n1 - j/n2| >= d.
"""

from __future__ import annotations

import math
import operator

import numpy as np
from scipy.special import kolmogorov

_MAX_EXACT_N = 10_000  # scipy's 'auto' is exact up to this sample size, asymptotic above
_LIMIT_N = 50_000  # effective size from which the Kolmogorov limit stands in for kstwo


def ks_2samp_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of the two-sample Kolmogorov-Smirnov statistic d for sample sizes n1, n2.

    Same result as ``scipy.stats.ks_2samp(..., alternative='two-sided', method='auto')``: exact when
    ``max(n1, n2) <= 10_000``, else the asymptotic ``kstwo.sf(d, round(n1*n2/(n1+n2)))`` (or, from an effective
    size of 50,000, the Kolmogorov limit, within 1.4% of it: see _asymptotic_pvalue).

    Args:
        d: The KS statistic, max |ECDF1 - ECDF2|, in [0, 1].
        n1: Size of the first sample, >= 1.
        n2: Size of the second sample, >= 1.

    Returns:
        The p-value, in [0, 1].

    Raises:
        ValueError: If a sample size is below 1, or d is outside [0, 1] or NaN.
        TypeError: If a sample size is not an integer.
    """
    n1, n2 = operator.index(n1), operator.index(n2)
    if n1 < 1 or n2 < 1:
        raise ValueError(f"sample sizes must be >= 1, got n1={n1}, n2={n2}")
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"d must be in [0, 1], got {d}")
    if max(n1, n2) > _MAX_EXACT_N:
        return _asymptotic_pvalue(d, n1, n2)

    lcm = n1 // math.gcd(n1, n2) * n2
    # A difference of two ECDFs is a multiple of 1/lcm; snapping d to it absorbs the rounding in how d was computed
    # and makes the band test below exact integer arithmetic.
    h = round(d * lcm)
    if h == 0:
        return 1.0
    p = _outside_square(n1, h) if n1 == n2 else _outside_band(n1, n2, h)
    if not 0.0 <= p <= 1.0:
        # Only _outside_square can round to 1 + ulp (for tiny h); scipy then treats the exact computation as failed
        # and answers with the asymptotic value at the snapped d, so do the same.
        return _asymptotic_pvalue(h / lcm, n1, n2)
    return p


def _asymptotic_pvalue(d: float, n1: int, n2: int) -> float:
    """Smirnov's approximation: the one-sample distribution at the effective sample size n1*n2/(n1+n2).

    scipy evaluates `kstwo.sf` there, which costs up to a second per call for mild drift at a million rows (and
    0.4 s to import scipy.stats). From an effective size of 50,000 the Kolmogorov limit with Stephens' correction,
    Q((sqrt(n) + 0.12 + 0.11/sqrt(n)) d), is within 1.4% of it wherever either is above 1e-10 (measured over d in
    (0, 1] at 5e4, 5e5 and 5e6), inside the 2% the drift report promises; below that size `kstwo` itself is used.

    Args:
        d: The KS statistic.
        n1: Size of the first sample.
        n2: Size of the second sample.

    Returns:
        The p-value, clipped to [0, 1].
    """
    # In floats like scipy, so the rounding of the effective size agrees with it even for huge samples.
    m, n = float(n1), float(n2)
    en = round(m * n / (m + n))
    if en >= _LIMIT_N:
        root = math.sqrt(en)
        p = kolmogorov((root + 0.12 + 0.11 / root) * d)
    else:
        from scipy.stats import kstwo  # slow to import: only small effective sizes need it

        p = kstwo.sf(d, en)
    return float(np.clip(p, 0.0, 1.0))


def _outside_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n) for two samples of equal size n, by the reflection principle.

    P = 2 * sum_{k>=1} (-1)^(k-1) binom(2n, n-kh) / binom(2n, n). That alternating sum cancels badly, so it is
    evaluated as the nested product 2 * A0 * (1 - A1 * (1 - A2 * (...))), A_k = binom(2n, n-(k+1)h) / binom(2n, n-kh),
    each A_k a product of h ratios in [0, 1] that cannot overflow.

    Args:
        n: The common sample size.
        h: The statistic in units of 1/n, 1 <= h <= n.

    Returns:
        The p-value; for tiny h rounding can leave it a few ulps above 1.
    """
    kh = np.arange(n // h + 1) * h
    a = np.ones(kh.size)
    # All A_k at once, multiplying in scipy's order and grouping: the result is bit-identical to scipy's, including
    # whether it lands above 1 (which decides the asymptotic fallback). The last A_k meets an exact zero factor where
    # its binomial vanishes.
    for j in range(h):
        a = (n - kh - j) * a / (n + kh + j + 1)
    p = 0.0
    for a_k in a[::-1].tolist():
        p = a_k * (1.0 - p)
    return 2.0 * p


def _outside_band(n1: int, n2: int, h: int) -> float:
    """Fraction of the lattice paths from (0, 0) to (n1, n2) that leave the band |i/n1 - j/n2| < h/lcm(n1, n2).

    Counting the paths that stay inside (Hodges 1957) and taking 1 - count / binom(n1+n2, n1) loses every digit of
    a tiny p-value, so this tracks q(i, j), the fraction of the paths to (i, j) that have already left the band
    (Viehmann 2021, arXiv:2102.08037): q = 1 outside the band, q(0, 0) = 0, and inside
    q(i, j) = (i * q(i-1, j) + j * q(i, j-1)) / (i + j), a weighted mean, so it stays in [0, 1].
    Both neighbours lie on the anti-diagonal before, so one anti-diagonal i + j = s is one vectorised step.

    Args:
        n1: Size of the first sample.
        n2: Size of the second sample.
        h: The statistic in units of 1/lcm(n1, n2), h >= 1.

    Returns:
        q(n1, n2), the p-value.
    """
    g = math.gcd(n1, n2)
    a, b = n2 // g, n1 // g  # (i, j) is inside the band when |a*i - b*j| < h
    # No path to (i, j) can have left the band yet while a*i < h and b*j < h: q is exactly 0 on that corner
    # rectangle, which covers most of the band for large d, so it is set once and never recomputed.
    i0, j0 = (h - 1) // a, (h - 1) // b
    # q[j + 1] = q(s - j, j) on the current anti-diagonal s; q[0] stands for j = -1, only ever multiplied by j = 0.
    q = np.ones(n2 + 2)
    q[1:j0 + 2] = 0.0
    idx = np.arange(n1 + n2 + 1, dtype=np.float64)
    scratch = np.empty((2, n2 + 1))
    lo_prev = 0
    for s in range(1, n1 + n2 + 1):
        # Inside on anti-diagonal s (i = s - j) means |a*s - (a+b)*j| < h; intersect with the rectangle.
        lo = max((a * s - h) // (a + b) + 1, s - n1, 0)
        hi = min((a * s + h - 1) // (a + b), s, n2)
        if hi < lo:
            return 1.0  # every path crosses this anti-diagonal outside the band
        # In place: the part above the zero rectangle first, as its writes sit above everything the part below reads.
        _diagonal_step(q, idx, scratch, s, max(lo, s - i0, j0 + 1), hi)
        _diagonal_step(q, idx, scratch, s, lo, min(hi, s - i0 - 1))
        # Both band edges only move up with s, so only the cells that just fell off the lower edge (read above as
        # the previous anti-diagonal) go back to "outside".
        q[lo_prev + 1:lo + 1] = 1.0
        lo_prev = lo
    return float(q[n2 + 1])


def _diagonal_step(q: np.ndarray, idx: np.ndarray, scratch: np.ndarray, s: int, lo: int, hi: int) -> None:
    """Advance q(s - j, j), lo <= j <= hi, from anti-diagonal s - 1 to s, in place.

    Args:
        q: q[j + 1] = q(s - 1 - j, j) on entry; q[j + 1] = q(s - j, j) for lo <= j <= hi on return.
        idx: 0.0, 1.0, 2.0, ...: the weights i and j.
        scratch: Two float64 rows of at least hi - lo + 1 entries.
        s: The anti-diagonal being computed.
        lo: First j to compute.
        hi: Last j to compute; nothing is done when hi < lo.
    """
    if hi < lo:
        return
    t1, t2 = scratch[0, :hi - lo + 1], scratch[1, :hi - lo + 1]
    # out= instead of temporaries: these four passes are the whole cost of the exact p-value.
    np.multiply(q[lo + 1:hi + 2], idx[s - hi:s - lo + 1][::-1], out=t1)  # i * q(i-1, j), i = s - j
    np.multiply(q[lo:hi + 1], idx[lo:hi + 1], out=t2)  # j * q(i, j-1)
    np.add(t1, t2, out=t1)
    np.divide(t1, s, out=q[lo + 1:hi + 2])
