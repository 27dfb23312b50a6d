"""How `mlobs trace` results look in a terminal: the waterfall of one trace, the stage breakdown of many, and one
trace against its baseline."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlobs_cli.render import bar
from mlobs_cli.trace.results import BreakdownResult, CompareResult, ShowResult, ms
from mlobs_cli.trace.spans import SHOWN_ATTRIBUTES

WATERFALL_WIDTH = 24
SHARE_WIDTH = 10
VERDICT_STYLE = {"abnormal": "bold red", "fast": "cyan", "normal": "green", "no baseline": "dim"}


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=True)
    return t


def _print(console: Console, t: Table, fold: str | None = None) -> None:
    """Every column but `fold` keeps its widest cell (a number is never cut); `fold` wraps to what is left."""
    for column in t.columns:
        if column.header == fold:
            column.no_wrap, column.overflow = False, "fold"
        else:
            column.min_width = max([len(str(column.header)), *(len(str(c)) for c in column.cells)])
    console.print(t)


def table(result: Any, console: Console) -> None:
    draw = {ShowResult: _show, BreakdownResult: _breakdown, CompareResult: _compare}
    draw[type(result)](result, console)


def _waterfall(offset: int, duration: int, on_path: list[tuple[int, int]], total: int) -> Text:
    """The span's interval as a bar over the trace: █ where it is on the critical path, ▒ elsewhere."""
    scale = WATERFALL_WIDTH / total if total > 0 else 0.0
    lo, hi = offset * scale, (offset + duration) * scale
    cells = []
    for i in range(WATERFALL_WIDTH):
        if hi <= i or lo >= i + 1:
            cells.append(" ")
        elif any(a * scale < i + 1 and b * scale > i for a, b in on_path):
            cells.append("█")
        else:
            cells.append("▒")
    if duration and cells.count(" ") == WATERFALL_WIDTH:  # shorter than a cell: still seen
        cells[min(int(lo), WATERFALL_WIDTH - 1)] = "▏"
    return Text("".join(cells))


def _show(result: ShowResult, console: Console) -> None:
    t = result.tree
    asked = f" (request {result.request_id})" if result.request_id else ""
    console.print(f"trace {t.trace_id}{asked}: {_ms(ms(t.duration_ns))} ms, {len(t.nodes)} spans, from "
                  f"{result.source}", markup=False, style="dim")
    total = max((n.offset_ns + n.span.duration_ns for n in t.nodes), default=0)
    path: dict[str, list[tuple[int, int]]] = {}
    for seg in t.critical_path:
        path.setdefault(seg.span_id, []).append((seg.start_ns, seg.end_ns))
    w = _table("span", "service", "start", "ms", "self", "path", "", "attributes",
               right=("start", "ms", "self", "path"))
    for n in t.nodes:
        name = Text("  " * n.depth + n.span.name, style="bold red" if n.span.error else "")
        attributes = " ".join(f"{k}={n.span.attributes[k]}" for k in SHOWN_ATTRIBUTES if k in n.span.attributes)
        w.add_row(name, n.span.service, _ms(ms(n.offset_ns)), _ms(ms(n.span.duration_ns)), _ms(ms(n.self_ns)),
                  _ms(ms(n.critical_ns)) if n.critical_ns else "", _waterfall(n.offset_ns, n.span.duration_ns,
                                                                             path.get(n.span.span_id, []), total),
                  Text(attributes))
    _print(console, w, fold="attributes")
    console.print("start: ms after the trace's first span; path: ms on the critical path (█), ▒ running off it; "
                  "self: duration less the union of the children's time; red: error status", style="dim")
    chain = []
    for seg in t.critical_path:
        if chain and chain[-1][0] == seg.name:
            chain[-1][1] += seg.end_ns - seg.start_ns
        else:
            chain.append([seg.name, seg.end_ns - seg.start_ns])
    console.print(Text("critical path: " + " → ".join(f"{name} {_ms(ms(d))}" for name, d in chain)))
    for line in (*t.path_rules, *t.problems):
        console.print(Text(f"  {line}"), style="yellow")


def _breakdown(result: BreakdownResult, console: Console) -> None:
    model = f", model {result.model}" if result.model else ""
    console.print(f"{result.source}: {result.window.label()}{model}", markup=False, style="dim")
    for g in result.groups:
        title = "all traces" if g.name == "all" else f"slowest {result.slowest * 100:g}% by end-to-end latency"
        if not g.traces:
            console.print(f"{title}: no traces with a root span in the period"
                          + (f" ({g.without_root} without one)" if g.without_root else ""))
            continue
        p50, p95, p99 = g.e2e_ms
        console.print(Text(f"{title}: {g.traces:,} traces, end to end p50 {_ms(p50)} ms, p95 {_ms(p95)} ms, "
                           f"p99 {_ms(p99)} ms", style="bold"))
        t = _table("span", "spans", "p50", "p95", "p99", "self p50", "self p95", "self p99", "of p50", "of p99",
                   "of all time", right=("spans", "p50", "p95", "p99", "self p50", "self p95", "self p99",
                                         "of p50", "of p99"))
        dominant = g.dominant
        for s in g.stages:
            t.add_row(Text(s.name, style="bold" if s is dominant else ""), f"{s.spans:,}",
                      *(_ms(v) for v in s.duration_ms), *(_ms(v) for v in s.self_ms), _share(s.share_p50),
                      _share(s.share_p99), f"{bar(s.time_share, SHARE_WIDTH)} {_share(s.time_share)}")
        _print(console, t)
        if dominant is not None:
            console.print(f"most of the p99 latency: {dominant.name} ({_share(dominant.share_p99)})",
                          markup=False)
        if g.without_root:
            console.print(f"{g.without_root} traces without a root span left out", style="yellow", markup=False)
    console.print("times in ms; self: duration less the union of the children's time; of p50 / of p99: the "
                  "stage's pX self time (per trace) over the pX end-to-end latency", style="dim")


def _compare(result: CompareResult, console: Console) -> None:
    console.print(f"trace {result.trace_id}: {_ms(result.duration_ms)} ms, against {result.baseline.label()} "
                  f"of {result.source}", markup=False, style="dim")
    t = _table("span", "ms", "self", "baseline self p50", "p99", "p99.9", "spans", "rank", "verdict",
               right=("ms", "self", "baseline self p50", "p99", "p99.9", "spans", "rank"))
    for c in result.checks:
        q = c.baseline_self_ms or (None, None, None)
        rank = "—" if c.self_rank is None else ("> max" if c.self_rank >= 1 else f"p{c.self_rank * 100:.3g}")
        t.add_row(c.name, _ms(c.duration_ms), _ms(c.self_ms), *(_ms(v) for v in q), f"{c.baseline_spans:,}", rank,
                  Text(c.verdict, style=VERDICT_STYLE[c.verdict]))
    _print(console, t)
    console.print("rank: the self time's percentile rank among the baseline's spans of that name (> max: above all of "
                  "them); abnormal: above the baseline's p99", style="dim")
    for f in result.findings:
        console.print(Text(f"  {f.message}"), style="bold red")
    for line in result.problems:
        console.print(Text(f"  {line}"), style="yellow")
