"""`drift concept`: the design's ConceptDriftDetector over the log store, with late labels or without them.

With labels: accuracy and F1 of the baseline and of each current window, the drop, and the one-sided t-test of
the window accuracies against the baseline's. Without (and beside them): the confidence shift (JS of
output_score on drift compare's bins), the class-distribution shift (PSI of output_class, as drift compare
computes it), and, given importances, the rank correlation of feature importances. Beyond the design: the
accuracy each window should have if nothing but the inputs changed (CBPE), from calibrated scores.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from mlobs_cli import timeparse
from mlobs_cli.backends import pushgateway
from mlobs_cli.backends.logstore import labels as label_store
from mlobs_cli.backends.logstore import open_store, resolve_source
from mlobs_cli.backends.samples import CategoryCounts
from mlobs_cli.config import Settings
from mlobs_cli.drift import features
from mlobs_cli.errors import BackendUnavailable, ExitCode, InputError, MlobsError
from mlobs_cli.logs.query import TIMESTAMP, Filters, Window, period
from mlobs_cli.quality import measures
from mlobs_cli.quality.report import (
    AS_LOGGED_NOTE,
    CBPE_NOTE,
    ConceptReport,
    Coverage,
    Indicator,
    Verdict,
    WindowQuality,
)
from mlobs_cli.quality.thresholds import ConceptConfig
from mlobs_cli.results import BackendError, Finding, Gauge

MAX_WINDOWS = 10_000
RETRAIN = "Investigate and consider retraining"
COLLECT = "Collect labels and validate performance"


class NoLabels(MlobsError):
    """Labels were given, but none belongs to a prediction of a period: the accuracy is unknown, not fine."""

    exit_code = ExitCode.BACKEND


@dataclass(frozen=True, slots=True)
class Request:
    source: str | None
    baseline: str
    current: str
    window: str = "1h"
    labels: str | None = None
    model: str | None = None
    positive: str | None = None
    importance_baseline: str | None = None
    importance_current: str | None = None


def concept_config(settings: Settings) -> ConceptConfig:
    return ConceptConfig(**{f.name: settings[f"concept.{f.name}"] for f in dataclasses.fields(ConceptConfig)})


def _windows(current: Window, window: str) -> tuple[float, list[tuple[Any, Any]]]:
    seconds = timeparse.parse_duration(window, "--window").total_seconds()
    assert current.start is not None and current.end is not None
    count = math.ceil((current.end - current.start).total_seconds() / seconds)
    if count > MAX_WINDOWS:
        raise InputError(f"--window {window}: {count:,} windows in the current period; at most {MAX_WINDOWS:,}")
    step = timedelta(seconds=seconds)
    return seconds, [(current.start + i * step, min(current.start + (i + 1) * step, current.end))
                     for i in range(count)]


def _check(request: Request, settings: Settings) -> None:
    if settings["pushgateway.url"] and not request.model:
        raise InputError("--pushgateway needs --model: the published metrics carry a model label")
    if (request.importance_baseline is None) != (request.importance_current is None):
        raise InputError("give --importance-baseline and --importance-current together")


def run(request: Request, settings: Settings) -> ConceptReport:
    """Detect concept drift between the baseline and current periods of the logs.

    Raises:
        InputError: a period, window or file that cannot be used; an empty period; labels of another coding.
        NoLabels: labels given, and no prediction of a period has one (exit 3).
        BackendUnavailable: the database cannot be reached.
    """
    _check(request, settings)
    cfg = concept_config(settings)
    base_w, cur_w = period(request.baseline, "--baseline"), period(request.current, "--current")
    seconds, spans = _windows(cur_w, request.window)
    importances = _importances(request)
    filters = Filters(model=request.model)
    store = open_store(request.source, settings)
    try:
        needed = [TIMESTAMP, "output_class", "output_score", *filters.columns(),
                  *(["prediction_id"] if request.labels else [])]
        missing = [c for c in needed if not store.has(c)]
        if missing:
            raise InputError(f"{store.source}: no column {', '.join(missing)} (needed by `drift concept`)")
        report = _detect(store, request, settings, cfg, base_w, cur_w, seconds, spans, filters, importances)
        report = report.with_errors(list(store.warnings))
    finally:
        store.close()
    url = settings["pushgateway.url"]
    if url:
        try:
            pushgateway.push(url, settings["pushgateway.job"], {"model": request.model}, gauges(report))
        except BackendUnavailable as e:
            report = report.with_errors([BackendError("pushgateway", str(e))])
    return report


def _detect(store: Any, request: Request, settings: Settings, cfg: ConceptConfig, base_w: Window, cur_w: Window,
            seconds: float, spans: list, filters: Filters, importances: Any) -> ConceptReport:
    threshold = settings["log.confidence_threshold"]
    whole = ("0", [])
    index = label_store.bucket(cur_w, seconds, store.epoch)
    n_base = sum(n for _, n in label_store.predictions(store, base_w, filters, whole))
    per_window = dict(label_store.predictions(store, cur_w, filters, index))
    scope = f" for model {request.model}" if request.model else ""
    for name, w, n in (("baseline", base_w, n_base), ("current", cur_w, sum(per_window.values()))):
        if n == 0:
            raise InputError(f"the {name} period {w.label()} has no predictions{scope} in {store.source}")
    _, base_scores = label_store.scores(store, base_w, filters, whole)
    cur_idx, cur_scores = label_store.scores(store, cur_w, filters, index)
    base_scores, cur_scores = np.asarray(base_scores, dtype=float), np.asarray(cur_scores, dtype=float)
    cur_idx = np.asarray(cur_idx, dtype=np.int64)
    base_classes = label_store.class_counts(store, base_w, filters)
    cur_classes = label_store.class_counts(store, cur_w, filters)

    labels = label_store.Labels(store, request.labels, resolve_source(request.source, settings)) \
        if request.labels else None
    issues = coverage_b = coverage_c = fit = None
    base_conf: Counter = Counter()
    cur_conf: dict[int, Counter] = {}
    notes: list[str] = []
    if labels is not None:
        issues = labels.issues()
        classes = {c for c, _ in base_classes + cur_classes if c is not None}
        values = labels.values()
        if values and classes and not set(values) & classes:
            raise InputError(f"--labels {labels.source}: no label value ({', '.join(values[:5])}) is an output_class "
                             f"({', '.join(sorted(classes)[:5])}): the label column holds another type or coding")
        for _, p, t, n in labels.confusion(base_w, filters, whole):
            base_conf[(p, t)] += n
        for w, p, t, n in labels.confusion(cur_w, filters, index):
            cur_conf.setdefault(w, Counter())[(p, t)] += n
        coverage_b = Coverage(n_base, sum(base_conf.values()), labels.median_delay(base_w, filters))
        coverage_c = Coverage(sum(per_window.values()), sum(sum(c.values()) for c in cur_conf.values()),
                              labels.median_delay(cur_w, filters))
        for name, c in (("baseline", coverage_b), ("current", coverage_c)):
            if c.labelled == 0:
                raise NoLabels(f"--labels {labels.source}: no labelled prediction in the {name} period "
                               f"({issues.rows:,} label rows, {issues.unknown_ids:,} for predictions not in the "
                               "logs): accuracy UNKNOWN")
        x, n, k = labels.score_hits(base_w, filters)
        if len(x):
            fit = measures.isotonic(np.asarray(x, dtype=float), np.asarray(k, dtype=float),
                                    np.asarray(n, dtype=float))
        notes += _issue_notes(issues)
    notes.append(CBPE_NOTE + (" (scores calibrated by isotonic regression on the labelled baseline)" if fit
                              else " (scores used as they are: no labelled baseline to calibrate them)"))
    if store.weighted:
        notes.append(AS_LOGGED_NOTE)
    positive, average = _f1_mode(request.positive, base_conf, cur_conf) if labels else (None, None)

    def estimate(scores: np.ndarray) -> np.ndarray:
        return measures.calibrate(scores, fit) if fit is not None else scores

    def quality(start: Any, end: Any, predictions: int, conf: Counter, n: float, sums: tuple[float, float, float],
                used: bool | None) -> WindowQuality:
        """`sums`: of the calibrated scores, the scores, and the scores under the threshold, over `n` scores."""
        labelled = sum(conf.values())
        estimated, mean, low = (float(v / n) if n else None for v in sums)
        return WindowQuality(
            start, end, predictions, labelled, measures.accuracy(conf) if labels else None,
            measures.f1(conf, positive) if labels else None, estimated, mean, low,
            used if used is not None else labelled >= cfg.min_labels)

    def totals(scores: np.ndarray, calibrated: np.ndarray) -> tuple[float, float, float]:
        return float(calibrated.sum()), float(scores.sum()), float((scores < threshold).sum())

    baseline = quality(base_w.start, base_w.end, n_base, base_conf, base_scores.size,
                       totals(base_scores, estimate(base_scores)), True)
    all_cur: Counter = sum(cur_conf.values(), Counter())
    cur_calibrated = estimate(cur_scores)
    current = quality(cur_w.start, cur_w.end, sum(per_window.values()), all_cur, cur_scores.size,
                      totals(cur_scores, cur_calibrated), None)
    # per window in one pass each: the sums over each window index
    n_scores = np.bincount(cur_idx, minlength=len(spans))
    per = [np.bincount(cur_idx, weights=w, minlength=len(spans))
           for w in (cur_calibrated, cur_scores, (cur_scores < threshold).astype(float))]
    windows = []
    for i, (start, end) in enumerate(spans):
        windows.append(quality(start, end, per_window.get(i, 0), cur_conf.get(i, Counter()), n_scores[i],
                               (per[0][i], per[1][i], per[2][i]), None))
    windows = [dataclasses.replace(w, used=bool(labels) and w.used) for w in windows]

    indicators = _indicators(cfg, settings, base_scores, cur_scores, base_classes, cur_classes, importances)
    findings = [Finding(f"concept/{i.name}", "low", i.name, i.rule) for i in indicators if i.fired]
    errors: list[BackendError] = []
    drop = f1_drop = p = None
    if labels:
        drop = baseline.accuracy - current.accuracy
        f1_drop = None if baseline.f1 is None or current.f1 is None else baseline.f1 - current.f1
        used = [w.accuracy for w in windows if w.used]
        p = measures.ttest_less(used, baseline.accuracy)
        if p is None:
            verdict = Verdict("unknown", False, "none", COLLECT, f"{len(used)} window(s) with at least "
                              f"{cfg.min_labels} labelled predictions: the t-test needs 2 with spread")
            errors.append(BackendError("labels", f"accuracy verdict UNKNOWN: {verdict.reason}"))
        elif drop > cfg.accuracy_drop and p < cfg.p_value:
            severity = "high" if drop > cfg.accuracy_drop_high else "medium"
            verdict = Verdict("concept_drift", True, severity, RETRAIN,
                              f"accuracy drop {drop:.3f} > {cfg.accuracy_drop:g} with p {p:.2g} < {cfg.p_value:g}")
            findings.insert(0, Finding("concept/accuracy-drop", severity, request.model or "model", verdict.reason))
        else:
            verdict = Verdict("none", False, "none", None, f"accuracy drop {drop:.3f} (threshold "
                              f"{cfg.accuracy_drop:g}), p {p:.2g} (threshold {cfg.p_value:g})")
    else:
        fired = [i for i in indicators if i.fired]
        if len(fired) >= cfg.min_indicators:
            verdict = Verdict("potential_concept_drift", True, "medium", COLLECT,
                              f"{len(fired)} indicators: {', '.join(i.name for i in fired)}")
            findings.insert(0, Finding("concept/indicators", "medium", request.model or "model", verdict.reason))
        else:
            verdict = Verdict("none", False, "none", None, f"{len(fired)} of {len(indicators)} indicators "
                              f"(potential concept drift from {cfg.min_indicators})")
    return ConceptReport(
        source=store.source, labels=labels.source if labels else None, model=request.model, baseline_window=base_w,
        current_window=cur_w, window_seconds=seconds, f1_average=average, positive=positive, baseline=baseline,
        current=current, windows=tuple(windows), baseline_coverage=coverage_b, current_coverage=coverage_c,
        label_issues=issues, accuracy_drop=drop, f1_drop=f1_drop, p_value=p, indicators=tuple(indicators),
        verdict=verdict, config=cfg, low_confidence_threshold=threshold, findings=tuple(findings),
        errors=tuple(errors), notes=tuple(notes))


def _issue_notes(issues: Any) -> list[str]:
    notes = []
    if issues.unknown_ids:
        notes.append(f"{issues.unknown_ids:,} labels name a prediction_id that is in no log row: not used")
    if issues.duplicated_ids:
        rule = "the latest labeled_at" if issues.has_labeled_at else "the last row read (no labeled_at column)"
        notes.append(f"{issues.duplicated_ids:,} predictions labelled more than once ({issues.conflicting_ids:,} "
                     f"with different labels): {rule} kept, {issues.dropped_duplicates:,} rows set aside")
    if issues.unusable:
        notes.append(f"{issues.unusable:,} label rows without a prediction_id or label: not used")
    return notes


def _f1_mode(positive: str | None, base: Counter, windows: dict[int, Counter]) -> tuple[str | None, str]:
    """(positive class, "binary") for two classes, (None, "macro") for more, as scikit-learn's f1_score."""
    classes = {c for conf in (base, *windows.values()) for key in conf for c in key}
    if len(classes) != 2:
        if positive is not None:
            raise InputError(f"--positive {positive}: F1 of one class is for two classes; these labels and "
                             f"predictions have {len(classes)} ({', '.join(sorted(classes)[:5])}), so F1 is macro")
        return None, "macro"
    if positive is not None:
        if positive not in classes:
            raise InputError(f"--positive {positive}: not a class; the classes are {', '.join(sorted(classes))}")
        return positive, "binary"
    label_counts = Counter({c: 0 for c in classes})
    for (_, t), n in base.items():
        label_counts[t] += n
    return min(sorted(classes), key=lambda c: label_counts[c]), "binary"


