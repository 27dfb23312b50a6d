"""`mlobs dashboard`: the seed's operational dashboard as data. A panel is queries plus the name of a renderer;
the shape of each renderer's numbers is made here (and checked by tests), render/metrics.py only draws them.

A team adds a panel by appending a Panel to PANELS with one of the RENDERERS: for example
`Panel("Tokens/s", "stat", {"value": "sum(rate(tokens_generated_total[{w}]))"}, unit="per_second")`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient, Sample, Series
from mlobs_cli.metrics.common import (MODEL, Cell, Scoped, View, ask, at_times, by_labels, level, number, query_each,
                                     series_points)
from mlobs_cli.metrics.query import choose_step
from mlobs_cli.metrics.summary import unfiltered
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat, parse_duration, prometheus_duration


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: PromQL templates (`{w}`: the dashboard's rate window) and the renderer that shapes and draws them.

    `span` makes the queries range queries over that long before `at` (sparklines); there `{w}` is the window or
    the step, whichever is longer, so the points cover the whole span. `legend` names each series or bar: a label,
    or labels joined by `/` (`instance/gpu_id`); `unit` is per_second, seconds, ratio, percent or count.
    """

    title: str
    renderer: str
    queries: Mapping[str, str]
    unit: str = "count"
    span: str | None = None
    legend: str | None = None
    metric: str | None = None  # catalogue thresholds that colour the value (stat, bars)
    stat: str | None = None


REQUESTS = "rate(inference_requests_total[{w}])"
# the health table's error ratio is the summary's: each version's own where the labels allow (common.Scoped)
ERROR_RATIO = unfiltered("error_ratio")
SPARK_POINTS = 120  # points a sparkline panel asks for: 30 characters wide, 4 points a character
PANELS: tuple[Panel, ...] = (
    Panel("Requests/s", "stat", {"value": f"sum({REQUESTS})"}, "per_second",
          metric="inference_requests_rate", stat="ratio_to_baseline"),
    Panel("P99 Latency", "stat",
          {"value": "histogram_quantile(0.99, sum by (le) (rate(inference_latency_seconds_bucket[{w}])))"},
          "seconds", metric="inference_latency_seconds", stat="p99"),
    Panel("Error Rate", "stat", {"value": f"(sum(rate(inference_errors_total[{{w}}])) or sum({REQUESTS}) * 0)"
                                          f" / sum({REQUESTS})"},
          "ratio", metric="inference_errors_total", stat="ratio_to_requests"),
    Panel("GPU Util", "stat", {"value": "avg(gpu_utilization_percent)"}, "percent",
          metric="gpu_utilization_percent", stat="value"),
    Panel("Request Rate by Model (24h)", "sparklines", {"series": f"sum by (model) ({REQUESTS})"}, "per_second",
          span="24h", legend="model"),
    Panel("Latency Distribution", "distribution", {
        "buckets": "sum by (le) (rate(inference_latency_seconds_bucket[{w}]))",
        **{f"p{q}": f"histogram_quantile(0.{q}, sum by (le) (rate(inference_latency_seconds_bucket[{{w}}])))"
           for q in (50, 95, 99)}}, "seconds"),
    Panel("GPU Memory by Instance", "bars",
          {"value": "gpu_memory_used_bytes / on (instance, gpu_id) gpu_memory_total_bytes"}, "ratio",
          legend="instance/gpu_id", metric="gpu_memory_used_bytes", stat="ratio_to_total"),
    Panel("Request Queue Depth", "sparklines", {"series": "sum(request_queue_depth)"}, "count", span="1h"),
    Panel("Model Health Summary", "health", {
        "up": 'sum by (model, version) (up{model!=""})',
        "replicas": 'count by (model, version) (up{model!=""})',
        "rps": f"sum by (model, version) ({REQUESTS})",
        **ERROR_RATIO,
        "p99": "histogram_quantile(0.99, sum by (le, model, version) (rate(inference_latency_seconds_bucket[{w}])))",
    }),
)


@dataclass(frozen=True, slots=True)
class PanelData:
    panel: Panel
    queries: dict[str, str]  # the PromQL sent
    data: dict[str, Any]  # the renderer's numbers; empty when a query failed
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.panel.title, "renderer": self.panel.renderer, "unit": self.panel.unit,
                "queries": self.queries, "data": self.data, "error": self.error}


