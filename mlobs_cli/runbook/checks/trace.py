"""`kind: trace`: where the time goes, from `trace breakdown` (mlobs_cli/trace) over a window ending at the walk's
time.

`query` is `breakdown`: one row per stage (span name) and group (`all`, `slowest`: the slowest `slowest` share of
the traces, 1% by default), with `share_p50` and `share_p99` (the stage's pX self time over the pX end-to-end
latency), `self_p99` and `p99` in seconds, as the SLO, and `traces`; labels `stage`, `group`, and `dominant`
("yes" on the stage with the largest share of the group's p99, the root's own time left out). `source` is the
trace store (empty: the trace.source setting; none at all: no data, said so); `range` the window (a duration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlobs_cli.errors import MlobsError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Context, Evidence, Row
from mlobs_cli.timeparse import isoformat, parse_duration

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "trace"
TEMPLATES = ("query", "source", "range", "slowest")
KEYS = TEMPLATES
ROW_EXPRESSIONS = ()
LABELS = ("stage", "group", "dominant")
FIELDS = ("share_p50", "share_p99", "self_p99", "p99", "traces")


def fields(check: Check) -> tuple[str, ...]:
    return FIELDS


def validate(check: Check) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if check.samples.get("query") != "breakdown":
        problems.append(("query", f"a trace check's query is breakdown, not {check.samples.get('query')!r}"))
    if "range" not in check.samples:
        problems.append(("kind", "trace breakdown needs `range` (a duration)"))
    problems += [("labels", f"rows of trace breakdown have the labels {', '.join(LABELS)}, not {label!r}")
                 for label in check.labels if label not in LABELS]
    return problems


def run(check: Check, ctx: Context) -> Evidence:
    from mlobs_cli.logs.query import Window
    from mlobs_cli.trace import service  # DuckDB loads only when a trace check runs

    source = ctx.rendered.get("source") or None
    if source is None and not ctx.settings["trace.source"]:
        return Evidence(check.id, NAME, NO_DATA, "trace breakdown", source="trace",
                        digest="no trace source: set trace.source (MLOBS_TRACE_SOURCE) to see where the time goes")
    try:
        length = parse_duration(ctx.rendered["range"], "range")
        slowest = float(ctx.rendered.get("slowest") or "1") / 100
        model = ctx.variables.get("model") or None
        window = Window(ctx.at - length, ctx.at)
        described = f"trace breakdown --from {isoformat(window.start)} --to {isoformat(ctx.at)}" + (
            f" --model {model}" if model else "")
        result = service.breakdown(source, window, model, slowest, ctx.settings)
    except (MlobsError, ValueError) as e:
        return Evidence(check.id, NAME, ERROR, "trace breakdown", error=str(e), source="trace")
    rows = []
    for group in result.groups:
        dominant = group.dominant
        rows += [Row({"stage": s.name, "group": group.name, "dominant": "yes" if s is dominant else "no"},
                     {"share_p50": s.share_p50, "share_p99": s.share_p99, "self_p99": _seconds(s.self_ms[-1]),
                      "p99": _seconds(s.duration_ms[-1]), "traces": float(s.traces)}) for s in group.stages]
    if not rows:
        return Evidence(check.id, NAME, NO_DATA, described, digest="no traces in the window", source="trace")
    traces = sum(g.traces for g in result.groups if g.name == "all")
    skipped = "; ".join(e.message for e in result.errors)
    return Evidence(check.id, NAME, OK, described, tuple(rows), source="trace",
                    digest=f"{traces} traces" + (f" (incomplete: {skipped})" if skipped else ""))


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000
