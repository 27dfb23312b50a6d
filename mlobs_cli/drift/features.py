"""Drift of one feature, numerical or categorical, and the seed's rules that judge it."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mlobs_cli.backends.samples import CategoryCounts
from mlobs_cli.drift import stats
from mlobs_cli.drift.report import Bin, FeatureDrift, NewCategory
from mlobs_cli.drift.thresholds import DriftConfig
from mlobs_cli.results import Finding

OTHER = "__other__"
MAX_PLOT_BINS = 60  # beyond this the plot pools the smallest bins; the statistics always use every bin


def numerical(name: str, ref_raw: np.ndarray, cur_raw: np.ndarray, config: DriftConfig,
              note: str | None = None) -> tuple[FeatureDrift, list[Finding]]:
    """Drift of a numerical feature. Null, NaN and +-inf are missing and left out of every statistic."""
    ref, cur = _finite(ref_raw), _finite(cur_raw)
    base = {"name": name, "kind": "numerical", "n_ref": int(ref.size), "n_cur": int(cur.size),
                "missing_ref": _share_missing(ref.size, ref_raw.size), "missing_cur": _share_missing(cur.size, cur_raw.size)}
    if ref.size == 0 or cur.size == 0:
        return _judge(FeatureDrift(**base, note=_empty_note(ref.size, cur.size, note)), config)
    ref.sort()
    cur.sort()
    bins = stats.quantile_bins(ref, cur, config.bins)
    cdf = stats.cdf_stats(ref, cur)
    js = stats.js_divergence(bins.ref_counts, bins.cur_counts)
    feature = FeatureDrift(
        **base,
        psi=stats.psi(bins.ref_counts, bins.cur_counts, config.psi_epsilon),
        ks_stat=cdf.ks_stat,
        ks_pvalue=cdf.ks_pvalue,
        js_divergence=js,
        js_distance=math.sqrt(js),
        wasserstein=cdf.wasserstein,
        wasserstein_norm=cdf.wasserstein / max(float(ref.std()), 0.001),
        out_of_range=stats.share_outside(ref, cur),
        note=note,
        bins=_plot_bins(_numeric_labeller(bins), bins.ref_shares, bins.cur_shares),
    )
    return _judge(feature, config)


def categorical(name: str, ref: CategoryCounts, cur: CategoryCounts, config: DriftConfig,
                note: str | None = None) -> tuple[FeatureDrift, list[Finding]]:
    """Drift of a categorical feature over the categories of either sample.

    Above `config.max_categories` reference categories, the rarer ones (and every category the kept ones do not
    cover) pool into one `__other__` bin, so a high-cardinality column gives a PSI that still means something.
    """
    ref_counts = dict(zip(ref.categories, ref.counts.tolist()))
    cur_counts = dict(zip(cur.categories, cur.counts.tolist()))
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    base = {"name": name, "kind": "categorical", "n_ref": n_ref, "n_cur": n_cur,
                "missing_ref": _share_missing(n_ref, n_ref + ref.missing),
                "missing_cur": _share_missing(n_cur, n_cur + cur.missing)}
    if n_ref == 0 or n_cur == 0:
        return _judge(FeatureDrift(**base, note=_empty_note(n_ref, n_cur, note)), config)
    by_ref = sorted(ref_counts, key=lambda c: (-ref_counts[c], c))
    unseen = sorted((c for c in cur_counts if c not in ref_counts), key=lambda c: (-cur_counts[c], c))
    if len(by_ref) > config.max_categories:
        kept = by_ref[: config.max_categories]
        labels = [*kept, OTHER]
        r = [ref_counts[c] for c in kept]
        c = [cur_counts.get(k, 0) for k in kept]
        r.append(n_ref - sum(r))
        c.append(n_cur - sum(c))
    else:
        labels = by_ref + unseen
        r = [ref_counts.get(k, 0) for k in labels]
        c = [cur_counts.get(k, 0) for k in labels]
    r_arr, c_arr = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
    js = stats.js_divergence(r_arr, c_arr)
    chi2_stat, chi2_pvalue = stats.chi_square(r_arr, c_arr)
    feature = FeatureDrift(
        **base,
        psi=stats.psi(r_arr, c_arr, config.psi_epsilon),
        js_divergence=js,
        js_distance=math.sqrt(js),
        chi2_stat=chi2_stat,
        chi2_pvalue=chi2_pvalue,
        new_categories=tuple(NewCategory(k, cur_counts[k] / n_cur) for k in unseen),
        note=note,
        bins=_plot_bins(labels.__getitem__, r_arr / n_ref, c_arr / n_cur),
    )
    return _judge(feature, config)


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite values, as a copy the caller may sort in place (the common case, nothing missing, copies once)."""
    keep = np.isfinite(values)
    return values.copy() if keep.all() else values[keep]


def _share_missing(present: int, total: int) -> float:
    return 0.0 if total == 0 else (total - present) / total


