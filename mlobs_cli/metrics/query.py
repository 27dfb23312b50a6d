"""`metrics query`: one PromQL expression, at one moment or over a range, as typed results."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient, Sample, Series
from mlobs_cli.errors import InputError
from mlobs_cli.metrics.common import View, ask, number, series_points, utc
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat

MAX_POINTS = 11_000  # Prometheus refuses a range query with more points a series (its `query_range` limit)
DEFAULT_POINTS = 250  # points a series when no --step is given: a sparkline's worth, and a light answer
# Steps a person would pick: a span that is a whole number of them puts the last point exactly at the end, and a
# step that is a multiple of the scrape interval evaluates where the samples are.
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def choose_step(start: datetime, end: datetime, step: float | None,
                points: int = DEFAULT_POINTS) -> tuple[float, str | None]:
    """The step of a range query: `step` if given and allowed, else the first of NICE_STEPS giving at most
    `points` points; never finer than MAX_POINTS points a series allows. Returns the step and a note when `step`
    was widened.

    Raises:
        InputError: `end` is not after `start`.
    """
    span = (end - start).total_seconds()
    if span <= 0:
        raise InputError("--end must be after --start")
    # a series has span / step + 1 points, both ends included: at least span / (MAX_POINTS - 1) a step, rounded up
    # to the whole millisecond Prometheus steps by
    least = math.ceil(span / (MAX_POINTS - 1) * 1000) / 1000
    if step is None:
        wanted = span / (points - 1)
        nice = next((float(n) for n in NICE_STEPS if n >= wanted), 86400.0 * math.ceil(wanted / 86400))
        return max(least, nice), None
    if step < least:
        return least, (f"--step {step:g}s over {span:g}s would exceed {MAX_POINTS:,} points a series; "
                       f"using {least:g}s")
    return step, None


def _label_columns(label_sets: list[dict[str, str]]) -> tuple[str, ...]:
    names = {n for labels in label_sets for n in labels}
    return tuple(sorted(names, key=lambda n: (n != "__name__", n)))


@dataclass(frozen=True, slots=True)
class InstantResult(View):
    """The instant vector of one query at one moment."""

    query: str
    at: datetime | None  # the evaluation time asked for; None: the server's now
    samples: tuple[Sample, ...]
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return _label_columns([s.labels for s in self.samples])

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.labels, "value", "time")

    def rows(self) -> list[list[Any]]:
        names = self.labels
        return [[*(s.labels.get(n, "") for n in names), number(s.value), isoformat(utc(s.time))]
                for s in self.samples]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "time": isoformat(self.at) if self.at else None, "result_type": "vector",
                "result": [{"labels": s.labels, "value": number(s.value), "time": isoformat(utc(s.time))}
                           for s in self.samples],
                "warnings": list(self.warnings)}


@dataclass(frozen=True, slots=True)
class RangeResult(View):
    """Every series of one query from start to end, every `step` seconds."""

    query: str
    start: datetime
    end: datetime
    step: float
    series: tuple[Series, ...]
    note: str | None = None  # why the step is not the one asked for
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return _label_columns([s.labels for s in self.series])

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.labels, "time", "value")

    def rows(self) -> list[list[Any]]:
        """One row a point (long format), series after series."""
        names = self.labels
        return [[*(s.labels.get(n, "") for n in names), isoformat(utc(t)), number(v)]
                for s in self.series for t, v in s.points]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "start": isoformat(self.start), "end": isoformat(self.end), "step": self.step,
                "result_type": "matrix", "note": self.note, "warnings": list(self.warnings),
                "result": [{"labels": s.labels, "points": series_points(s)} for s in self.series]}


def instant(client: PrometheusClient, promql: str, at: datetime | None) -> InstantResult:
    """Evaluate `promql` at `at`.

    Raises:
        InputError: The server refused the expression (its message), or it is a range vector.
        BackendUnavailable: The server cannot be reached.
    """
    answers = ask(client, {"q": partial(client.query, promql, at)})
    return InstantResult(promql, at, tuple(answers.get("q")), answers.warnings, answers.errors)


def range_(client: PrometheusClient, promql: str, start: datetime, end: datetime,
           step: float | None) -> RangeResult:
    """Evaluate `promql` from `start` to `end`; the step as `choose_step` picks it.

    Raises:
        InputError: The server refused the expression, or end is not after start.
        BackendUnavailable: The server cannot be reached.
    """
    chosen, note = choose_step(start, end, step)
    answers = ask(client, {"q": partial(client.query_range, promql, start, end, chosen)})
    return RangeResult(promql, start, end, chosen, tuple(answers.get("q")), note, answers.warnings,
                       answers.errors)
