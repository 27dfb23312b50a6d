"""How a drift report looks in a terminal: the table, the reasons, and a plot of one feature."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlobs_cli.drift.report import DriftReport, FeatureDrift
from mlobs_cli.render import bar, fitting_columns

STATUS_STYLE = {"ok": ("● OK", "green"), "watch": ("◐ Watch", "yellow"), "alert": ("● Alert", "bold red")}
BAR_WIDTH = 8


def fmt_number(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def fmt_pvalue(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def _psi_cell(f: FeatureDrift, report: DriftReport) -> Text:
    if f.psi is None:
        return Text("—")
    # full bar at twice the high-severity threshold, so an alert fills more than half
    text = Text(bar(f.psi / (2 * report.config.psi_high), BAR_WIDTH) + " ", style=STATUS_STYLE[f.status][1])
    return text.append(f"{f.psi:.3f}", style="")


def shift_text(f: FeatureDrift) -> str:
    if f.out_of_range is not None:
        return f"{f.out_of_range:.1%} outside"
    if f.new_categories:
        return f"{len(f.new_categories)} new, {sum(c.share for c in f.new_categories):.1%}"
    return "—" if f.new_categories is None else "none new"


def summary(report: DriftReport) -> str:
    counts = {s: sum(f.status == s for f in report.features) for s in ("alert", "watch", "ok")}
    high = sum(f.severity == "high" for f in report.features)
    text = f"{len(report.features)} features: {counts['alert']} alert ({high} high), {counts['watch']} watch, " \
           f"{counts['ok']} ok"
    if report.not_compared:
        text += "; not compared: " + ", ".join(f"{n.name} ({n.reason})" for n in report.not_compared)
    return text


def samples_line(report: DriftReport) -> str:
    ref, cur = report.reference, report.current
    return f"reference {ref.source} ({ref.rows:,} rows)  →  current {cur.source} ({cur.rows:,} rows)"


# Columns in the order shown; on a narrow terminal the ones with the highest drop rank go first, rather than
# every column shrinking to "…". p is KS's for numbers and chi-square's for categories; all are in -o json.
COLUMNS = [("Feature", "left", 0), ("Kind", "left", 3), ("Status", "left", 0), ("PSI", "left", 0),
           ("KS", "right", 0), ("p", "right", 0), ("JS", "right", 5), ("W/σ", "right", 4), ("Shift", "left", 1),
           ("Missing", "right", 2)]


def _cells(f: FeatureDrift, report: DriftReport) -> list:
    label, style = STATUS_STYLE[f.status]
    p = f.ks_pvalue if f.kind == "numerical" else f.chi2_pvalue
    return [f.name, f.kind[:3], Text(label + (f" ({f.severity})" if f.alert else ""), style=style),
            _psi_cell(f, report), fmt_number(f.ks_stat), fmt_pvalue(p), fmt_number(f.js_divergence),
            fmt_number(f.wasserstein_norm), shift_text(f), f"{f.missing_ref:.0%}→{f.missing_cur:.0%}"]


def table(report: DriftReport, console: Console) -> None:
    console.print(samples_line(report), markup=False)
    rows = [_cells(f, report) for f in report.features]
    shown = fitting_columns(COLUMNS, rows, console.width)
    t = Table(box=None, pad_edge=False, header_style="bold")
    for i in shown:
        name, justify, _ = COLUMNS[i]
        t.add_column(name, justify=justify, no_wrap=True)
    for row in rows:
        t.add_row(*(row[i] for i in shown))
    console.print(t)
    console.print(summary(report), markup=False)
    for f in report.features:
        for reason in f.reasons:
            console.print(Text(f"  {f.name}: ", style="bold").append(reason, style=""))
        if f.note:
            console.print(Text(f"  {f.name}: ", style="bold").append(f.note, style="dim"))


def markdown_header(report: DriftReport) -> str:
    return f"**Drift** — {samples_line(report)}\n\n{summary(report)}"


def plot(report: DriftReport, name: str, console: Console) -> None:
    """Reference and current distributions of one feature, side by side, one row per bin."""
    f = report.feature(name)
    t = Table(title=f"{name}: reference vs current ({f.kind}, PSI {fmt_number(f.psi)})", box=None, pad_edge=False,
              title_justify="left", header_style="bold")
    t.add_column("Bin", no_wrap=True)
    t.add_column("Reference", no_wrap=True)
    t.add_column("Current", no_wrap=True)
    t.add_column("Δ", justify="right", no_wrap=True)
    top = max([max(b.ref_share, b.cur_share) for b in f.bins] or [1.0]) or 1.0
    for b in f.bins:
        t.add_row(b.label, Text(bar(b.ref_share / top, 20), style="blue").append(f" {b.ref_share:6.1%}", style=""),
                  Text(bar(b.cur_share / top, 20), style="magenta").append(f" {b.cur_share:6.1%}", style=""),
                  f"{b.cur_share - b.ref_share:+.1%}")
    if not f.bins:
        console.print(f"{name}: {f.note or 'no distribution to plot'}", markup=False)
        return
    console.print(t)
