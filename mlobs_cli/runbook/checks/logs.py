"""`kind: logs`: the prediction-log store (`mlobs logs`, mlobs_cli/logs) over a window ending at the walk's time.

`query` names what to ask (rendered, then one of): `latency` (one row per model: `p50`, `p95`, `p99` in seconds,
as the SLO, `requests`; labels `model`, `slowest_phase`), `errors` (per model and version: `error_rate`,
`timeout_rate`, `requests`), `feature-shift` (per feature: `psi`, `median_shift`; labels `feature`, `status`).
`source` is the store (a path, glob or URL; empty: the log.source setting); `range` the window (a duration);
for feature-shift, `baseline` how long before the window its baseline of the same length ends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mlobs_cli.errors import MlobsError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Context, Evidence, Row
from mlobs_cli.timeparse import isoformat, parse_duration

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "logs"
TEMPLATES = ("query", "source", "range", "baseline")
KEYS = TEMPLATES
ROW_EXPRESSIONS = ()
QUERIES = {
    "latency": (("model", "slowest_phase"), ("p50", "p95", "p99", "requests")),
    "errors": (("model", "version"), ("error_rate", "timeout_rate", "requests")),
    "feature-shift": (("feature", "status"), ("psi", "median_shift")),
}


def fields(check: Check) -> tuple[str, ...]:
    return QUERIES.get(check.samples.get("query", ""), ((), ()))[1]


def validate(check: Check) -> list[tuple[str, str]]:
    query = check.samples.get("query")
    problems: list[tuple[str, str]] = []
    if query not in QUERIES:
        problems.append(("query", f"a logs check's query is one of {', '.join(QUERIES)}, not {query!r}"))
        return problems
    problems += [("labels", f"rows of logs {query} have the labels {', '.join(QUERIES[query][0])}, not {label!r}")
                 for label in check.labels if label not in QUERIES[query][0]]
    for key in ("range", "baseline") if query == "feature-shift" else ("range",):
        if key not in check.samples:
            problems.append(("kind", f"logs {query} needs `{key}` (a duration)"))
    return problems


def run(check: Check, ctx: Context) -> Evidence:
    from mlobs_cli.logs import service  # DuckDB and psycopg load only when a logs check runs

    query, source = ctx.rendered["query"], ctx.rendered.get("source") or None
    try:
        length = parse_duration(ctx.rendered["range"], "range")
        start, end = ctx.at - length, ctx.at
        model = ctx.variables.get("model") or None
        scope = service.Scope(source, start=isoformat(start), end=isoformat(end), model=model)
        described = f"logs {query} --from {isoformat(start)} --to {isoformat(end)}" + (
            f" --model {model}" if model else "")
        rows = _rows(service, query, scope, ctx, length)
    except MlobsError as e:
        return Evidence(check.id, NAME, ERROR, f"logs {query}", error=str(e), source="logs")
    if not rows:
        return Evidence(check.id, NAME, NO_DATA, described, digest="no records in the window", source="logs")
    return Evidence(check.id, NAME, OK, described, tuple(rows), source="logs", digest=f"{len(rows)} rows")


def _rows(service: Any, query: str, scope: Any, ctx: Context, length: timedelta) -> list[Row]:
    if query == "latency":
        result = service.latency(scope, ctx.settings, ("model",))
        return [Row({"model": g.key[0] or "", "slowest_phase": g.slowest_phase(2) or ""},
                    {"p50": _seconds(g.values["total_latency_ms"][0]), "p95": _seconds(g.values["total_latency_ms"][1]),
                     "p99": _seconds(g.values["total_latency_ms"][2]), "requests": float(g.requests)})
                for g in result.groups]
    if query == "errors":
        result = service.errors(scope, ctx.settings, min_requests=1, top=0)
        return [Row({"model": g.model_id or "", "version": g.model_version or ""},
                    {"error_rate": g.error_rate, "timeout_rate": g.timeout_rate, "requests": float(g.requests)})
                for g in result.groups]
    before = parse_duration(ctx.rendered["baseline"], "baseline")
    current = f"{isoformat(ctx.at - length)}..{isoformat(ctx.at)}"
    baseline = f"{isoformat(ctx.at - length - before)}..{isoformat(ctx.at - before)}"
    result = service.feature_shift(scope, ctx.settings, baseline, current, ())
    return [Row({"feature": f.name, "status": f.status or ""}, {"psi": f.psi, "median_shift": f.median_shift})
            for f in result.features]


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000