def _indicators(cfg: ConceptConfig, settings: Settings, base_scores: np.ndarray, cur_scores: np.ndarray,
                base_classes: list, cur_classes: list, importances: Any) -> list[Indicator]:
    drift_cfg = settings.drift
    js, note = measures.score_js(base_scores, cur_scores, drift_cfg.bins)
    out = [Indicator("confidence_shift", js, cfg.confidence_js, js is not None and js > cfg.confidence_js,
                     f"JS divergence of output_score {_fmt(js)} > {cfg.confidence_js:g}", note)]
    classes, _ = features.categorical("output_class", _category_counts(base_classes), _category_counts(cur_classes),
                                      drift_cfg)
    psi = classes.psi
    out.append(Indicator("class_distribution_shift", psi, cfg.class_psi, psi is not None and psi > cfg.class_psi,
                         f"PSI of output_class {_fmt(psi)} > {cfg.class_psi:g}", classes.note))
    if importances is not None:
        rho, shared = importances
        value = None if rho is None else 1 - rho
        out.append(Indicator("feature_importance_drift", value, cfg.importance_spearman,
                             rho is not None and rho < cfg.importance_spearman,
                             f"Spearman correlation of feature importances {_fmt(rho)} < {cfg.importance_spearman:g}",
                             f"{shared} features in both importance files"))
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _category_counts(rows: list[tuple[str | None, int]]) -> CategoryCounts:
    kept = sorted((c, n) for c, n in rows if c is not None)
    return CategoryCounts([c for c, _ in kept], np.asarray([n for _, n in kept], dtype=np.int64),
                          sum(n for c, n in rows if c is None))