@dataclass(frozen=True, slots=True)
class Dashboard(View):
    at: datetime
    window: timedelta
    panels: tuple[PanelData, ...]
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()
    columns: tuple[str, ...] = field(default=("panel", "item", "value", "change"), init=False)

    def rows(self) -> list[list[Any]]:
        """The panels flattened for CSV and Markdown: one row a number a person would read off the dashboard."""
        return [[p.panel.title, item, value, change] for p in self.panels for item, value, change in _items(p)]

    def to_dict(self) -> dict[str, Any]:
        return {"time": isoformat(self.at), "window_seconds": self.window.total_seconds(),
                "panels": [p.to_dict() for p in self.panels], "warnings": list(self.warnings)}


def _items(p: PanelData) -> list[tuple[str, Any, Any]]:
    d = p.data
    if not d:
        return []
    if p.panel.renderer == "stat":
        return [("", d["value"], d["change"])]
    if p.panel.renderer == "sparklines":
        return [(s["name"], s["last"], None) for s in d["series"]]
    if p.panel.renderer == "distribution":
        return [(f"p{q}", d[f"p{q}"], None) for q in (50, 95, 99)]
    if p.panel.renderer == "bars":
        return [(b["name"], b["value"], None) for b in d["bars"]]
    return [(f"{m['model']} {m['version']}", m["health"], None) for m in d["models"]]


# -- the renderers' numbers: (panel, answers of its queries at "now" and "previous" or over its span) -> data -----

