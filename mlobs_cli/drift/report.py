"""The typed result of `drift compare`: one FeatureDrift per compared feature, and the report around them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mlobs_cli.drift.thresholds import FAIL_ON_LEVELS, DriftConfig
from mlobs_cli.errors import ExitCode, combine
from mlobs_cli.results import BackendError, Finding

STATUS_ORDER = ("ok", "watch", "alert")
SEVERITY_ORDER = ("none", "medium", "high")
FINDING_ORDER = FAIL_ON_LEVELS  # low (watch signals) < medium < high (alerts)


@dataclass(frozen=True, slots=True)
class Bin:
    """One bin of a feature's distribution, for plots: a label and both samples' shares."""

    label: str
    ref_share: float
    cur_share: float


@dataclass(frozen=True, slots=True)
class NewCategory:
    name: str
    share: float  # of the current sample's non-missing values


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Every statistic of one feature; None where it does not apply to the kind or cannot be computed."""

    name: str
    kind: str  # numerical | categorical
    n_ref: int  # non-missing values compared
    n_cur: int
    missing_ref: float  # share of rows with no usable value
    missing_cur: float
    psi: float | None = None
    ks_stat: float | None = None
    ks_pvalue: float | None = None
    js_divergence: float | None = None
    js_distance: float | None = None
    wasserstein: float | None = None
    wasserstein_norm: float | None = None
    chi2_stat: float | None = None
    chi2_pvalue: float | None = None
    out_of_range: float | None = None
    new_categories: tuple[NewCategory, ...] | None = None
    status: str = "ok"
    alert: bool = False
    severity: str = "none"
    reasons: tuple[str, ...] = ()  # why the status is what it is, in words
    note: str | None = None  # an edge case the user should know about
    bins: tuple[Bin, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "bins"}
        if self.new_categories is not None:
            data["new_categories"] = [{"name": c.name, "share": c.share} for c in self.new_categories]
        data["reasons"] = list(self.reasons)
        return data

    @property
    def sort_key(self) -> tuple:
        return (-SEVERITY_ORDER.index(self.severity), -STATUS_ORDER.index(self.status), -(self.psi or 0.0), self.name)


@dataclass(frozen=True, slots=True)
class NotCompared:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class SampleInfo:
    role: str
    source: str  # what the user gave
    files: tuple[str, ...]
    rows: int


@dataclass(frozen=True, slots=True)
class DriftReport:
    reference: SampleInfo
    current: SampleInfo
    features: tuple[FeatureDrift, ...]
    not_compared: tuple[NotCompared, ...]
    config: DriftConfig
    findings: tuple[Finding, ...]
    errors: tuple[BackendError, ...] = ()

    columns = ("feature", "kind", "status", "severity", "psi", "ks_stat", "ks_pvalue", "js_divergence",
               "wasserstein_norm", "chi2_pvalue", "out_of_range", "missing_ref", "missing_cur", "n_ref", "n_cur")

    @property
    def complete(self) -> bool:
        return not self.errors

    @property
    def alerts(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.alert)

    def feature(self, name: str) -> FeatureDrift | None:
        return next((f for f in self.features if f.name == name), None)

    def rows(self) -> list[list[Any]]:
        return [[f.name if c == "feature" else f.kind if c == "kind" else getattr(f, c) for c in self.columns]
                for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": dataclasses.asdict(self.reference),
            "current": dataclasses.asdict(self.current),
            "features": [f.to_dict() for f in self.features],
            "alerts": [{"feature": f.name, "severity": f.severity, "psi": f.psi, "ks_stat": f.ks_stat,
                        "ks_pvalue": f.ks_pvalue, "reasons": list(f.reasons)} for f in self.alerts],
            "not_compared": [dataclasses.asdict(n) for n in self.not_compared],
            "thresholds": dataclasses.asdict(self.config),
        }

    def with_errors(self, errors: list[BackendError]) -> DriftReport:
        return dataclasses.replace(self, errors=self.errors + tuple(errors))

    def exit_code(self, fail_on: str, exit_zero: bool = False) -> ExitCode:
        threshold = FINDING_ORDER.index(fail_on)
        failing = not exit_zero and any(FINDING_ORDER.index(f.severity) >= threshold for f in self.findings)
        return combine(has_findings=failing, has_backend_errors=bool(self.errors))