def _exceeds(share: float, limit: float) -> bool:
    """share > limit for shares of counts, where a share exactly at the limit stays under it although its float
    arithmetic (0.55 - 0.5, ten shares of 0.001 added up) lands a few ulps above. Counts would need 10^12 rows
    for a real difference to be this small."""
    return share > limit + 1e-12


def _empty_note(n_ref: int, n_cur: int, note: str | None) -> str:
    where = "either sample" if n_ref == n_cur == 0 else "the reference" if n_ref == 0 else "the current sample"
    return "; ".join(filter(None, [note, f"no values in {where}: nothing to compare"]))


def _judge(f: FeatureDrift, cfg: DriftConfig) -> tuple[FeatureDrift, list[Finding]]:
    """Status, alert and severity by the seed's rule, plus the watch signals mlobs adds.

    Alert (seed): PSI > psi_alert, or KS p-value < ks_pvalue and KS statistic > ks_stat; high above psi_high.
    Watch: PSI in [psi_watch, psi_alert], current values outside the reference range, unseen categories, or a
    changed share of missing values (the seed's feature coverage).
    """
    alerts: list[tuple[str, str]] = []
    watch: list[tuple[str, str]] = []
    if f.psi is not None:
        if f.psi > cfg.psi_alert:
            alerts.append(("drift/psi", f"PSI {f.psi:.3f} > {cfg.psi_alert:g}"))
        elif f.psi >= cfg.psi_watch:
            watch.append(("drift/psi", f"PSI {f.psi:.3f} in the watch band {cfg.psi_watch:g}-{cfg.psi_alert:g}"))
    if f.ks_pvalue is not None and f.ks_pvalue < cfg.ks_pvalue and f.ks_stat > cfg.ks_stat:
        alerts.append(("drift/ks", f"KS {f.ks_stat:.3f} > {cfg.ks_stat:g} with p {f.ks_pvalue:.2g} < {cfg.ks_pvalue:g}"))
    if f.out_of_range is not None and _exceeds(f.out_of_range, cfg.out_of_range_watch):
        watch.append(("drift/out-of-range", f"{f.out_of_range:.1%} of current values outside the reference range"))
    if f.new_categories:
        share = sum(c.share for c in f.new_categories)
        if _exceeds(share, cfg.new_categories_watch):
            named = ", ".join(f"{c.name} ({c.share:.1%})" for c in f.new_categories[:5])
            more = f" and {len(f.new_categories) - 5} more" if len(f.new_categories) > 5 else ""
            watch.append(("drift/new-categories", f"{share:.1%} of current values in new categories: {named}{more}"))
    if _exceeds(abs(f.missing_cur - f.missing_ref), cfg.missing_change):
        watch.append(("drift/missing", f"missing values {f.missing_ref:.1%} -> {f.missing_cur:.1%}"))
    severity = "none"
    if alerts:
        severity = "high" if f.psi is not None and f.psi > cfg.psi_high else "medium"
    status = "alert" if alerts else "watch" if watch else "ok"
    findings = [Finding(check, severity, f.name, text) for check, text in alerts]
    findings += [Finding(check, "low", f.name, text) for check, text in watch]
    judged = FeatureDrift(**{**_fields(f), "status": status, "alert": bool(alerts), "severity": severity,
                             "reasons": tuple(text for _, text in alerts + watch)})
    return judged, findings


def _fields(f: FeatureDrift) -> dict:
    return {name: getattr(f, name) for name in FeatureDrift.__dataclass_fields__}


def _numeric_labeller(bins: stats.Bins) -> Callable[[int], str]:
    """Label of bin i, made only for the bins a plot shows: a constant reference against a continuous current
    has a bin per distinct current value, which can be millions."""
    if bins.values is not None:
        return lambda i: f"{bins.values[i]:.4g}"
    edges = bins.edges

    def label(i: int) -> str:
        if i == 0:
            return f"≤ {edges[0]:.4g}"
        if i == edges.size:
            return f"> {edges[-1]:.4g}"
        return f"({edges[i - 1]:.4g}, {edges[i]:.4g}]"

    return label


def _plot_bins(label: Callable[[int], str], ref: np.ndarray, cur: np.ndarray) -> tuple[Bin, ...]:
    """Bins for a picture: all of them, or the largest MAX_PLOT_BINS - 1 in order and one pooled rest."""
    if ref.size <= MAX_PLOT_BINS:
        return tuple(Bin(label(i), float(ref[i]), float(cur[i])) for i in range(ref.size))
    keep = np.zeros(ref.size, dtype=bool)
    keep[np.argsort(-np.maximum(ref, cur), kind="stable")[: MAX_PLOT_BINS - 1]] = True
    kept = [Bin(label(i), float(ref[i]), float(cur[i])) for i in np.flatnonzero(keep)]
    return (*kept, Bin(f"{ref.size - len(kept)} more", float(ref[~keep].sum()), float(cur[~keep].sum())))
