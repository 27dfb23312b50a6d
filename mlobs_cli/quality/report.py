"""The typed result of `drift concept`: quality per window, the label-free indicators, and the verdict."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlobs_cli import timeparse
from mlobs_cli.backends.logstore.labels import LabelIssues
from mlobs_cli.drift.report import FINDING_ORDER
from mlobs_cli.errors import ExitCode, combine
from mlobs_cli.logs.query import Window
from mlobs_cli.quality.thresholds import ConceptConfig
from mlobs_cli.results import BackendError, Finding

CBPE_NOTE = ("estimated accuracy is the mean calibrated output_score (confidence-based performance estimation, as "
             "NannyML's CBPE): it assumes the scores are calibrated and that P(label | inputs) has not changed, so "
             "it cannot see concept drift itself, only the accuracy the model expects of its own inputs")

AS_LOGGED_NOTE = ("the logs are sampled (log.sampling or a sample_rate column), and `mlobs logs` weights them; this "
                  "report does not: its counts, shares and statistics are of the rows as logged, where the rows "
                  "kept more often (errors, low-confidence predictions) weigh more than in the traffic")


@dataclass(frozen=True, slots=True)
class WindowQuality:
    """One window (or the whole baseline): predictions, labels, measured and estimated quality, confidence."""

    start: datetime
    end: datetime
    predictions: int
    labelled: int
    accuracy: float | None
    f1: float | None
    estimated_accuracy: float | None
    confidence_mean: float | None
    low_confidence_share: float | None
    used: bool  # enough labels to enter the t-test

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["start"], data["end"] = timeparse.isoformat(self.start), timeparse.isoformat(self.end)
        return data


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much ground truth has arrived for a period."""

    predictions: int
    labelled: int
    median_delay_s: float | None

    @property
    def share(self) -> float:
        return self.labelled / self.predictions if self.predictions else 0.0


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str  # confidence_shift | class_distribution_shift | feature_importance_drift
    value: float | None  # None: not computable (a note says why)
    threshold: float
    fired: bool
    rule: str  # in words, with the threshold
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    drift_type: str  # concept_drift | potential_concept_drift | none | unknown
    detected: bool
    severity: str  # none | medium | high
    recommendation: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ConceptReport:
    source: str
    labels: str | None
    model: str | None
    baseline_window: Window
    current_window: Window
    window_seconds: float
    f1_average: str | None  # binary | macro
    positive: str | None
    baseline: WindowQuality
    current: WindowQuality  # every current prediction together
    windows: tuple[WindowQuality, ...]
    baseline_coverage: Coverage | None
    current_coverage: Coverage | None
    label_issues: LabelIssues | None
    accuracy_drop: float | None
    f1_drop: float | None
    p_value: float | None
    indicators: tuple[Indicator, ...]
    verdict: Verdict
    config: ConceptConfig
    low_confidence_threshold: float
    findings: tuple[Finding, ...]
    errors: tuple[BackendError, ...] = ()
    notes: tuple[str, ...] = ()

    columns = ("window_start", "predictions", "labelled", "accuracy", "f1", "estimated_accuracy",
               "confidence_mean", "low_confidence_share", "used")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[timeparse.isoformat(w.start), w.predictions, w.labelled, w.accuracy, w.f1, w.estimated_accuracy,
                 w.confidence_mean, w.low_confidence_share, w.used] for w in (self.baseline, *self.windows)]

    def to_dict(self) -> dict[str, Any]:
        def coverage(c: Coverage | None) -> dict[str, Any] | None:
            return None if c is None else {**dataclasses.asdict(c), "share": c.share}

        return {
            "source": self.source, "labels": self.labels, "model": self.model,
            "baseline_period": self.baseline_window.to_dict(), "current_period": self.current_window.to_dict(),
            "window_seconds": self.window_seconds, "f1_average": self.f1_average, "positive": self.positive,
            "baseline": self.baseline.to_dict(), "current": self.current.to_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "labels_coverage": {"baseline": coverage(self.baseline_coverage),
                                "current": coverage(self.current_coverage)},
            "label_issues": None if self.label_issues is None else dataclasses.asdict(self.label_issues),
            "accuracy_drop": self.accuracy_drop, "f1_drop": self.f1_drop, "p_value": self.p_value,
            "indicators": [dataclasses.asdict(i) for i in self.indicators],
            "verdict": dataclasses.asdict(self.verdict),
            "thresholds": {**dataclasses.asdict(self.config),
                           "low_confidence_threshold": self.low_confidence_threshold},
            "notes": list(self.notes),
        }

    def with_errors(self, errors: list[BackendError]) -> ConceptReport:
        return dataclasses.replace(self, errors=self.errors + tuple(errors))

    def exit_code(self, fail_on: str, exit_zero: bool = False) -> ExitCode:
        threshold = FINDING_ORDER.index(fail_on)
        failing = not exit_zero and any(FINDING_ORDER.index(f.severity) >= threshold for f in self.findings)
        return combine(has_findings=failing, has_backend_errors=bool(self.errors))
