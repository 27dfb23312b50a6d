"""What `mlobs trace` answers: one trace's tree, the stage breakdown of many, one trace against a baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlobs_cli.logs.query import Window
from mlobs_cli.results import BackendError, Finding
from mlobs_cli.trace.spans import SHOWN_ATTRIBUTES
from mlobs_cli.trace.tree import TraceTree

PERCENTILES = (0.5, 0.95, 0.99)


def ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6


@dataclass(frozen=True, slots=True)
class ShowResult:
    source: str
    tree: TraceTree
    request_id: str | None
    errors: tuple[BackendError, ...] = ()
    findings: tuple[Finding, ...] = ()
    columns: tuple[str, ...] = ("span", "service", "depth", "offset_ms", "duration_ms", "self_ms", "critical_ms",
                                "error", "attributes")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[n.span.name, n.span.service, n.depth, ms(n.offset_ns), ms(n.span.duration_ns), ms(n.self_ns),
                 ms(n.critical_ns), n.span.error, _shown(n.span.attributes)] for n in self.tree.nodes]

    def to_dict(self) -> dict[str, Any]:
        t = self.tree
        return {
            "source": self.source, "trace_id": t.trace_id, "request_id": self.request_id,
            "duration_ms": ms(t.duration_ns), "root_span_id": t.root_span_id,
            "spans": [{"span_id": n.span.span_id, "parent_span_id": n.span.parent_id or None, "name": n.span.name,
                       "service": n.span.service, "depth": n.depth, "offset_ms": ms(n.offset_ns),
                       "duration_ms": ms(n.span.duration_ns), "self_ms": ms(n.self_ns),
                       "critical_ms": ms(n.critical_ns), "skew_ms": ms(n.skew_ns), "error": n.span.error,
                       "attributes": {k: v for k, v in n.span.attributes.items()}} for n in t.nodes],
            "critical_path": [{"span_id": s.span_id, "name": s.name, "from_ms": ms(s.start_ns), "to_ms": ms(s.end_ns)}
                              for s in t.critical_path],
            "critical_path_rules": list(t.path_rules), "problems": list(t.problems),
        }


def _shown(attributes: Any) -> str:
    return " ".join(f"{k}={attributes[k]}" for k in SHOWN_ATTRIBUTES if k in attributes)


@dataclass(frozen=True, slots=True)
class Stage:
    """One span name over a group of traces; times in ms. Shares: the stage's pX self time (summed within each
    trace) over the pX end-to-end latency; time_share: its summed self time over the summed latency."""

    name: str
    spans: int
    traces: int
    duration_ms: tuple[float, ...]
    self_ms: tuple[float, ...]
    share_p50: float | None
    share_p99: float | None
    time_share: float | None
    root: bool  # the request's own span (no parent): never the dominant stage

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "spans": self.spans, "traces": self.traces,
                "duration_ms": dict(zip(("p50", "p95", "p99"), self.duration_ms)),
                "self_ms": dict(zip(("p50", "p95", "p99"), self.self_ms)),
                "share_p50": self.share_p50, "share_p99": self.share_p99, "time_share": self.time_share,
                "root": self.root}


@dataclass(frozen=True, slots=True)
class Group:
    name: str  # "all" or "slowest"
    traces: int
    without_root: int
    e2e_ms: tuple[float, ...]  # p50, p95, p99 of the root spans' durations
    stages: tuple[Stage, ...]  # by time share, largest first

    @property
    def dominant(self) -> Stage | None:
        """The stage with the largest share of the p99 latency, leaving out the root's own time."""
        inner = [s for s in self.stages if s.share_p99 is not None and not s.root]
        return max(inner, key=lambda s: s.share_p99 or 0.0, default=None)

    def to_dict(self) -> dict[str, Any]:
        dominant = self.dominant
        return {"group": self.name, "traces": self.traces, "traces_without_root": self.without_root,
                "e2e_ms": dict(zip(("p50", "p95", "p99"), self.e2e_ms)),
                "dominant_stage": dominant.name if dominant else None,
                "stages": [s.to_dict() for s in self.stages]}


@dataclass(frozen=True, slots=True)
class BreakdownResult:
    source: str
    window: Window
    model: str | None
    slowest: float
    groups: tuple[Group, ...]
    errors: tuple[BackendError, ...] = ()
    findings: tuple[Finding, ...] = ()
    columns: tuple[str, ...] = ("group", "span", "spans", "p50_ms", "p95_ms", "p99_ms", "self_p50_ms",
                                "self_p95_ms", "self_p99_ms", "share_p50", "share_p99", "time_share")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[g.name, s.name, s.spans, *s.duration_ms, *s.self_ms, s.share_p50, s.share_p99, s.time_share]
                for g in self.groups for s in g.stages]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "window": self.window.to_dict(), "model": self.model,
                "slowest": self.slowest, "groups": [g.to_dict() for g in self.groups]}


@dataclass(frozen=True, slots=True)
class StageCheck:
    """One span of the trace against the baseline's spans of that name."""

    span_id: str
    name: str
    duration_ms: float
    self_ms: float
    baseline_spans: int
    duration_rank: float | None  # percentile rank among the baseline's durations (base.RankRow)
    self_rank: float | None
    baseline_self_ms: tuple[float, ...]  # p50, p99, p99.9 of the baseline's self times
    verdict: str  # "abnormal", "normal", "fast", "no baseline"

    def to_dict(self) -> dict[str, Any]:
        return {"span_id": self.span_id, "name": self.name, "duration_ms": self.duration_ms, "self_ms": self.self_ms,
                "baseline_spans": self.baseline_spans, "duration_rank": self.duration_rank,
                "self_rank": self.self_rank,
                "baseline_self_ms": dict(zip(("p50", "p99", "p99.9"), self.baseline_self_ms)),
                "verdict": self.verdict}


@dataclass(frozen=True, slots=True)
class CompareResult:
    source: str
    trace_id: str
    baseline: Window
    duration_ms: float | None
    checks: tuple[StageCheck, ...]
    problems: tuple[str, ...]
    findings: tuple[Finding, ...]
    errors: tuple[BackendError, ...] = ()
    columns: tuple[str, ...] = ("span", "duration_ms", "self_ms", "baseline_spans", "self_rank",
                                "baseline_self_p50_ms", "baseline_self_p99_ms", "verdict")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        return [[c.name, c.duration_ms, c.self_ms, c.baseline_spans, c.self_rank,
                 *(c.baseline_self_ms[:2] or (None, None)), c.verdict] for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "trace_id": self.trace_id, "baseline": self.baseline.to_dict(),
                "duration_ms": self.duration_ms, "stages": [c.to_dict() for c in self.checks],
                "problems": list(self.problems)}
