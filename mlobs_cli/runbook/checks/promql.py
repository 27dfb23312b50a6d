"""`kind: promql`: a PromQL query at the walk's time, or over a lookback summarised per series.

An instant query gives one row per sample with `value`. With `range: 2h` the query runs over the two hours before
the walk's time (`step`, default range/120, at least 15 s) and each series becomes one row with `value` (the last
point), `first`, `min`, `max`, `avg`, `change` (last - first), `first_seen` and `last_seen` (Unix seconds), and,
with `crossing: EXPR`, `crossed_at`: when the last run of points above that threshold began (the first window
where, say, p99 crossed the SLO). NaN points (a histogram_quantile over no requests) are no data, not numbers.
An empty answer because the server has no series at all of a metric the query needs is "not collected here"
(runbook/collected.py), not "no data".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import promql_parser

from mlobs_cli.alerts.promql import MAX_DEPTH, too_deep
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, NOT_COLLECTED, OK, Context, Evidence, Row
from mlobs_cli.runbook.collected import absent_metrics
from mlobs_cli.timeparse import parse_duration

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "promql"
TEMPLATES = ("query", "range")
KEYS = ("query", "range", "step", "crossing")
ROW_EXPRESSIONS = ("crossing",)
INSTANT_FIELDS = ("value",)
RANGE_FIELDS = ("value", "first", "min", "max", "avg", "change", "first_seen", "last_seen", "crossed_at")
MIN_STEP = 15.0
POINTS = 120


def fields(check: Check) -> tuple[str, ...]:
    return RANGE_FIELDS if check.spec.get("range") else INSTANT_FIELDS


def validate(check: Check) -> list[tuple[str, str]]:
    problems = []
    if "query" not in check.spec:
        problems.append(("kind", "a promql check needs `query`"))
    elif "query" in check.samples and too_deep(check.samples["query"]):  # the parser would overflow its stack
        problems.append(("query", f"the query nests more than {MAX_DEPTH} operators and brackets deep"))
    elif "query" in check.samples:  # not when its template names an undefined variable: that is the problem
        try:
            promql_parser.parse(check.samples["query"])
        except ValueError as e:
            problems.append(("query", f"invalid PromQL ({' '.join(str(e).split())}) in {check.samples['query']!r}"))
    if "range" in check.samples:
        try:
            parse_duration(check.samples["range"], "range")
        except InputError as e:
            problems.append(("range", str(e)))
    for key in ("step", "crossing"):
        if key in check.spec and "range" not in check.spec:
            problems.append((key, f"`{key}` needs `range`"))
    return problems


def run(check: Check, ctx: Context) -> Evidence:
    query = ctx.rendered["query"]
    try:
        client = ctx.prometheus()
        if check.spec.get("range"):
            lookback = parse_duration(ctx.rendered["range"], "range").total_seconds()
            step = (parse_duration(check.spec["step"], "step").total_seconds() if check.spec.get("step")
                    else max(MIN_STEP, lookback / POINTS))
            end = ctx.at.timestamp()
            series = client.query_range(query, end - lookback, end, step)
            rows = tuple(_summary(s.labels, s.points, check, ctx) for s in series)
            rows = tuple(r for r in rows if r is not None)
        else:
            rows = tuple(Row(_labels(s.labels), {"value": _number(s.value)}) for s in client.query(query, ctx.at))
            rows = tuple(r for r in rows if r.values["value"] is not None)
    except (BackendUnavailable, InputError) as e:  # InputError: the server refused the query
        return Evidence(check.id, NAME, ERROR, query, error=str(e), source="prometheus")
    if not rows:
        names = ctx.metric_names()
        absent = absent_metrics(query, names) if names is not None else ()
        if absent:
            return Evidence(check.id, NAME, NOT_COLLECTED, query, source="prometheus", absent=absent,
                            digest=f"not collected here: no series of {', '.join(absent)} on the server")
        return Evidence(check.id, NAME, NO_DATA, query, digest="no data", source="prometheus")
    return Evidence(check.id, NAME, OK, query, rows, source="prometheus", digest=_digest(rows))


def _labels(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summary(labels: dict[str, str], points: tuple[tuple[float, float], ...], check: Check,
             ctx: Context) -> Row | None:
    finite = [(t, v) for t, v in points if math.isfinite(v)]
    if not finite:
        return None
    values = [v for _, v in finite]
    row_labels = _labels(labels)
    stats: dict[str, Any] = {
        "value": values[-1], "first": values[0], "min": min(values), "max": max(values),
        "avg": sum(values) / len(values), "change": values[-1] - values[0],
        "first_seen": finite[0][0], "last_seen": finite[-1][0], "crossed_at": None,
    }
    crossing = check.row_exprs.get("crossing")
    if crossing is not None:
        threshold = crossing({**ctx.variables, **dict.fromkeys(check.labels, ""), **row_labels}, ctx.functions)
        if threshold is not None:
            stats["crossed_at"] = _last_run_start(finite, threshold)
    return Row(row_labels, stats)


def _last_run_start(points: list[tuple[float, float]], threshold: float) -> float | None:
    """When the last run of points above `threshold` began (the one going on at the end, else the last one)."""
    start, last = None, None
    for t, v in points:
        if v > threshold:
            start = t if start is None else start
        elif start is not None:
            last, start = start, None
    return start if start is not None else last


def _digest(rows: tuple[Row, ...]) -> str:
    top = max(rows, key=lambda r: r.values.get("value") or -math.inf)
    where = ",".join(f"{k}={v}" for k, v in top.labels.items())
    value = top.values.get("value")
    shown = "—" if value is None else f"{value:.4g}"
    return f"{len(rows)} series; highest {shown}" + (f" ({where})" if where else "")
