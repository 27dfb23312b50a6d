"""What every metrics view shares: a value with its change and threshold level, the catalogue's thresholds, and the
answer of a set of concurrent queries turned into values and the errors that make a view partial."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from mlobs_cli import catalogue
from mlobs_cli.backends.prometheus import PrometheusClient, QueryFailed, Sample, Series
from mlobs_cli.errors import BackendUnavailable, ExitCode, combine
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat

# The seed compares a dashboard's numbers with "the same window an hour earlier" (its ▲/▼).
COMPARE_OFFSET = timedelta(hours=1)
# Catalogue levels by how loud a cell is drawn: alert red, the others (warn, investigate, scale_up) yellow.
LEVEL_RANK = {"alert": 2, "warn": 1, "investigate": 1, "scale_up": 1}


def number(value: float | None) -> float | None:
    """A sample's value as a view keeps it: NaN (histogram_quantile over no requests, 0/0) is no value."""
    return None if value is None or math.isnan(value) else value


@dataclass(frozen=True, slots=True)
class Cell:
    """One number of a view, with the same number an hour earlier and the catalogue level it crosses."""

    value: float | None
    previous: float | None = None
    level: str | None = None  # a catalogue level ("warn", "alert", ...) the value crosses, or None
    scope: str | None = None  # VERSION or MODEL: what the value is of (Scoped.get); None without a value

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def ratio(self) -> float | None:
        """value / previous: what a rate's ▲/▼ shows, and the catalogue's `ratio_to_baseline`."""
        if self.value is None or not self.previous:
            return None
        return self.value / self.previous

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "previous": self.previous, "change": self.change, "level": self.level,
                "scope": self.scope}


def level(metric: str | None, stat: str | None, cell: Cell) -> str | None:
    """The loudest catalogue level the cell crosses for `metric`'s thresholds on `stat`, or None.

    A `ratio_to_baseline` threshold compares the value with the previous window's (the baseline here)."""
    if metric is None or stat is None:
        return None
    entry = catalogue.load().get(metric)
    observed = cell.ratio if stat == "ratio_to_baseline" else cell.value
    if entry is None or observed is None:
        return None
    crossed = [t.level for t in entry.thresholds if t.stat == stat and t.crossed(observed)]
    return max(crossed, key=LEVEL_RANK.__getitem__, default=None)


def selector(model: str | None) -> str:
    """The matcher a `--model` adds inside a selector's braces (a PromQL string: JSON's escapes are Go's)."""
    return "" if model is None else f"model={json.dumps(model)}"


def at_times(at: datetime) -> dict[str, datetime]:
    return {"now": at, "previous": at - COMPARE_OFFSET}


class View:
    """What every Prometheus view result shares: it judges nothing (exit 0), and it is complete, else exit 3, as
    long as no query failed (`errors`, a field of each result)."""

    __slots__ = ()
    errors: tuple[BackendError, ...]

    @property
    def complete(self) -> bool:
        return not self.errors

    def exit_code(self) -> ExitCode:
        return combine(has_findings=False, has_backend_errors=bool(self.errors))


@dataclass(frozen=True, slots=True)
class Answers:
    """The answers of one view's concurrent queries, and what went wrong with the others."""

    values: Mapping[Any, Any]
    errors: tuple[BackendError, ...]
    warnings: tuple[str, ...]

    def get(self, key: Any) -> Any:
        """The answer of `key`, or None if that query failed (listed in `errors`)."""
        return self.values.get(key)


def ask(client: PrometheusClient, calls: Mapping[Any, Any]) -> Answers:
    """Send `calls` (key -> a call of `client`) together; a failed query becomes a BackendError of the view, and so
    does each reason its answers may be incomplete (client.incomplete: a partial answer, a warning), so the view is
    marked incomplete (exit 3).

    Raises:
        InputError: The server refused a query (invalid PromQL).
        BackendUnavailable: Every query failed (the server is down, refuses our credentials, or hangs).
    """
    # the live dashboard reuses one client for every refresh: each view shows its own requests' warnings and
    # partial answers, not every one since the client opened
    client.warnings.clear()
    client.partial.clear()
    results = client.gather(calls)
    values = {k: v for k, v in results.items() if not isinstance(v, BackendUnavailable)}
    errors = [str(e) for e in results.values() if isinstance(e, BackendUnavailable)]
    errors += [m for v in values.values() if isinstance(v, Each) for m in v.failures]
    found = [BackendError(client.name, m) for m in dict.fromkeys(errors + client.incomplete)]
    return Answers(values, tuple(found), tuple(client.warnings))


QUERY_LABEL = "mlobs_query"  # names, in a union's answer, the expression each series came from


