"""`metrics summary`: one row per model and version, every number from the metrics catalogue, each against its
catalogue threshold and against the same window an hour earlier.

Each column is one PromQL expression (or a few, most specific first), evaluated at `at` and an hour before it; all
of them are sent together. Every column asks `by (model, version)`, and common.Scoped decides from the labels of
its answer whether a number is the version's own or, when no series of its metric carries a `version` (the
catalogue gives `batch_size`, `request_queue_depth` and the GPU gauges only `model`), the whole model's: that cell
says so (scope "model", drawn with ᵐ and a footnote), so a broken canary never hides behind a healthy version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.metrics.common import MODEL, Cell, Scoped, View, ask, at_times, level, query_each, selector
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat, prometheus_duration

# A model loads a few times a day: its p99 over 5 minutes is almost always "no data". Never look at less than this.
LOAD_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the summary: what the catalogue says about it and the PromQL behind it.

    `promql` is a template: `{sel}` takes the --model matcher in braces, `{m}` the same after a comma (inside a
    selector with matchers of its own), `{w}` the window, `{lw}` the model-load window. `fallbacks` answer the rows
    `promql` does not, in order (sent with it, as `<key>.1`, `<key>.2`...).
    """

    key: str  # the JSON and CSV name, with the unit: base units throughout
    title: str  # the table header
    unit: str  # per_second | ratio | seconds | count | percent
    source: str  # the metric a model-wide value lacks the version label of (the footnote names it)
    promql: str
    metric: str | None = None  # the catalogue metric whose thresholds colour the cell
    stat: str | None = None  # ... on this statistic
    fallbacks: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *(f"{self.key}.{i}" for i in range(1, len(self.fallbacks) + 1)))


def _quantile(q: float, family: str, by: str, window: str = "{w}") -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({family}_bucket{{sel}}[{window}])))"


REQUESTS = "sum by ({by}) (rate(inference_requests_total{sel}[{w}]))"
BY_VERSION = REQUESTS.replace("{by}", "model, version")
VERSIONED_ERRORS = 'inference_errors_total{{version!=""{m}}}'
COLUMNS: tuple[Column, ...] = (
    Column("requests_per_second", "req/s", "per_second", "inference_requests_total", BY_VERSION,
           "inference_requests_rate", "ratio_to_baseline"),
    # most specific first: errors counted per version; else 5xx requests per version (zero where requests carry a
    # status and none failed); else the model's errors (a model with requests and no error series has an error
    # rate of 0, not none: hence each `or ... * 0`, limited to where the errors are counted that way)
    Column("error_ratio", "errors", "ratio", "inference_errors_total",
           f"(sum by (model, version) (rate({VERSIONED_ERRORS}[{{w}}])) or {BY_VERSION} * 0"
           f" and on (model) count by (model) ({VERSIONED_ERRORS})) / {BY_VERSION}",
           "inference_errors_total", "ratio_to_requests",
           ('(sum by (model, version) (rate(inference_requests_total{{status=~"5.."{m}}}[{w}])) or sum by (model, '
            'version) (rate(inference_requests_total{{status!=""{m}}}[{w}])) * 0) / ' + BY_VERSION,
            "(sum by (model) (rate(inference_errors_total{sel}[{w}])) or " + REQUESTS.replace("{by}", "model")
            + " * 0) / " + REQUESTS.replace("{by}", "model"))),
    Column("latency_p50_seconds", "p50", "seconds", "inference_latency_seconds",
           _quantile(0.5, "inference_latency_seconds", "model, version")),
    Column("latency_p95_seconds", "p95", "seconds", "inference_latency_seconds",
           _quantile(0.95, "inference_latency_seconds", "model, version")),
    Column("latency_p99_seconds", "p99", "seconds", "inference_latency_seconds",
           _quantile(0.99, "inference_latency_seconds", "model, version"), "inference_latency_seconds", "p99"),
    Column("queue_depth", "queue", "count", "request_queue_depth",
           "sum by (model, version) (request_queue_depth{sel})", "request_queue_depth", "value"),
    Column("batch_size_avg", "batch", "count", "batch_size",
           "sum by (model, version) (rate(batch_size_sum{sel}[{w}]))"
           " / sum by (model, version) (rate(batch_size_count{sel}[{w}]))", "batch_size", "avg"),
    Column("batch_wait_p99_seconds", "wait p99", "seconds", "batch_wait_seconds",
           _quantile(0.99, "batch_wait_seconds", "model, version"), "batch_wait_seconds", "p99"),
    Column("gpu_utilization_percent", "GPU", "percent", "gpu_utilization_percent",
           "avg by (model, version) (gpu_utilization_percent{sel})", "gpu_utilization_percent", "value"),
    # used / total of the fullest GPU a model has memory on: gpu_memory_used_bytes has no model label, so the
    # model comes from gpu_memory_allocated_bytes{gpu_id, model} (the `* 0 + 1` keeps only its labels)
    Column("gpu_memory_used_ratio", "GPU mem", "ratio", "gpu_memory_allocated_bytes",
           "max by (model, version) (gpu_memory_used_bytes / on (instance, gpu_id) gpu_memory_total_bytes"
           " * on (instance, gpu_id) group_right () (gpu_memory_allocated_bytes{sel} * 0 + 1))",
           "gpu_memory_used_bytes", "ratio_to_total"),
    Column("model_load_p99_seconds", "load p99", "seconds", "model_load_seconds",
           _quantile(0.99, "model_load_seconds", "model, version", "{lw}"), "model_load_seconds", "value"),
)


