"""The slow references the drift tests compare the engine with, written out from the specification."""

from __future__ import annotations

import bisect
import math
from collections import Counter

import numpy as np

EPS = 0.0001  # the seed's PSI floor


def ref_bins(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[list[int], list[int]]:
    """Counts of both samples over the PSI bins, the slow way.

    At most `bins` distinct reference values: one bin per distinct value of either sample. Otherwise the interior
    edges are np.quantile(ref, i/bins), i = 1..bins-1, duplicates collapsed, and x goes to the first bin whose
    upper edge is >= x (bisect_left finds exactly that edge; past the last edge is the open top bin).
    """
    if len(set(ref.tolist())) <= bins:
        values = sorted(set(ref.tolist()) | set(cur.tolist()))
        rc, cc = Counter(ref.tolist()), Counter(cur.tolist())
        return [rc[v] for v in values], [cc[v] for v in values]
    edges = sorted(set(np.quantile(ref, [i / bins for i in range(1, bins)]).tolist()))

    def count(sample: np.ndarray) -> list[int]:
        out = [0] * (len(edges) + 1)
        for x in sample.tolist():
            out[bisect.bisect_left(edges, x)] += 1
        return out

    return count(ref), count(cur)


def ref_psi(ref_counts, cur_counts, eps: float = EPS) -> float:
    """PSI with natural log; every proportion floored at eps, not renormalised."""
    nr, nc = sum(ref_counts), sum(cur_counts)
    total = 0.0
    for r, c in zip(ref_counts, cur_counts):
        p, q = max(r / nr, eps), max(c / nc, eps)
        total += (q - p) * math.log(q / p)
    return total


def close_rel(actual: float, expected: float, rel: float) -> bool:
    """Relative closeness, symmetric; two zeros are close."""
    return actual == expected or abs(actual - expected) <= rel * max(abs(actual), abs(expected))