def _importances(request: Request) -> tuple[float | None, int] | None:
    """Spearman's correlation of the importances of the features both files name, and how many there are."""
    if request.importance_baseline is None:
        return None
    base = _read_importance(request.importance_baseline, "--importance-baseline")
    cur = _read_importance(request.importance_current, "--importance-current")
    shared = sorted(set(base) & set(cur))
    if len(shared) < 3:
        raise InputError(f"--importance-baseline and --importance-current share {len(shared)} features; a rank "
                         "correlation needs at least 3")
    rho = measures.spearman(np.array([base[f] for f in shared]), np.array([cur[f] for f in shared]))
    return rho, len(shared)


def _read_importance(path: str | None, option: str) -> dict[str, float]:
    try:
        with open(path or "", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise InputError(f"{option} {path}: {e.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{option} {path}: not a CSV file ({e})") from None
    if not rows or not {"feature", "importance"} <= set(rows[0]):
        raise InputError(f"{option} {path}: expected a CSV with columns feature,importance")
    out: dict[str, float] = {}
    for number, row in enumerate(rows, start=2):
        try:
            value = float(row["importance"])
        except (TypeError, ValueError):
            raise InputError(f"{option} {path}: line {number}: importance {row['importance']!r} is not a number") \
                from None
        if not math.isfinite(value):
            raise InputError(f"{option} {path}: line {number}: importance {value} is not finite")
        if row["feature"] in out:
            raise InputError(f"{option} {path}: line {number}: feature {row['feature']!r} given twice")
        out[row["feature"]] = value
    return out


def gauges(report: ConceptReport) -> list[Gauge]:
    """What a scheduled job publishes: measured and estimated accuracy of the current period, and the verdict."""
    out = []
    if report.current.accuracy is not None:
        out.append(Gauge("model_accuracy", "Accuracy of the labelled predictions of the current period", (),
                         report.current.accuracy))
    if report.current.estimated_accuracy is not None:
        out.append(Gauge("model_accuracy_estimated", "Accuracy expected from calibrated output scores (CBPE) of "
                         "the current period", (), report.current.estimated_accuracy))
    out.append(Gauge("concept_drift_detected", "1 when drift concept finds (potential) concept drift", (),
                     1.0 if report.verdict.detected else 0.0))
    return out