def unfiltered(key: str) -> dict[str, str]:
    """Query name -> PromQL of one column over every model, the window left as `{w}`: what another view (the
    dashboard's health table) asks to get the same number with the same scope."""
    column = next(c for c in COLUMNS if c.key == key)
    fill = {"sel": "", "m": "", "w": "{w}", "lw": "{lw}"}
    return {name: q.format(**fill) for name, q in zip(column.names, (column.promql, *column.fallbacks), strict=True)}


def queries(window: timedelta, model: str | None = None) -> dict[str, str]:
    """Query name (a column key, `<key>.1`... for its fallbacks) -> the PromQL it runs for `window` (and
    `--model`)."""
    w = prometheus_duration(window)
    lw = prometheus_duration(max(window, LOAD_WINDOW))
    sel = selector(model)
    fill = {"sel": "{" + sel + "}" if sel else "", "m": "," + sel if sel else "", "w": w, "lw": lw}
    return {name: q.format(**fill) for c in COLUMNS
            for name, q in zip(c.names, (c.promql, *c.fallbacks), strict=True)}


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str
    version: str | None  # None: only per-model series exist for this model
    cells: dict[str, Cell]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, **{k: c.to_dict() for k, c in self.cells.items()}}


@dataclass(frozen=True, slots=True)
class Summary(View):
    at: datetime
    previous_at: datetime
    window: timedelta
    model: str | None
    models: tuple[ModelRow, ...]
    queries: dict[str, str]  # query name -> PromQL (see queries())
    show_queries: bool = False
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()

    @property
    def columns(self) -> tuple[str, ...]:
        # the scopes last: a spreadsheet built on the value columns keeps its positions
        return ("model", "version", *(k for c in COLUMNS for k in (c.key, f"{c.key}_change")),
                *(f"{c.key}_scope" for c in COLUMNS))

    def rows(self) -> list[list[Any]]:
        return [[r.model, r.version, *(v for c in COLUMNS for v in (r.cells[c.key].value, r.cells[c.key].change)),
                 *(r.cells[c.key].scope for c in COLUMNS)] for r in self.models]

    def to_dict(self) -> dict[str, Any]:
        return {"time": isoformat(self.at), "previous_time": isoformat(self.previous_at),
                "window_seconds": self.window.total_seconds(), "model": self.model,
                "models": [r.to_dict() for r in self.models],
                "units": {c.key: c.unit for c in COLUMNS}, "queries": self.queries, "warnings": list(self.warnings),
                "model_wide": self.model_wide}

    @property
    def model_wide(self) -> dict[str, str]:
        """Column key -> why a versioned row shows the model's number (scope "model") in it, for each such column."""
        return {c.key: f"model-wide: no version label on {c.source}" for c in COLUMNS
                if any(r.version is not None and r.cells[c.key].scope == MODEL for r in self.models)}


def summarize(client: PrometheusClient, at: datetime, window: timedelta, model: str | None = None,
              show_queries: bool = False) -> Summary:
    """Every column of COLUMNS for every model (and version) with requests, inference series or GPU series.

    Args:
        client: The Prometheus client.
        at: The moment summarized; the change is against `at` minus an hour.
        window: The range of every rate and quantile (`5m`).
        model: Only this model.
        show_queries: Whether the table shows the PromQL (JSON always has it).

    Raises:
        InputError: The server refused a query.
        BackendUnavailable: Every query failed.
    """
    promql = queries(window, model)
    times = at_times(at)
    # two requests, sent together: every column now, and every column an hour earlier (see common.query_each)
    answers = ask(client, {when: partial(query_each, client, promql, t) for when, t in times.items()})
    columns = {when: answers.get(when).samples if answers.get(when) else {} for when in times}  # failed: no values
    values = {(c.key, when): Scoped.of(columns[when].get(name) for name in c.names) for c in COLUMNS for when in times}
    rows = []
    for m, v in _row_keys([values[c.key, "now"] for c in COLUMNS]):
        cells = {}
        for c in COLUMNS:
            (value, scope), (previous, _) = values[c.key, "now"].get(m, v), values[c.key, "previous"].get(m, v)
            cell = Cell(value, previous)
            cells[c.key] = Cell(value, previous, level(c.metric, c.stat, cell), scope)
        rows.append(ModelRow(m, v, cells))
    return Summary(at, times["previous"], window, model, tuple(rows), promql, show_queries, answers.warnings,
                   answers.errors)


def _row_keys(columns: list[Scoped]) -> list[tuple[str, str | None]]:
    """(model, version) of every versioned series at `at`, and (model, None) for a model with no versioned one."""
    keys = {k for c in columns for k in c.keys() if k[0]}
    versioned = {m for m, v in keys if v is not None}
    return sorted((k for k in keys if k[1] is not None or k[0] not in versioned), key=lambda r: (r[0], r[1] or ""))
