"""Two-sided p-value of the two-sample Kolmogorov-Smirnov statistic.

Reproduces ``scipy.stats.ks_2samp(x, y)`` (``alternative='two-sided'``,
``method='auto'``) from the statistic and the sample sizes alone, so callers
that only keep ECDF summaries can still report a p-value.

Under the null hypothesis every ordering of the pooled sample is equally
likely, i.e. every monotone lattice path from (0, 0) to (n1, n2) is equally
likely; the p-value is the fraction of paths that leave the band
``|i/n1 - j/n2| < d``.
"""

import math
import operator

import numpy as np
from scipy.stats import kstwo

# scipy's 'auto' switches to the asymptotic distribution above this size.
_MAX_EXACT_N = 10_000


def ks_2samp_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of the two-sample Kolmogorov-Smirnov statistic d for sample sizes n1, n2.

    Same result as ``scipy.stats.ks_2samp(..., alternative='two-sided', method='auto')``:
    exact when ``max(n1, n2) <= 10_000``, else the asymptotic ``kstwo`` approximation.

    Args:
        d: The KS statistic, max |ECDF1 - ECDF2|, in [0, 1].
        n1: Size of the first sample, >= 1.
        n2: Size of the second sample, >= 1.

    Returns:
        The p-value, in [0, 1].

    Raises:
        ValueError: If a sample size is below 1 or d is outside [0, 1] (or NaN).
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
    # d is a difference of ECDFs, hence a multiple of 1/lcm up to rounding;
    # working with the integer h keeps the band test exact.
    h = round(d * lcm)
    if h == 0:
        return 1.0
    if n1 == n2:
        p = _outside_square(n1, h)
    else:
        p = _outside_band(n1, n2, h)
    if not 0.0 <= p <= 1.0:
        # Only reachable for n1 == n2, where rounding can give 1 + ulp. scipy
        # then switches to the asymptotic value at the lattice-rounded d.
        return _asymptotic_pvalue(h / lcm, n1, n2)
    return p


def _asymptotic_pvalue(d, n1, n2):
    """Smirnov's approximation: the one-sample exact law at the effective size.

    Args:
        d: The KS statistic.
        n1: Size of the first sample.
        n2: Size of the second sample.

    Returns:
        ``kstwo.sf(d, round(n1*n2/(n1+n2)))`` clipped to [0, 1].
    """
    # Float arithmetic (as scipy does) so the rounding of the effective size
    # matches scipy even for huge samples.
    m, n = float(n1), float(n2)
    en = round(m * n / (m + n))
    return float(np.clip(kstwo.sf(d, en), 0.0, 1.0))


def _outside_square(n, h):
    """P(D_{n,n} >= h/n) for equal sample sizes, by the reflection formula.

    P = 2 * sum_{k>=1} (-1)^(k-1) binom(2n, n-kh) / binom(2n, n). The alternating
    sum cancels badly, so it is evaluated as the nested product
    2 * A0 * (1 - A1 * (1 - A2 * (...))) with A_k = binom(2n, n-(k+1)h) / binom(2n, n-kh),
    each A_k a product of h ratios in [0, 1] that never overflows.

    Args:
        n: Common sample size.
        h: Statistic in units of 1/n, 1 <= h <= n.

    Returns:
        The p-value; rounding can push it just above 1 for tiny h, which the
        caller treats as a failed exact computation, like scipy does.
    """
    kh = np.arange(n // h + 1) * h
    a = np.ones(kh.size)
    # Multiply the ratios in the same order and grouping as scipy so that the
    # result, including whether it lands a few ulps above 1, is bit-identical.
    # The last A_k picks up a zero factor exactly where the binomial vanishes.
    for j in range(h):
        a = (n - kh - j) * a / (n + kh + j + 1)
    p = 0.0
    for a_k in a[::-1].tolist():
        p = a_k * (1.0 - p)
    return 2.0 * p


def _outside_band(n1, n2, h):
    """Fraction of lattice paths from (0, 0) to (n1, n2) that leave the band.

    A point (i, j) is inside when |i*n2 - j*n1| / g < h, g = gcd(n1, n2).
    Rather than counting inside paths and computing 1 - count / binom(n1+n2, n1)
    (which loses all precision for tiny p-values), track q(i, j), the fraction
    of paths to (i, j) that have already left the band (Viehmann 2021,
    arXiv:2102.08037, on top of Hodges 1957):
    q = 1 outside the band, q(0, 0) = 0, and inside
    q(i, j) = (i * q(i-1, j) + j * q(i, j-1)) / (i + j).
    Both neighbours lie on the previous anti-diagonal i + j = s - 1, so each
    anti-diagonal is one vectorised step.

    Args:
        n1: Size of the first sample.
        n2: Size of the second sample.
        h: Statistic in units of 1/lcm(n1, n2), h >= 1.

    Returns:
        q(n1, n2), the p-value.
    """
    g = math.gcd(n1, n2)
    a, b = n2 // g, n1 // g
    # No path to (i, j) can have left the band while a*i < h and b*j < h, so
    # q is exactly 0 on that corner rectangle (most of the lattice for large
    # d); it is never recomputed.
    i0, j0 = (h - 1) // a, (h - 1) // b
    # q[j + 1] holds q(s - j, j) for the current anti-diagonal s; q[0] stands
    # for j = -1, which only ever gets multiplied by j = 0.
    q = np.ones(n2 + 2)
    q[1:j0 + 2] = 0.0
    idx = np.arange(n1 + n2 + 1, dtype=np.float64)
    scratch = np.empty((2, n2 + 1))
    lo_prev = 0
    for s in range(1, n1 + n2 + 1):
        # Inside on anti-diagonal s (i = s - j): |a*s - (a+b)*j| < h.
        lo = max((a * s - h) // (a + b) + 1, s - n1, 0)
        hi = min((a * s + h - 1) // (a + b), s, n2)
        if hi < lo:
            # Every path crosses this anti-diagonal outside the band.
            return 1.0
        # Upper segment first: its writes sit above everything the lower
        # segment reads.
        _diagonal_step(q, idx, scratch, s, max(lo, s - i0, j0 + 1), hi)
        _diagonal_step(q, idx, scratch, s, lo, min(hi, s - i0 - 1))
        # The band's edges only move up with s, so just the cells that fell
        # off its lower edge need resetting to "outside".
        q[lo_prev + 1:lo + 1] = 1.0
        lo_prev = lo
    return float(q[n2 + 1])


def _diagonal_step(q, idx, scratch, s, lo, hi):
    """Advance q(s - j, j) from anti-diagonal s - 1 to s, in place, for lo <= j <= hi.

    Args:
        q: Anti-diagonal values, q[j + 1] = q(s - 1 - j, j) on entry.
        idx: 0, 1, 2, ... as float64, the multipliers i and j.
        scratch: Two float64 rows of at least hi - lo + 1 entries.
        s: The anti-diagonal being computed.
        lo: First j to compute.
        hi: Last j to compute; nothing happens when hi < lo.
    """
    if hi < lo:
        return
    t1, t2 = scratch[0, :hi - lo + 1], scratch[1, :hi - lo + 1]
    # out= avoids temporaries: this loop body is the whole cost.
    np.multiply(q[lo + 1:hi + 2], idx[s - hi:s - lo + 1][::-1], out=t1)
    np.multiply(q[lo:hi + 1], idx[lo:hi + 1], out=t2)
    np.add(t1, t2, out=t1)
    np.divide(t1, s, out=q[lo + 1:hi + 2])
