"""What `mlobs experiment status` and `mlobs experiment list` answer: frozen results, rendered by
render/experiment.py; `-o json` carries every input count, so a deploy pipeline can act on the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlobs_cli.errors import ExitCode, combine
from mlobs_cli.results import BackendError, Finding
from mlobs_cli.timeparse import isoformat

# verdicts, as -o json spells them
KEEP_RUNNING, PROMOTE, ROLL_BACK, INVALID = "keep_running", "promote", "roll_back", "invalid"


@dataclass(frozen=True, slots=True)
class VariantCounts:
    """What the stores say of one variant over the window: counts, and the guardrail metrics where known."""

    name: str
    samples: int
    conversions: int
    revenue: float | None = None
    p99_latency_s: float | None = None
    error_rate: float | None = None
    guardrail_source: str | None = None  # "logs" or "prometheus": where latency and errors came from


@dataclass(frozen=True, slots=True)
class Look:
    """The counts at one earlier moment of the window, cumulative from its start: variant -> (samples,
    conversions). The always-valid p-value is the running minimum over the looks."""

    at: Any  # datetime
    variants: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, Any]:
        return {"at": isoformat(self.at), "variants": {k: {"samples": n, "conversions": c}
                                                       for k, (n, c) in sorted(self.variants.items())}}


@dataclass(frozen=True, slots=True)
class Variant:
    counts: VariantCounts
    role: str  # control | treatment
    share: float  # of the experiment's samples
    expected_share: float | None  # from the split, when one is known

    @property
    def rate(self) -> float:
        return self.counts.conversions / self.counts.samples

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {"name": c.name, "role": self.role, "samples": c.samples, "conversions": c.conversions,
                "conversion_rate": self.rate, "share": self.share, "expected_share": self.expected_share,
                "revenue": c.revenue, "revenue_per_sample": None if c.revenue is None else c.revenue / c.samples,
                "p99_latency_seconds": c.p99_latency_s, "error_rate": c.error_rate,
                "guardrail_source": c.guardrail_source}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment against the control."""

    treatment: str
    relative_lift: float | None  # (p_t - p_c) / p_c; None when the control never converts
    z: float
    p_value: float  # fixed-horizon, two-sided, pooled SE
    p_value_always_valid: float  # mSPRT: what the decision uses
    direction: int  # +1 treatment converts more, -1 less, 0 equal: at the look where the evidence was strongest
    alpha: float  # Bonferroni-corrected level of this comparison
    needed_control: float | None  # samples to detect the observed (or --mde) difference at power 0.8
    needed_treatment: float | None
    days_left: float | None  # at the current traffic rate; 0 when enough; None when no difference to detect
    guardrail_breaches: tuple[str, ...]

    @property
    def significant(self) -> bool:
        return self.p_value_always_valid < self.alpha

    @property
    def better(self) -> bool:
        return self.significant and self.direction > 0

    @property
    def worse(self) -> bool:
        return self.significant and self.direction < 0

    def to_dict(self) -> dict[str, Any]:
        return {"treatment": self.treatment, "relative_lift": self.relative_lift, "z": self.z,
                "p_value": self.p_value, "p_value_always_valid": self.p_value_always_valid, "alpha": self.alpha,
                "significant": self.significant, "samples_needed": {"control": self.needed_control,
                                                                    "treatment": self.needed_treatment},
                "days_left": self.days_left, "guardrail_breaches": list(self.guardrail_breaches)}


@dataclass(frozen=True, slots=True)
class Srm:
    split: tuple[float, ...] | None  # expected shares, in the order of the variants; None: no split known
    chi2: float | None
    p_value: float | None
    mismatch: bool

    def to_dict(self) -> dict[str, Any]:
        return {"expected_split": None if self.split is None else list(self.split), "chi2": self.chi2,
                "p_value": self.p_value, "mismatch": self.mismatch}


