"""`mlobs dashboard model MODEL`: the design's Model Health Dashboard as data, from the prediction logs.

Each panel is built on its own: one that fails or has no rows says why and the others still show. The numbers are
the other commands' own: feature PSI from `logs feature-shift` (or, with Prometheus, the `feature_psi{model,
feature}` that `drift compare --pushgateway` publishes), the prediction distribution from `drift predictions`, the
confidence histogram and the low-confidence table from `logs confidence`, and the experiment panel from
`experiment status` (Prometheus' counters; the experiment is the one named, else the one most of the model's
recent logged predictions belong to).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, MlobsError, combine
from mlobs_cli.results import BackendError

NO_PROMETHEUS = "no data: the experiment counters are in Prometheus; give --prometheus URL or --context NAME"
RECENT_ROWS = 1000  # the model's experiment is the most frequent experiment_id of its latest logged predictions


@dataclass(frozen=True, slots=True)
class ModelPanel:
    title: str
    kind: str  # feature_psi | prediction_distribution | confidence | low_confidence | experiment
    data: dict[str, Any]
    empty: str | None = None  # why there is nothing to show


@dataclass(frozen=True, slots=True)
class ModelDashboard:
    model: str
    source: str
    baseline: str
    current: str
    panels: tuple[ModelPanel, ...]
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()

    columns = ("panel", "kind", "empty")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[p.title, p.kind, p.empty] for p in self.panels]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "baseline": self.baseline, "current": self.current,
                "panels": [dataclasses.asdict(p) for p in self.panels]}

    def exit_code(self) -> int:
        return int(combine(has_findings=False, has_backend_errors=bool(self.errors)))


def build(model: str, source: str | None, baseline: str, current: str, settings: Settings, client: Any = None,
          experiment: str | None = None) -> ModelDashboard:
    """The panels; `client` (a PrometheusClient) is the source of feature PSI and of the experiment panel."""
    from mlobs_cli.backends.logstore import resolve_source
    from mlobs_cli.logs import service
    from mlobs_cli.logs.query import period
    from mlobs_cli.quality import predictions

    shown = resolve_source(source, settings)
    scope = service.Scope(source=source, model=model)
    errors: list[BackendError] = []

    def panel(title: str, kind: str, make: Callable[[], tuple[dict[str, Any], str | None]],
              backend: str = "logs") -> ModelPanel:
        try:
            data, empty = make()
        except BackendUnavailable as e:
            errors.append(BackendError(backend, str(e)))
            return ModelPanel(title, kind, {}, f"no data: {e}")
        except MlobsError as e:  # a panel the logs cannot fill (no features logged, an empty period)
            return ModelPanel(title, kind, {}, f"no data: {e}")
        return ModelPanel(title, kind, data, empty)

    shown_window = period(current, "--current")
    drift_cfg = settings.drift

    def feature_psi() -> tuple[dict[str, Any], str | None]:
        limits = {"psi_watch": drift_cfg.psi_watch, "psi_alert": drift_cfg.psi_alert}
        if client is not None:
            found = client.query(f'feature_psi{{model="{_label_value(model)}"}}', shown_window.end)
            rows = sorted(({"feature": x.labels.get("feature", ""), "psi": x.value, "status": _psi_status(
                x.value, drift_cfg)} for x in found), key=lambda r: r["feature"])
            return {"features": rows, "source": "prometheus", **limits}, None if rows else (
                f"no feature_psi series for model {model} in Prometheus at {_iso(shown_window.end)} (`drift compare "
                "--model M --pushgateway URL` publishes them)")
        result = service.feature_shift(scope, settings, baseline, current, ())
        rows = [{"feature": f.name, "psi": f.psi, "status": f.status} for f in result.features if f.psi is not None]
        return {"features": rows, "source": "logs", **limits}, \
            None if rows else "no feature with values in both periods"

    def distribution() -> tuple[dict[str, Any], str | None]:
        report = predictions.run(source, baseline, current, model, settings, by_version=False)
        g = report.groups[0]
        return {"psi": g.class_psi, "alert": g.alert, "psi_alert": report.psi_alert,
                "classes": [dataclasses.asdict(b) for b in g.class_bins]}, \
            None if g.n_baseline and g.n_current else "no predictions in one of the periods"

    confidence_result: list[Any] = []

    def confidence() -> tuple[dict[str, Any], str | None]:
        start, _, end = current.partition("..")
        period = dataclasses.replace(scope, start=start, end=end) if end else dataclasses.replace(scope, since=current)
        result = service.confidence(period, settings, "15m")
        confidence_result.append(result)
        total = sum(b.predictions for b in result.buckets)
        mean = (sum(b.mean_score * b.predictions for b in result.buckets if b.mean_score is not None) / total
                if total else None)
        low = sum(b.low for b in result.buckets)
        return {"histogram": list(result.histogram), "mean": mean, "low_share": low / total if total else None,
                "threshold": result.threshold}, None if total else "no scored predictions in the period"

    def low_table() -> tuple[dict[str, Any], str | None]:
        if not confidence_result:
            raise MlobsError("the confidence query failed")
        result = confidence_result[0]
        rows = [{"time": b.start.isoformat().replace("+00:00", "Z"), "mean_confidence": b.mean_low_score,
                 "count": b.low} for b in result.buckets if b.low]
        return {"rows": rows[-8:], "threshold": result.threshold}, None if rows else "no low-confidence predictions"

    panels = (
        panel("Feature PSI Scores", "feature_psi", feature_psi, "logs" if client is None else "prometheus"),
        panel("Prediction Distribution", "prediction_distribution", distribution),
        panel("Confidence Distribution", "confidence", confidence),
        panel("Low Confidence Predictions", "low_confidence", low_table),
        ModelPanel("Experiment Status", "experiment", {}, NO_PROMETHEUS) if client is None else
        panel("Experiment Status", "experiment", lambda: _experiment(client, experiment, model, source, settings,
                                                                     shown_window), "prometheus"),
    )
    from mlobs_cli.config import mask_secret

    return ModelDashboard(model, mask_secret(shown) if "://" in shown else shown, baseline, current, panels, tuple(errors))


def _psi_status(psi: float, cfg: Any) -> str:
    """As `logs feature-shift` judges a PSI."""
    return "alert" if psi > cfg.psi_alert else "watch" if psi >= cfg.psi_watch else "ok"


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _iso(moment: Any) -> str:
    from mlobs_cli.timeparse import isoformat

    return isoformat(moment)


def _experiment(client: Any, name: str | None, model: str, source: str | None, settings: Settings,
                window: Any) -> tuple[dict[str, Any], str | None]:
    """`experiment status` of the model's experiment over the period shown."""
    from collections import Counter

    from mlobs_cli.experiment import analysis, service

    if name is None:
        from mlobs_cli.backends.logstore import open_store
        from mlobs_cli.logs.query import Filters

        store = open_store(source, settings)
        try:
            if not store.has("experiment_id"):
                return {}, "no data: the logs have no experiment_id column (name the experiment with --experiment)"
            rows = store.search(window, Filters(model=model), ["experiment_id"], RECENT_ROWS)
        finally:
            store.close()
        seen = Counter(r["experiment_id"] for r in rows if r.get("experiment_id"))
        if not seen:
            return {}, (f"no running experiment: none of model {model}'s latest {RECENT_ROWS:,} logged predictions "
                        f"of {window.label()} belongs to one")
        name = seen.most_common(1)[0][0]
    control, split = analysis.configured(settings["experiments"], name)
    result = service.status(client, name, window.end, window.end - window.start, control=control, split=split)
    return {**result.to_dict(), "rows": [dict(zip(result.columns, r)) for r in result.rows()]}, None