def union(exprs: Mapping[str, str]) -> str:
    """One PromQL expression answering all of `exprs` (name -> instant-vector expression), each series labelled
    with its name: `label_replace(A, "mlobs_query", "a", "", "") or label_replace(B, ...)`.

    A view's instant queries at one time go as one request: each costs the client ~1 ms of CPU (httpx, JSON),
    which threads share under the GIL, and a round trip, which a VPN at 3 a.m. makes 50 ms. The server still
    evaluates every expression, and the PromQL shown to the user (--show-queries) is each expression alone.
    """
    return " or ".join(f"label_replace({q}, {json.dumps(QUERY_LABEL)}, {json.dumps(name)}, \"\", \"\")"
                       for name, q in exprs.items())


@dataclass(frozen=True, slots=True)
class Each:
    """What query_each got: each expression's samples (None for one the server could not evaluate), and the
    server's messages for those."""

    samples: dict[str, list[Sample] | None]
    failures: tuple[str, ...] = ()


def query_each(client: PrometheusClient, exprs: Mapping[str, str], at: datetime) -> Each:
    """Every expression of `exprs` (name -> PromQL) at `at`, in one request: their union. When the server cannot
    evaluate the union because one of them fails on its data (QueryFailed: many-to-many matching, duplicate
    series), each is sent alone, together, so that only the failing ones are missing from the view."""
    try:
        return Each(split(client.query(union(exprs), at), exprs))
    except QueryFailed:
        alone = client.gather({name: partial(client.query, q, at) for name, q in exprs.items()})
    return Each({name: None if isinstance(r, BackendUnavailable) else r for name, r in alone.items()},
                tuple(dict.fromkeys(str(r) for r in alone.values() if isinstance(r, BackendUnavailable))))


def split(samples: list[Sample], names: Iterable[str]) -> dict[str, list[Sample]]:
    """The answer of `union(exprs)` back into each expression's samples, without the label naming it."""
    out: dict[str, list[Sample]] = {name: [] for name in names}
    for s in samples:
        labels = dict(s.labels)
        name = labels.pop(QUERY_LABEL, None)
        if name not in out:  # Prometheus keeps label_replace's label: a server that drops it is not PromQL's
            raise BackendUnavailable(f"the server answered a union of queries with a series not labelled by "
                                     f"{QUERY_LABEL} as asked ({_shown(s.labels)}): not a PromQL API, or it "
                                     "rewrites answers")
        out[name].append(Sample(labels, s.time, s.value))
    return out


def _shown(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(labels.items())[:5]) + "}"


def by_labels(samples: list[Sample] | None, labels: tuple[str, ...]) -> dict[tuple[str, ...], float | None]:
    """Samples keyed by the values of `labels` ("" for a label a sample lacks)."""
    return {tuple(s.labels.get(n, "") for n in labels): number(s.value) for s in samples or ()}


def series_points(series: Series) -> list[dict[str, Any]]:
    return [{"time": isoformat(utc(t)), "value": number(v)} for t, v in series.points]


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


VERSION, MODEL = "version", "model"


def scope_of(labels: Mapping[str, str]) -> str | None:
    """What a series' number is of, from the labels it carries: a version's (VERSION), a whole model's (MODEL: no
    `version`, the metric has none), or neither (None: not about a model). Every view that shows a number on a
    version's row asks this, so none shows a model's number as a version's unmarked."""
    if labels.get("version"):
        return VERSION
    return MODEL if labels.get("model") else None


@dataclass(frozen=True, slots=True)
class Scoped:
    """One column's answers keyed by what each series is of, decided from the labels it carries: a series with a
    `version` label is that version's number, one with only `model` is the whole model's.

    A column asks `by (model, version)`, so the answer itself says whether its metric carries versions; a column
    with several expressions (the error ratio: versioned errors, errors by status, model-wide errors) lists them
    most specific first, and the first to answer a key wins."""

    versioned: Mapping[tuple[str, str], float | None]
    model_wide: Mapping[str, float | None]

    @classmethod
    def of(cls, answers: Iterable[list[Sample] | None]) -> Scoped:
        versioned: dict[tuple[str, str], float | None] = {}
        model_wide: dict[str, float | None] = {}
        for samples in answers:
            for s in samples or ():
                if scope_of(s.labels) == VERSION:
                    versioned.setdefault((s.labels.get("model", ""), s.labels["version"]), number(s.value))
                else:
                    model_wide.setdefault(s.labels.get("model", ""), number(s.value))
        return cls(versioned, model_wide)

    def keys(self) -> set[tuple[str, str | None]]:
        """(model, version) of every versioned series, and (model, None) for each model-wide one."""
        return set(self.versioned) | {(m, None) for m in self.model_wide}

    def get(self, model: str, version: str | None) -> tuple[float | None, str | None]:
        """The value for a row and its scope: the version's own, else (only when none of the model's series in
        this column carries a version) the model's, marked MODEL; (None, None) when there is neither."""
        if version and (model, version) in self.versioned:
            return self.versioned[model, version], VERSION
        if any(m == model for m, _ in self.versioned) or model not in self.model_wide:
            return None, None
        return self.model_wide[model], MODEL
