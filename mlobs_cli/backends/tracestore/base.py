"""The interface every trace store implements, and the plain rows its aggregations answer with.

A store finds one trace's spans (`trace`), and computes, where the spans are put (DuckDB: over the files in place,
or over the traces fetched from a server), the per-stage statistics of many traces (`stages`) and where one
trace's stages rank among a baseline's (`ranks`). The SQL is in `sql.py`, shared by every store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mlobs_cli.logs.query import Window
from mlobs_cli.results import BackendError
from mlobs_cli.trace.spans import Span


@dataclass(frozen=True, slots=True)
class StageRow:
    """One span name over a set of traces; times in nanoseconds, quantiles at the fractions asked for."""

    group: str  # "all" or "slowest"
    name: str
    spans: int
    traces: int  # traces with at least one such span
    duration: tuple[float, ...]
    self_time: tuple[float, ...]
    stage: tuple[float, ...]  # quantiles over traces of the stage's self time summed in each trace
    total_self: float  # summed self time of these spans
    root: bool  # some of these spans are roots (no parent)


@dataclass(frozen=True, slots=True)
class TraceTotals:
    """The traces of one group: how many, their end-to-end latency quantiles and sum (root span durations)."""

    group: str
    traces: int
    without_root: int  # traces in the period with no root span (left out of the shares)
    e2e: tuple[float, ...]
    total: float


@dataclass(frozen=True, slots=True)
class RankRow:
    """One span name of the baseline against one value: how many baseline spans, and the value's percentile rank
    among them (the share below it plus half the share equal to it, so a value equal to every one ranks 0.5)."""

    name: str
    spans: int
    duration_rank: float | None  # None: no baseline spans
    self_rank: float | None
    self_quantiles: tuple[float, ...]


class TraceStore(Protocol):
    name: str  # "files", "jaeger", "tempo": names the backend in errors
    source: str  # as it may be shown: credentials masked

    @property
    def warnings(self) -> list[BackendError]:
        """What was skipped while reading (malformed lines): the result is incomplete."""

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of the trace (32 hex digits); [] when the store has none."""

    def stages(self, window: Window, model: str | None, slowest: float,
               fractions: Sequence[float]) -> tuple[list[TraceTotals], list[StageRow]]:
        """Totals and per-name rows for all traces of the period (roots starting in it) and for the `slowest`
        share of them by end-to-end latency."""

    def ranks(self, window: Window, model: str | None, values: Sequence[tuple[str, int, int]],
              fractions: Sequence[float]) -> list[RankRow]:
        """For each (name, duration, self time): where it ranks among the period's spans of that name."""

    def close(self) -> None: ...
