"""`metrics summary`: one row per model and version, every number from the metrics catalogue, each against its
catalogue threshold and against the same window an hour earlier.

Each column is one PromQL expression, evaluated at `at` and an hour before it; all of them are sent together. A
column whose series carry no `version` label (the catalogue gives `batch_size`, `request_queue_depth`, the GPU
gauges and `inference_errors_total` only `model`) shows the model's value on each of its versions' rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.metrics.common import Cell, View, ask, at_times, by_labels, level, query_each, selector
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat, prometheus_duration

# A model loads a few times a day: its p99 over 5 minutes is almost always "no data". Never look at less than this.
LOAD_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the summary: what the catalogue says about it and the PromQL behind it.

    `promql` is a template: `{sel}` takes the --model matcher, `{w}` the window, `{lw}` the model-load window.
    """

    key: str  # the JSON and CSV name, with the unit: base units throughout
    title: str  # the table header
    unit: str  # per_second | ratio | seconds | count | percent
    by: tuple[str, ...]  # the labels of the answer's series
    promql: str
    metric: str | None = None  # the catalogue metric whose thresholds colour the cell
    stat: str | None = None  # ... on this statistic


def _quantile(q: float, family: str, by: str, window: str = "{w}") -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({family}_bucket{{sel}}[{window}])))"


REQUESTS = "sum by ({by}) (rate(inference_requests_total{sel}[{w}]))"
COLUMNS: tuple[Column, ...] = (
    Column("requests_per_second", "req/s", "per_second", ("model", "version"),
           REQUESTS.replace("{by}", "model, version"), "inference_requests_rate", "ratio_to_baseline"),
    # a model with requests and no error series has an error rate of 0, not none: hence the `or ... * 0`
    Column("error_ratio", "errors", "ratio", ("model",),
           "(sum by (model) (rate(inference_errors_total{sel}[{w}])) or " + REQUESTS.replace("{by}", "model")
           + " * 0) / " + REQUESTS.replace("{by}", "model"), "inference_errors_total", "ratio_to_requests"),
    Column("latency_p50_seconds", "p50", "seconds", ("model", "version"),
           _quantile(0.5, "inference_latency_seconds", "model, version")),
    Column("latency_p95_seconds", "p95", "seconds", ("model", "version"),
           _quantile(0.95, "inference_latency_seconds", "model, version")),
    Column("latency_p99_seconds", "p99", "seconds", ("model", "version"),
           _quantile(0.99, "inference_latency_seconds", "model, version"), "inference_latency_seconds", "p99"),
    Column("queue_depth", "queue", "count", ("model",), "sum by (model) (request_queue_depth{sel})",
           "request_queue_depth", "value"),
    Column("batch_size_avg", "batch", "count", ("model",),
           "sum by (model) (rate(batch_size_sum{sel}[{w}])) / sum by (model) (rate(batch_size_count{sel}[{w}]))",
           "batch_size", "avg"),
    Column("batch_wait_p99_seconds", "wait p99", "seconds", ("model",),
           _quantile(0.99, "batch_wait_seconds", "model"), "batch_wait_seconds", "p99"),
    Column("gpu_utilization_percent", "GPU", "percent", ("model",), "avg by (model) (gpu_utilization_percent{sel})",
           "gpu_utilization_percent", "value"),
    # used / total of the fullest GPU a model has memory on: gpu_memory_used_bytes has no model label, so the
    # model comes from gpu_memory_allocated_bytes{gpu_id, model} (the `* 0 + 1` keeps only its labels)
    Column("gpu_memory_used_ratio", "GPU mem", "ratio", ("model",),
           "max by (model) (gpu_memory_used_bytes / on (instance, gpu_id) gpu_memory_total_bytes"
           " * on (instance, gpu_id) group_right () (gpu_memory_allocated_bytes{sel} * 0 + 1))",
           "gpu_memory_used_bytes", "ratio_to_total"),
    Column("model_load_p99_seconds", "load p99", "seconds", ("model", "version"),
           _quantile(0.99, "model_load_seconds", "model, version", "{lw}"), "model_load_seconds", "value"),
)


def queries(window: timedelta, model: str | None = None) -> dict[str, str]:
    """Column key -> the PromQL it runs for `window` (and `--model`)."""
    w = prometheus_duration(window)
    lw = prometheus_duration(max(window, LOAD_WINDOW))
    sel = selector(model)
    return {c.key: c.promql.format(sel="{" + sel + "}" if sel else "", w=w, lw=lw) for c in COLUMNS}


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
    queries: dict[str, str]  # column key -> PromQL
    show_queries: bool = False
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return ("model", "version", *(k for c in COLUMNS for k in (c.key, f"{c.key}_change")))

    def rows(self) -> list[list[Any]]:
        return [[r.model, r.version, *(v for c in COLUMNS for v in (r.cells[c.key].value, r.cells[c.key].change))]
                for r in self.models]

    def to_dict(self) -> dict[str, Any]:
        return {"time": isoformat(self.at), "previous_time": isoformat(self.previous_at),
                "window_seconds": self.window.total_seconds(), "model": self.model,
                "models": [r.to_dict() for r in self.models],
                "units": {c.key: c.unit for c in COLUMNS}, "queries": self.queries, "warnings": list(self.warnings)}


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
    values = {(c.key, when): by_labels(columns[when].get(c.key), c.by) for c in COLUMNS for when in times}
    rows = []
    for m, v in _row_keys(values):
        cells = {}
        for c in COLUMNS:
            key = (m, v) if c.by == ("model", "version") else (m,)
            cell = Cell(values[c.key, "now"].get(key), values[c.key, "previous"].get(key))
            cells[c.key] = Cell(cell.value, cell.previous, level(c.metric, c.stat, cell))
        rows.append(ModelRow(m, v, cells))
    return Summary(at, times["previous"], window, model, tuple(rows), promql, show_queries, answers.warnings,
                   answers.errors)


def _row_keys(values: dict[tuple[str, str], dict[tuple[str, ...], float | None]]) -> list[tuple[str, str | None]]:
    """(model, version) of every versioned series at `at`, and (model, None) for a model with no versioned one."""
    versioned = {k for c in COLUMNS if c.by == ("model", "version") for k in values[c.key, "now"] if k[0]}
    models = {k[0] for c in COLUMNS if c.by == ("model",) for k in values[c.key, "now"] if k[0]}
    rows = set(versioned) | {(m, None) for m in models - {m for m, _ in versioned}}
    return sorted(rows, key=lambda r: (r[0], r[1] or ""))
