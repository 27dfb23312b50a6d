"""What the high-latency runbook's step 4 ("Check for drift") shows of model quality: prediction drift per model,
and, when a label source is configured (log.labels), the accuracy verdict. One call, plain lines and a status, so
the runbook renders it like its other checks."""

from __future__ import annotations

from dataclasses import dataclass

from mlobs_cli.config import Settings
from mlobs_cli.errors import MlobsError
from mlobs_cli.quality import concept, predictions


@dataclass(frozen=True, slots=True)
class QualityCheck:
    status: str  # ok | alert | unknown
    lines: tuple[str, ...]


def model_quality(settings: Settings, model: str | None, baseline: str = "7d..1d",
                  current: str = "24h", window: str = "1h") -> QualityCheck:
    """Prediction drift (class PSI against concept.prediction_psi) of `model` (all models: None), and the labelled
    accuracy verdict when log.labels is set. A source that cannot answer is status "unknown" with its reason;
    never an exception, so the walk goes on."""
    lines: list[str] = []
    status = "ok"
    try:
        report = predictions.run(None, baseline, current, model, settings, by_version=False)
        for g in report.groups:
            lines.append(f"prediction drift {g.model}: class PSI {_num(g.class_psi)} "
                         f"({'ALERT' if g.alert else 'ok'} at > {report.psi_alert:g}), confidence "
                         f"{_num(g.confidence_mean_baseline)} -> {_num(g.confidence_mean_current)}")
            status = "alert" if g.alert else status
    except MlobsError as e:
        return QualityCheck("unknown", (f"prediction drift: {e}",))
    labels = settings["log.labels"]
    if labels:
        try:
            verdict = concept.run(concept.Request(None, baseline, current, window, labels=labels, model=model), settings)
            v = verdict.verdict
            lines.append(f"accuracy {_num(verdict.baseline.accuracy)} -> {_num(verdict.current.accuracy)} "
                         f"(estimated {_num(verdict.current.estimated_accuracy)}): {v.drift_type}, {v.reason}")
            if v.detected:
                status = "alert"
            elif v.drift_type == "unknown" and status == "ok":
                status = "unknown"
        except MlobsError as e:
            lines.append(f"accuracy: UNKNOWN ({e})")
            status = "unknown" if status == "ok" else status
    return QualityCheck(status, tuple(lines))


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
