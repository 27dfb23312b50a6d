"""The numbers of model quality from counts: accuracy and F1 of a confusion table, the one-sided t-test of the
window accuracies, isotonic calibration (pool adjacent violators) and Spearman's correlation.

Written out here (or taken from scipy.optimize), not imported from scikit-learn (a test-only dependency) or
scipy.stats (0.4 s to import); the tests check each against those libraries.
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

    Pool adjacent violators (scipy's C++ PAVA): each block of points gets its weighted mean. Returns the points
    (x, fitted rate) that `calibrate` interpolates between, as scikit-learn's IsotonicRegression does, keeping of
    each block only its first and last point: the fit is flat in between, so the interpolation is the same, and
    a million labelled scores make a few hundred points to search instead of a million.
    """
    from scipy.optimize import isotonic_regression  # 0.1 s to import: only when there are labels

    fit = isotonic_regression(hits / weights, weights=weights)
    starts = np.asarray(fit.blocks[:-1])
    ends = np.asarray(fit.blocks[1:]) - 1
    keep = np.unique(np.concatenate([starts, ends]))
    return x[keep], np.asarray(fit.x)[keep]


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


def score_js(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[float | None, str | None]:
    """JS divergence (base 2) of two score samples on the bins `drift compare` uses (`stats.quantile_bins`),
    and a note when a side has no finite score.

    The same bins without sorting millions of scores: np.quantile partitions, and each score's bin is the number
    of edges below it. Only a reference that may hold at most `bins` distinct values (one bin per value then) takes
    drift compare's sorted path.
    """
    from mlobs_cli.drift import stats

    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        where = ("either period" if ref.size == cur.size == 0 else "the baseline" if ref.size == 0
                 else "the current period")
        return None, f"no output_score in {where}: nothing to compare"
    if np.unique(ref[:4096]).size <= bins:
        found = stats.quantile_bins(np.sort(ref), np.sort(cur), bins)
        return stats.js_divergence(found.ref_counts, found.cur_counts), None
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))

    def counts(sample: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(edges, sample, side="left"), minlength=edges.size + 1)

    return stats.js_divergence(counts(ref), counts(cur)), None