@dataclass(frozen=True, slots=True)
class ExperimentStatus:
    experiment: str
    start: Any  # datetime
    end: Any
    variants: tuple[Variant, ...]  # the control first
    comparisons: tuple[Comparison, ...]
    srm: Srm
    verdict: str
    reason: str
    mixture_variance: float
    mde: float | None
    findings: tuple[Finding, ...]
    errors: tuple[BackendError, ...]
    warnings: tuple[str, ...] = ()
    source: str = "prometheus"
    looks: tuple[Look, ...] = ()

    columns = ("variant", "role", "samples", "share", "conversions", "rate", "p99_ms", "error_rate", "lift",
               "p_value", "p_always_valid", "needed")

    @property
    def complete(self) -> bool:
        return not self.errors

    @property
    def control(self) -> Variant:
        return self.variants[0]

    def exit_code(self) -> ExitCode:
        return combine(has_findings=self.verdict in (INVALID, ROLL_BACK), has_backend_errors=bool(self.errors))

    def rows(self) -> list[list[Any]]:
        by_name = {c.treatment: c for c in self.comparisons}
        out = []
        for v in self.variants:
            c = by_name.get(v.counts.name)
            ms = None if v.counts.p99_latency_s is None else v.counts.p99_latency_s * 1000
            out.append([v.counts.name, v.role, v.counts.samples, v.share, v.counts.conversions, v.rate, ms,
                        v.counts.error_rate, c and c.relative_lift, c and c.p_value, c and c.p_value_always_valid,
                        c and c.needed_treatment])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "window": {"from": isoformat(self.start), "to": isoformat(self.end)},
                "control": self.control.counts.name, "variants": [v.to_dict() for v in self.variants],
                "comparisons": [c.to_dict() for c in self.comparisons], "srm": self.srm.to_dict(),
                "verdict": self.verdict, "reason": self.reason, "decision_uses": "p_value_always_valid",
                "multiple_comparisons": "bonferroni", "msprt_mixture_variance": self.mixture_variance,
                "mde": self.mde, "looks": [look.to_dict() for look in self.looks]}


@dataclass(frozen=True, slots=True)
class ExperimentSeen:
    experiment: str
    variants: tuple[tuple[str, int], ...]  # (variant, samples over the window), most samples first
    first_seen: Any  # datetime or None
    source: str

    def age(self, at: Any) -> float | None:
        """Seconds from the first sample seen to `at`."""
        return None if self.first_seen is None else (at - self.first_seen).total_seconds()

    def to_dict(self, at: Any) -> dict[str, Any]:
        total = sum(n for _, n in self.variants)
        return {"experiment": self.experiment, "source": self.source, "age_seconds": self.age(at),
                "first_seen": None if self.first_seen is None else isoformat(self.first_seen),
                "variants": [{"name": v, "samples": n, "share": n / total if total else None}
                             for v, n in self.variants]}


@dataclass(frozen=True, slots=True)
class ExperimentList:
    start: Any
    end: Any
    experiments: tuple[ExperimentSeen, ...]
    errors: tuple[BackendError, ...]
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    source: str = "prometheus"

    columns = ("experiment", "variants", "split", "samples", "first_seen", "age", "source")

    @property
    def complete(self) -> bool:
        return not self.errors

    def exit_code(self) -> ExitCode:
        return combine(has_findings=False, has_backend_errors=bool(self.errors))

    def rows(self) -> list[list[Any]]:
        out = []
        for e in self.experiments:
            total = sum(n for _, n in e.variants)
            split = "/".join(f"{100 * n / total:.3g}" for _, n in e.variants) if total else ""
            age = e.age(self.end)
            out.append([e.experiment, ",".join(v for v, _ in e.variants), split, total,
                        None if e.first_seen is None else isoformat(e.first_seen),
                        None if age is None else _age(age), e.source])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"window": {"from": isoformat(self.start), "to": isoformat(self.end)},
                "experiments": [e.to_dict(self.end) for e in self.experiments]}


def _age(seconds: float) -> str:
    """`3d 4h`, `5h 12m`, `7m`: how long an experiment has run, to the unit that matters."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"