def _stat(panel: Panel, now: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    value = _scalar(now["value"])
    cell = Cell(value, _scalar(previous["value"]))
    return {**Cell(cell.value, cell.previous, level(panel.metric, panel.stat, cell)).to_dict(), "ratio": cell.ratio}


def _scalar(samples: list[Sample]) -> float | None:
    return number(samples[0].value) if len(samples) == 1 else None


def _sparklines(panel: Panel, answers: Mapping[str, list[Series]], _: Any) -> dict[str, Any]:
    series = []
    for s in sorted(answers["series"], key=lambda s: _legend(panel, s.labels)):
        values = [number(v) for _, v in s.points]
        present = [v for v in values if v is not None]
        series.append({"name": "/".join(_legend(panel, s.labels)) if panel.legend else "total",
                       "points": series_points(s), "last": values[-1] if values else None,
                       "max": max(present, default=None), "min": min(present, default=None)})
    return {"series": series}


def _legend(panel: Panel, labels: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the panel's legend labels: sorted as a tuple, so `node-a/gpu-1` comes before `node-a10/gpu-0`."""
    return tuple(labels.get(name, "") for name in (panel.legend or "").split("/"))


def _distribution(panel: Panel, now: Mapping[str, list[Sample]], _: Any) -> dict[str, Any]:
    """Cumulative bucket rates -> each bucket's share of requests (the last: above the largest finite bound)."""
    cumulative = sorted((float(s.labels["le"]), number(s.value) or 0.0) for s in now["buckets"]
                         if "le" in s.labels)
    total = cumulative[-1][1] if cumulative else 0.0
    buckets, below, lower = [], 0.0, 0.0
    for le, count in cumulative:
        buckets.append({"lower": lower, "upper": le, "share": (count - below) / total if total else None})
        below, lower = count, le
    return {"buckets": buckets, **{k: _scalar(now[k]) for k in ("p50", "p95", "p99")}}


def _bars(panel: Panel, now: Mapping[str, list[Sample]], _: Any) -> dict[str, Any]:
    bars = []
    for s in sorted(now["value"], key=lambda s: _legend(panel, s.labels)):
        cell = Cell(number(s.value))
        bars.append({"name": "/".join(_legend(panel, s.labels)), "value": cell.value,
                     "level": level(panel.metric, panel.stat, cell)})
    return {"bars": bars}


def _health(panel: Panel, now: Mapping[str, list[Sample]], _: Any) -> dict[str, Any]:
    """Replicas up of all, health, and traffic share a model version; degraded when a replica is down or the
    catalogue's p99 latency or error-rate threshold is crossed, down when no replica is up."""
    up = by_labels(now["up"], ("model", "version"))
    replicas = by_labels(now["replicas"], ("model", "version"))
    rps = by_labels(now["rps"], ("model", "version"))
    errors = Scoped.of(now[name] for name in ERROR_RATIO)
    p99 = by_labels(now["p99"], ("model", "version"))
    total = sum(v for v in rps.values() if v)
    models = []
    for key in sorted(set(replicas) | set(rps)):
        n_up, n_all = up.get(key), replicas.get(key)
        (err, scope), lat = errors.get(*key), p99.get(key)
        reasons = []
        if n_all is not None and n_up is not None and n_up < n_all:
            reasons.append(f"{n_all - n_up:g} of {n_all:g} replicas down")
        if level("inference_errors_total", "ratio_to_requests", Cell(err)):
            reasons.append("error rate over the catalogue threshold" + (" (model-wide)" if scope == MODEL else ""))
        if level("inference_latency_seconds", "p99", Cell(lat)):
            reasons.append("p99 latency over the catalogue threshold")
        health = "down" if n_all and not n_up else "degraded" if reasons else "healthy"
        share = rps.get(key) / total if total and rps.get(key) is not None else None
        models.append({"model": key[0], "version": key[1], "replicas_up": n_up, "replicas": n_all, "health": health,
                       "reasons": reasons, "requests_per_second": rps.get(key), "traffic_share": share,
                       "error_ratio": err, "error_ratio_scope": scope, "latency_p99_seconds": lat})
    return {"models": models}


RENDERERS: dict[str, Callable[[Panel, Any, Any], dict[str, Any]]] = {
    "stat": _stat, "sparklines": _sparklines, "distribution": _distribution, "bars": _bars, "health": _health}


def build(client: PrometheusClient, at: datetime, window: timedelta,
          panels: tuple[Panel, ...] = PANELS) -> Dashboard:
    """Every panel's queries, sent together, shaped by the panel's renderer.

    The instant queries at one time go as one request (common.union), each range query as its own; a panel
    whose request failed shows its error (the dashboard is then partial, exit 3), the others are drawn. A panel's
    instant queries must give instant vectors (wrap a scalar in vector()).

    Raises:
        InputError: The server refused a query (invalid PromQL in a panel).
        BackendUnavailable: Every request failed.
    """
    times = at_times(at)
    sent = []
    instant: dict[str, dict[str, str]] = {"now": {}, "previous": {}}
    calls: dict[Any, Callable[[], Any]] = {}
    for i, panel in enumerate(panels):
        w, over = window, None  # over: (start, step) of a range panel
        if panel.span:
            start = at - parse_duration(panel.span, f"panel {panel.title!r} span")
            step, _ = choose_step(start, at, None, SPARK_POINTS)
            # a rate over less than the step would skip what happens between two points (Grafana's
            # $__rate_interval): a 10-minute outage between two points 15 minutes apart would not show
            w, over = max(window, timedelta(seconds=step)), (start, step)
        promql = {name: q.replace("{w}", prometheus_duration(w)) for name, q in panel.queries.items()}
        sent.append(promql)
        for name, q in promql.items():
            if over:
                calls[i, name] = partial(client.query_range, q, over[0], at, over[1])
            else:
                instant["now"][f"{i}/{name}"] = q
                if panel.renderer == "stat":
                    instant["previous"][f"{i}/{name}"] = q
    calls.update({when: partial(query_each, client, exprs, times[when]) for when, exprs in instant.items() if exprs})
    answers = ask(client, calls)
    found: dict[tuple[int, str, str], Any] = {}  # (panel, query name, now | previous) -> its answer
    for key, answer in answers.values.items():
        if isinstance(key, tuple):  # a range query
            found[(*key, "now")] = answer
            continue
        for name, samples in answer.samples.items():
            i, query = name.split("/", 1)
            found[int(i), query, key] = samples
    shaped = tuple(_panel(i, panel, sent[i], found) for i, panel in enumerate(panels))
    return Dashboard(at, window, shaped, answers.warnings, answers.errors)


def _panel(i: int, panel: Panel, promql: dict[str, str], found: Mapping[tuple[int, str, str], Any]) -> PanelData:
    now = {name: found.get((i, name, "now")) for name in promql}
    previous = {name: found.get((i, name, "previous")) for name in promql}
    if any(v is None for v in now.values()) or (panel.renderer == "stat" and None in previous.values()):
        return PanelData(panel, promql, {}, "a query of this panel failed (see the errors)")
    return PanelData(panel, promql, RENDERERS[panel.renderer](panel, now, previous))
