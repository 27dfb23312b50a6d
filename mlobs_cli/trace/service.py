"""`mlobs trace`: each command's reads from the trace store, turned into its result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlobs_cli.backends.tracestore import open_store
from mlobs_cli.backends.tracestore.base import RankRow, StageRow, TraceStore, TraceTotals
from mlobs_cli.config import Settings
from mlobs_cli.errors import InputError
from mlobs_cli.logs.query import Filters, Window
from mlobs_cli.results import Finding
from mlobs_cli.trace import tree
from mlobs_cli.trace.results import (
    PERCENTILES,
    BreakdownResult,
    CompareResult,
    Group,
    ShowResult,
    Stage,
    StageCheck,
    ms,
)
from mlobs_cli.trace.spans import SpanFormatError, check_trace_id

ABNORMAL_RANK = 0.99  # a stage slower than 99% of the baseline's is abnormal for this request
FAST_RANK = 0.01
MIN_BASELINE = 20  # fewer spans than this of a name: too few to rank against
COMPARE_FRACTIONS = (0.5, 0.99, 0.999)
GROUPS = ("all", "slowest")


@contextmanager
def _store(source: str | None, settings: Settings) -> Iterator[TraceStore]:
    store = open_store(source, settings)
    try:
        yield store
    finally:
        store.close()


def trace_id_of(trace_id: str | None, request_id: str | None, settings: Settings) -> str:
    """The trace id given, or the one the log store (log.source) records for the request.

    Raises:
        InputError: neither or both given, a malformed id, or a request id the logs do not have.
    """
    if (trace_id is None) == (request_id is None):
        raise InputError("give a TRACE_ID or --request-id, one of them")
    if request_id is None:
        return _checked(trace_id or "")
    from mlobs_cli.backends.logstore import open_store as open_logs

    logs = open_logs(None, settings)
    try:
        logs.require(["request_id", "trace_id"], "trace show --request-id")
        records = logs.search(Window(None, None), Filters(request_id=request_id), ["trace_id"], 1)
    finally:
        logs.close()
    if not records or not records[0].get("trace_id"):
        raise InputError(f"request {request_id[:80]!r}: not in the prediction logs ({logs.source}), or logged "
                         "without a trace_id")
    return _checked(str(records[0]["trace_id"]))


def _checked(trace_id: str) -> str:
    try:
        return check_trace_id(trace_id)
    except SpanFormatError as e:
        raise InputError(str(e)) from None


def show(source: str | None, trace_id: str, settings: Settings, request_id: str | None = None) -> ShowResult:
    """The trace's span tree, self times and critical path.

    Raises:
        InputError: the store has no span of this trace.
    """
    with _store(source, settings) as store:
        spans = store.trace(trace_id)
        if not spans:
            raise InputError(f"trace {trace_id} not found in {store.source}")
        return ShowResult(store.source, tree.build(trace_id, spans), request_id, errors=tuple(store.warnings))


def breakdown(source: str | None, window: Window, model: str | None, slowest: float,
              settings: Settings) -> BreakdownResult:
    """Per span name, over the traces whose first span starts in the window: durations, self times and shares of
    the end-to-end latency, for all of them and for the `slowest` share by end-to-end latency."""
    with _store(source, settings) as store:
        totals, rows = store.stages(window, model, slowest, PERCENTILES)
        found = {t.group: t for t in totals}
        groups = tuple(_group(found.get(g) or TraceTotals(g, 0, 0, (), 0.0), [r for r in rows if r.group == g])
                       for g in GROUPS)
        return BreakdownResult(store.source, window, model, slowest, groups, errors=tuple(store.warnings))


def _group(totals: TraceTotals, rows: list[StageRow]) -> Group:
    e2e = totals.e2e

    def share(row: StageRow, i: int) -> float | None:
        return row.stage[i] / e2e[i] if e2e and e2e[i] else None

    stages = sorted((Stage(name=r.name, spans=r.spans, traces=r.traces,
                           duration_ms=tuple(ms(v) for v in r.duration), self_ms=tuple(ms(v) for v in r.self_time),
                           share_p50=share(r, 0), share_p99=share(r, -1),
                           time_share=r.total_self / totals.total if totals.total else None, root=r.root)
                     for r in rows), key=lambda s: (-(s.time_share or 0.0), s.name))
    return Group(totals.group, totals.traces, totals.without_root, tuple(ms(v) for v in e2e), tuple(stages))


def compare(source: str | None, trace_id: str, baseline: Window, settings: Settings) -> CompareResult:
    """Each span of the trace against the baseline's spans of the same name: where its self time ranks.

    Raises:
        InputError: the store has no span of this trace.
    """
    with _store(source, settings) as store:
        spans = store.trace(trace_id)
        if not spans:
            raise InputError(f"trace {trace_id} not found in {store.source}")
        t = tree.build(trace_id, spans)
        ranks = store.ranks(baseline, None, [(n.span.name, n.span.duration_ns, n.self_ns) for n in t.nodes],
                            COMPARE_FRACTIONS)
        checks = tuple(_check(n, r) for n, r in zip(t.nodes, ranks))
        findings = tuple(Finding("trace/abnormal-stage", "warn", c.name,
                                 f"{c.name} self time {c.self_ms:.3g} ms: {_rank_words(c)} of the baseline's "
                                 f"{c.baseline_spans:,} spans (their p99: {c.baseline_self_ms[1]:.3g} ms)")
                         for c in checks if c.verdict == "abnormal")
        return CompareResult(store.source, trace_id, baseline, ms(t.duration_ns), checks, t.problems, findings,
                             errors=tuple(store.warnings))


def _check(node: tree.Node, rank: RankRow) -> StageCheck:
    if rank.spans < MIN_BASELINE or rank.self_rank is None:
        verdict = "no baseline"
    elif rank.self_rank >= ABNORMAL_RANK and node.self_ns > rank.self_quantiles[1]:
        verdict = "abnormal"
    elif rank.self_rank <= FAST_RANK:
        verdict = "fast"
    else:
        verdict = "normal"
    return StageCheck(span_id=node.span.span_id, name=node.span.name, duration_ms=ms(node.span.duration_ns),
                      self_ms=ms(node.self_ns), baseline_spans=rank.spans, duration_rank=rank.duration_rank,
                      self_rank=rank.self_rank, baseline_self_ms=tuple(ms(v) for v in rank.self_quantiles),
                      verdict=verdict)


def _rank_words(check: StageCheck) -> str:
    rank = check.self_rank or 0.0
    return "above every one" if rank >= 1 else f"at percentile rank {rank * 100:.3g}"
