"""The numbers of model quality from counts: accuracy and F1 of a confusion table, the one-sided t-test of the
window accuracies, isotonic calibration (pool adjacent violators) and Spearman's correlation.

Written out here, not imported from scikit-learn (a test-only dependency) or scipy.stats (0.4 s to import); the
tests check each against those libraries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.special import stdtr  # Student's t CDF

Confusion = Mapping[tuple[str, str], int]  # (predicted class, label) -> count


def accuracy(confusion: Confusion) -> float | None:
    total = sum(confusion.values())
    return None if total == 0 else sum(n for (p, t), n in confusion.items() if p == t) / total


def _f1_of(confusion: Confusion, cls: str) -> float:
    tp = confusion.get((cls, cls), 0)
    fp = sum(n for (p, t), n in confusion.items() if p == cls and t != cls)
    fn = sum(n for (p, t), n in confusion.items() if t == cls and p != cls)
    return 0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)  # scikit-learn's zero_division=0


def f1(confusion: Confusion, positive: str | None) -> float | None:
    """F1 of `positive` (scikit-learn's average="binary"), or with None the macro F1 over the classes that occur
    as a prediction or a label in this table (scikit-learn's average="macro")."""
    if sum(confusion.values()) == 0:
        return None
    if positive is not None:
        return _f1_of(confusion, positive)
    classes = sorted({c for key in confusion for c in key})
    return sum(_f1_of(confusion, c) for c in classes) / len(classes)


def ttest_less(sample: list[float], mean: float) -> float | None:
    """p-value of the one-sample t-test that `sample`'s mean is below `mean` (scipy's ttest_1samp,
    alternative="less"); None with fewer than 2 values or no spread around an equal mean."""
    n = len(sample)
    if n < 2:
        return None
    values = np.asarray(sample, dtype=float)
    diff, sd = float(values.mean()) - mean, float(values.std(ddof=1))
    if sd == 0:
        return None if diff == 0 else (0.0 if diff < 0 else 1.0)
    return float(stdtr(n - 1, diff / (sd / math.sqrt(n))))


def isotonic(x: np.ndarray, hits: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increasing least-squares fit of the hit rate `hits / weights` at the distinct sorted scores `x`.

    Pool adjacent violators: each block is replaced by its weighted mean until the means increase. Returns the
    points (x, fitted rate) that `calibrate` interpolates between, as scikit-learn's IsotonicRegression does.
    """
    sums, sizes, counts = [], [], []  # per block: weighted hits, weight, points
    for h, w in zip(hits.tolist(), weights.tolist()):
        sums.append(float(h))
        sizes.append(float(w))
        counts.append(1)
        while len(sums) > 1 and sums[-2] / sizes[-2] >= sums[-1] / sizes[-1]:
            s, w2, c = sums.pop(), sizes.pop(), counts.pop()
            sums[-1] += s
            sizes[-1] += w2
            counts[-1] += c
    fitted = np.repeat(np.asarray(sums) / np.asarray(sizes), counts)
    return x, fitted


def calibrate(scores: np.ndarray, fit: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The calibrated scores: linear between the fitted points, the end values beyond them (out_of_bounds="clip")."""
    return np.interp(scores, fit[0], fit[1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], values.size]
    ranks = np.empty(values.size)
    ranks[order] = ((starts + ends + 1) / 2)[np.cumsum(first) - 1]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation: Pearson's of the average ranks; None when either side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    if a.size < 2 or ra.std() == 0 or rb.std() == 0:
        return None
    da, db = ra - ra.mean(), rb - rb.mean()
    return float(np.sum(da * db) / math.sqrt(np.sum(da * da) * np.sum(db * db)))
