"""`drift predictions`: the design's prediction_distribution per model and version, from the log store.

Class distribution PSI and confidence JS are `drift compare`'s own computations (drift.features) on the rows the
store returns, so both commands give the same numbers on the same rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlobs_cli.backends import pushgateway
from mlobs_cli.backends.logstore import labels as rows
from mlobs_cli.backends.logstore import open_store
from mlobs_cli.config import Settings
from mlobs_cli.drift import features
from mlobs_cli.drift.report import Bin
from mlobs_cli.errors import BackendUnavailable, ExitCode, InputError, combine
from mlobs_cli.logs.query import TIMESTAMP, Filters, Window, period
from mlobs_cli.quality.concept import _category_counts, concept_config
from mlobs_cli.quality.report import AS_LOGGED_NOTE
from mlobs_cli.results import BackendError, Finding, Gauge


@dataclass(frozen=True, slots=True)
class PredictionShift:
    model: str | None
    version: str | None
    n_baseline: int
    n_current: int
    class_psi: float | None
    confidence_js: float | None
    confidence_psi: float | None
    confidence_mean_baseline: float | None
    confidence_mean_current: float | None
    low_confidence_baseline: float | None
    low_confidence_current: float | None
    alert: bool
    class_bins: tuple[Bin, ...] = dataclasses.field(default=(), compare=False)
    score_bins: tuple[Bin, ...] = dataclasses.field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.endswith("_bins")}
        data["class_distribution"] = [dataclasses.asdict(b) for b in self.class_bins]
        data["confidence_histogram"] = [dataclasses.asdict(b) for b in self.score_bins]
        return data


@dataclass(frozen=True, slots=True)
class PredictionsReport:
    source: str
    baseline_window: Window
    current_window: Window
    psi_alert: float
    low_confidence_threshold: float
    groups: tuple[PredictionShift, ...]
    findings: tuple[Finding, ...]
    errors: tuple[BackendError, ...] = ()
    notes: tuple[str, ...] = ()

    columns = ("model", "version", "n_baseline", "n_current", "class_psi", "confidence_js", "confidence_mean_current",
               "low_confidence_baseline", "low_confidence_current", "alert")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[getattr(g, c) for c in self.columns] for g in self.groups]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "baseline_period": self.baseline_window.to_dict(),
                "current_period": self.current_window.to_dict(),
                "thresholds": {"prediction_psi": self.psi_alert,
                               "low_confidence_threshold": self.low_confidence_threshold},
                "groups": [g.to_dict() for g in self.groups], "notes": list(self.notes)}

    def exit_code(self, exit_zero: bool = False) -> ExitCode:
        return combine(has_findings=bool(self.findings) and not exit_zero, has_backend_errors=bool(self.errors))


def run(source: str | None, baseline: str, current: str, model: str | None, settings: Settings,
        by_version: bool = True) -> PredictionsReport:
    """Per model and version in either period: class PSI, confidence JS and histogram, low-confidence shares.

    Raises:
        InputError: a period that does not parse, logs without output_class or output_score, no prediction.
    """
    if settings["pushgateway.url"] and not model:
        raise InputError("--pushgateway needs --model: the published prediction_distribution_psi carries a model "
                         "label")
    cfg, drift_cfg = concept_config(settings), settings.drift
    threshold = settings["log.confidence_threshold"]
    base_w, cur_w = period(baseline, "--baseline"), period(current, "--current")
    store = open_store(source, settings)
    try:
        missing = [c for c in (TIMESTAMP, "output_class", "output_score", "model_id", "model_version")
                   if not store.has(c)]
        if missing:
            raise InputError(f"{store.source}: no column {', '.join(missing)} (needed by `drift predictions`)")
        # without by_version, a model's versions pool: what moved when a new version took over
        keys = sorted({(m, v if by_version else None) for w in (base_w, cur_w)
                       for m, v, *_ in store.status_counts(w, Filters(model=model))},
                      key=lambda k: tuple("" if x is None else str(x) for x in k))
        if not keys:
            raise InputError(f"no predictions{' for model ' + model if model else ''} in either period in "
                             f"{store.source}")
        groups = [_group(store, m, v, base_w, cur_w, drift_cfg, threshold, cfg.prediction_psi) for m, v in keys]
        source_shown, warnings = store.source, list(store.warnings)
        notes = (AS_LOGGED_NOTE,) if store.weighted else ()
    finally:
        store.close()
    findings = [Finding("drift/prediction-distribution", "medium", " ".join(str(x) for x in (g.model, g.version) if x is not None),
                        f"PSI of output_class {g.class_psi:.3f} > {cfg.prediction_psi:g}") for g in groups if g.alert]
    report = PredictionsReport(source_shown, base_w, cur_w, cfg.prediction_psi, threshold, tuple(groups),
                               tuple(findings), tuple(warnings), notes)
    url = settings["pushgateway.url"]
    if url:
        gauges = [Gauge("prediction_distribution_psi", "PSI of the predicted class distribution, current against "
                        "baseline", (("version", str(g.version)),) if g.version is not None else (), g.class_psi)
                  for g in groups if g.class_psi is not None]
        try:
            pushgateway.push(url, settings["pushgateway.job"], {"model": model}, gauges)
        except BackendUnavailable as e:
            report = dataclasses.replace(report, errors=report.errors + (BackendError("pushgateway", str(e)),))
    return report


def _group(store: Any, model: Any, version: Any, base_w: Window, cur_w: Window, drift_cfg: Any, threshold: float,
           psi_alert: float) -> PredictionShift:
    filters = Filters(model=model, version=version)
    whole = ("0", [])
    base_classes, cur_classes = rows.class_counts(store, base_w, filters), rows.class_counts(store, cur_w, filters)
    base = np.asarray(rows.scores(store, base_w, filters, whole)[1], dtype=float)
    cur = np.asarray(rows.scores(store, cur_w, filters, whole)[1], dtype=float)
    classes, _ = features.categorical("output_class", _category_counts(base_classes), _category_counts(cur_classes),
                                      drift_cfg)
    scores, _ = features.numerical("output_score", base, cur, drift_cfg)

    def mean(x: np.ndarray) -> float | None:
        return float(x.mean()) if x.size else None

    def low(x: np.ndarray) -> float | None:
        return float((x < threshold).mean()) if x.size else None

    return PredictionShift(model, version, sum(n for _, n in base_classes), sum(n for _, n in cur_classes),
                           classes.psi, scores.js_divergence, scores.psi, mean(base), mean(cur), low(base), low(cur),
                           classes.psi is not None and classes.psi > psi_alert, classes.bins, scores.bins)
