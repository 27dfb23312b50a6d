"""How `mlobs logs` results look in a terminal: one table per result, with the lines that say what was read."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlobs_cli import timeparse
from mlobs_cli.logs.query import PERCENTILES, PHASES, TOTAL_LATENCY
from mlobs_cli.logs.results import (
    ConfidenceResult,
    ErrorsResult,
    ExportResult,
    FeatureShiftResult,
    LatencyResult,
    SearchResult,
    pct_label,
)
from mlobs_cli.render import bar

STATUS_STYLE = {"ok": "green", "watch": "yellow", "alert": "bold red"}
SEARCH_TABLE = ("timestamp", "model_id", "model_version", "status", "total_latency_ms", "request_id", "user_id",
                "error_message")
SEARCH_HEADERS = {"model_id": "model", "model_version": "version", "total_latency_ms": "ms", "user_id": "user",
                  "error_message": "error"}
BAR_WIDTH = 20


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _count(value: float | int) -> str:
    """A count, or the estimate of one (a sum of weights), to the request."""
    return f"{value:,.0f}"


WEIGHTED_NOTE = "estimated from sampled logs (a row weighs 1 / its keep rate); logged: the rows as kept"


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=True)
    return t


def _short(phase: str) -> str:
    return phase.removesuffix("_ms").replace("processing", "proc").replace("queue_wait", "queue")


def header(result: Any) -> str:
    if isinstance(result, FeatureShiftResult):
        return (f"{result.source}: baseline {result.baseline.label()} → current {result.current.label()}, "
                f"{result.bins} PSI bins")
    return f"{result.source}: {result.window.label()}"


def table(result: Any, console: Console) -> None:
    console.print(header(result), markup=False, style="dim")
    draw = {LatencyResult: _latency, ErrorsResult: _errors, SearchResult: _search,
            FeatureShiftResult: _feature_shift, ConfidenceResult: _confidence, ExportResult: _export}
    draw[type(result)](result, console)


def _latency(result: LatencyResult, console: Console) -> None:
    if not result.groups:
        console.print("no requests in the window")
        return
    phases = [_short(p) for p in PHASES]
    logged = ("logged",) if result.weighted else ()
    t = _table(*result.by, "requests", *logged, "pct", "total ms", *phases,
               right=("requests", *logged, "total ms", *phases))
    for g in result.groups:
        for i, q in enumerate(PERCENTILES):
            slowest = g.slowest_phase(i)
            cells = [Text(_num(g.values[p][i]), style="bold" if p == slowest else "") for p in PHASES]
            first = i == 0
            t.add_row(*[str(k) if first else "" for k in g.key], _count(g.requests) if first else "",
                      *([_count(g.logged) if first else ""] if result.weighted else []),
                      pct_label(q), _num(g.values[TOTAL_LATENCY][i]), *cells)
    console.print(t)
    console.print("bold: the slowest phase at that percentile", style="dim")
    if result.weighted:
        console.print(WEIGHTED_NOTE + "; percentiles of the weighted distribution", style="dim", markup=False)


def _errors(result: ErrorsResult, console: Console) -> None:
    if result.weighted:
        heads = ("requests", "logged", "error rate", "logged share", "errors", "logged errors", "timeout rate",
                 "timeouts")
        t = _table("model", "version", *heads, right=heads)
        for g in result.groups:
            t.add_row(str(g.model_id), str(g.model_version), _count(g.requests), _count(g.logged_requests),
                      _pct(g.error_rate), _pct(g.logged_error_rate), _count(g.errors), _count(g.logged_errors),
                      _pct(g.timeout_rate), _count(g.timeouts))
    else:
        t = _table("model", "version", "requests", "error rate", "errors", "timeout rate", "timeouts",
                   right=("requests", "error rate", "errors", "timeout rate", "timeouts"))
        for g in result.groups:
            t.add_row(str(g.model_id), str(g.model_version), f"{g.requests:,}", _pct(g.error_rate),
                      f"{g.errors:,}", _pct(g.timeout_rate), f"{g.timeouts:,}")
    console.print(t if result.groups else "no model version in the window")
    if result.weighted:
        console.print(WEIGHTED_NOTE, style="dim", markup=False)
    if result.hidden_groups:
        console.print(f"{result.hidden_groups} more with fewer than {result.min_requests:,} requests "
                      "(--min-requests)", style="dim", markup=False)
    if result.messages:
        m = _table("count", "status", "model", "version", "message", right=("count",))
        for e in result.messages:
            m.add_row(_count(e.count), e.status, str(e.model_id), str(e.model_version), str(e.message or "—"))
        console.print(Text("\nmost frequent errors", style="bold"))
        console.print(m)


def _search(result: SearchResult, console: Console) -> None:
    if not result.records:
        console.print("no matching records")
        return
    # the terminal gets the columns an on-call engineer scans; csv and json have them all
    shown = [c for c in SEARCH_TABLE if c in result.columns]
    at = [result.columns.index(c) for c in shown]
    t = _table(*(SEARCH_HEADERS.get(c, c) for c in shown), right=("ms",))
    for row in result.rows():
        t.add_row(*("—" if row[i] is None else _num(row[i]) if isinstance(row[i], float) else str(row[i])
                    for i in at))
    t.columns[-1].no_wrap = False  # the error message wraps rather than push the others off
    console.print(t)
    more = " (the limit: --limit for more)" if len(result.records) == result.limit else ""
    console.print(f"{len(result.records)} records, newest first{more}; identifiers hashed, PII redacted; "
                  "-o json shows input_features and output", style="dim", markup=False)


def _feature_shift(result: FeatureShiftResult, console: Console) -> None:
    if not result.features:
        console.print("no feature values in either period")
        return
    t = _table("feature", "baseline q1 / median / q3", "current q1 / median / q3", "median shift", "PSI", "status",
               "n base → cur", right=("median shift", "PSI"))
    for f in result.features:
        def quart(q: tuple[float, float, float] | None) -> str:
            return "—" if q is None else " / ".join(format(v, ".3g") for v in q)

        shift = ">999%" if f.median_shift is not None and f.median_shift > 9.99 else _pct(f.median_shift)
        t.add_row(f.name, quart(f.baseline), quart(f.current), shift, _num(f.psi, ".3f"),
                  Text(f.status or "—", style=STATUS_STYLE.get(f.status or "", "")),
                  f"{_count(f.n_baseline)} → {_count(f.n_current)}")
    console.print(t)
    if result.weighted:
        console.print(WEIGHTED_NOTE + "; quantiles and PSI bins weighted", style="dim", markup=False)
    for f in result.features:
        if f.note:
            console.print(Text(f"  {f.name}: ", style="bold").append(f.note, style="dim"))


def _confidence(result: ConfidenceResult, console: Console) -> None:
    console.print(summary(result), markup=False)
    t = _table("bucket (UTC)", f"under {result.threshold:g}", "share", "", "predictions", "mean low score",
               right=(f"under {result.threshold:g}", "share", "predictions", "mean low score"))
    top = max((b.low_share or 0.0 for b in result.buckets), default=0.0) or 1.0
    for b in result.buckets:
        t.add_row(timeparse.isoformat(b.start), _count(b.low), _pct(b.low_share),
                  Text(bar((b.low_share or 0.0) / top, 12), style="yellow"), _count(b.predictions),
                  _num(b.mean_low_score, ".2f"))
    console.print(t)
    console.print(Text("\nconfidence distribution", style="bold"))
    d = _table("score", "", "count", "share", right=("count", "share"))
    n, total = len(result.histogram), sum(result.histogram)
    peak = max(result.histogram, default=0) or 1
    for i, c in enumerate(result.histogram):
        d.add_row(f"{i / n:.1f}–{(i + 1) / n:.1f}", Text(bar(c / peak, BAR_WIDTH), style="blue"), _count(c),
                  _pct(c / total if total else None))
    console.print(d)


def summary(result: ConfidenceResult) -> str:
    share = result.low / result.predictions if result.predictions else None
    logged = f" (estimated from {result.logged:,} logged)" if result.weighted else ""
    return (f"{_count(result.predictions)} predictions{logged}, mean score {_num(result.mean_score, '.2f')}, "
            f"under {result.threshold:g}: {_pct(share)} ({_count(result.low)})")


def _export(result: ExportResult, console: Console) -> None:
    console.print(f"wrote {result.rows_written:,} rows, {len(result.features)} features, to {result.path} "
                  f"({result.format})", markup=False)


def markdown_header(result: Any) -> str:
    text = f"**Prediction logs** — {header(result)}"
    if isinstance(result, ConfidenceResult):
        text += f"\n\n{summary(result)}"
    return text


def markdown_footer(result: Any) -> str:
    if isinstance(result, ErrorsResult) and result.messages:
        lines = ["**Most frequent errors**", "", "| count | status | model | version | message |", "|---|---|---|---|---|"]
        lines += [f"| {_count(m.count)} | {m.status} | {m.model_id} | {m.model_version} | "
                  f"{str(m.message or '').replace('|', chr(92) + '|')} |" for m in result.messages]
        return "\n".join(lines)
    return ""
