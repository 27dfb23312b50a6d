"""How `mlobs experiment` results look in a terminal: the design's experiment panel (one column per variant),
each treatment against the control, and the verdict last, on one line."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlobs_cli.experiment.results import INVALID, KEEP_RUNNING, PROMOTE, ROLL_BACK, ExperimentList, ExperimentStatus
from mlobs_cli.timeparse import isoformat

VERDICT = {INVALID: ("INVALID", "bold red"), ROLL_BACK: ("ROLL BACK", "bold red"), PROMOTE: ("PROMOTE", "bold green"),
           KEEP_RUNNING: ("KEEP RUNNING", "yellow")}


def table(result: Any, console: Console) -> None:
    if isinstance(result, ExperimentList):
        _list(result, console)
    else:
        _status(result, console)


def markdown_header(result: Any) -> str:
    if isinstance(result, ExperimentList):
        return f"**Experiments** {isoformat(result.start)} .. {isoformat(result.end)}"
    return (f"**Experiment {result.experiment}** {isoformat(result.start)} .. {isoformat(result.end)}, control "
            f"{result.control.counts.name}")


def markdown_footer(result: Any) -> str:
    if isinstance(result, ExperimentList):
        return ""
    return (f"**Verdict: {VERDICT[result.verdict][0]}**: {result.reason} (decision on the always-valid p-value, "
            f"mSPRT tau^2 = {result.mixture_variance:g})")


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if value >= 0.001 else f"{value:.1e}" if value > 0 else "<1e-300"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _status(r: ExperimentStatus, console: Console) -> None:
    console.print(Text(f"Experiment {r.experiment}  {isoformat(r.start)} .. {isoformat(r.end)}  ({r.source})"))
    if r.srm.mismatch:  # said first: it makes every number below untrustworthy
        console.print(Text(f"SAMPLE-RATIO MISMATCH (chi-square p = {_p(r.srm.p_value)}): the numbers below cannot "
                           "be trusted", style="bold red"))
    t = Table(box=None, pad_edge=False, header_style="bold")
    t.add_column("")
    for v in r.variants:
        t.add_column(f"{v.role.capitalize()} ({v.counts.name})", justify="right", no_wrap=True)
    rows: list[tuple[str, list[str]]] = [
        ("Traffic", [f"{v.share:.2%}" + ("" if v.expected_share is None else f" (split {v.expected_share:.0%})")
                     for v in r.variants]),
        ("Samples", [_count(v.counts.samples) for v in r.variants]),
        ("Conversions", [_count(v.counts.conversions) for v in r.variants]),
        ("Conversion", [_pct(v.rate) for v in r.variants]),
        ("Latency p99", ["—" if v.counts.p99_latency_s is None else f"{v.counts.p99_latency_s * 1000:.0f}ms"
                         for v in r.variants]),
        ("Error rate", [_pct(v.counts.error_rate, 3) for v in r.variants]),
    ]
    if any(v.counts.revenue is not None for v in r.variants):
        rows.append(("Revenue/sample", ["—" if v.counts.revenue is None
                                        else f"{v.counts.revenue / v.counts.samples:.4g}" for v in r.variants]))
    for label, cells in rows:
        t.add_row(label, *cells)
    console.print(t)
    control = r.control.counts.name
    vs = Table(box=None, pad_edge=False, header_style="bold")
    for column in (f"vs {control}", "Improvement", "p-value", "Always-valid p", "Alpha", "Samples needed",
                   "Days left"):
        vs.add_column(column, justify="left" if column.startswith("vs ") else "right", no_wrap=True)
    for c in r.comparisons:
        needed = "—" if c.needed_treatment is None else \
            f"{_count(c.needed_control)} + {_count(c.needed_treatment)}"
        vs.add_row(c.treatment, "—" if c.relative_lift is None else f"{c.relative_lift:+.1%}", _p(c.p_value),
                   _p(c.p_value_always_valid), f"{c.alpha:.3g}", needed,
                   "—" if c.days_left is None else f"{c.days_left:.1f}")
    console.print(vs)
    for c in r.comparisons:
        for breach in c.guardrail_breaches:
            console.print(Text(f"guardrail: {c.treatment}: {breach}", style="red"))
    corrected = f", Bonferroni-corrected for {len(r.comparisons)} treatments" if len(r.comparisons) > 1 else ""
    console.print(Text(f"Decision on the always-valid p-value (mSPRT, mixture variance tau^2 = "
                       f"{r.mixture_variance:g}, minimum over {len(r.looks) + 1} looks){corrected};\n"
                       "p-value: fixed-horizon two-proportion z-test. Samples needed (control + treatment): power 0.8 at the current split.", style="dim"))
    word, style = VERDICT[r.verdict]
    console.print(Text.assemble(("Verdict: ", "bold"), (word, style), f": {r.reason}"))


def _list(r: ExperimentList, console: Console) -> None:
    if not r.experiments:
        console.print(Text(f"no experiments seen in {isoformat(r.start)} .. {isoformat(r.end)}"))
        return
    t = Table(*r.columns, box=None, pad_edge=False, header_style="bold")
    for row in r.rows():
        t.add_row(*("—" if c is None else f"{c:,}" if isinstance(c, int) else str(c) for c in row))
    console.print(t)
