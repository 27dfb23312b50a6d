"""How a concept-drift report looks in a terminal: coverage, the window table with sparklines, the indicators,
and the verdict."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlobs_cli import timeparse
from mlobs_cli.quality.report import ConceptReport, WindowQuality
from mlobs_cli.render.drift import fmt_number, fmt_pvalue
from mlobs_cli.render.metrics import sparkline

VERDICT_STYLE = {"concept_drift": "bold red", "potential_concept_drift": "yellow", "none": "green",
                 "unknown": "bold yellow"}


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _row(name: str, w: WindowQuality) -> list[str]:
    return [name, f"{w.predictions:,}", f"{w.labelled:,}" + ("" if w.used else " *"), fmt_number(w.accuracy),
            fmt_number(w.f1), fmt_number(w.estimated_accuracy), fmt_number(w.confidence_mean),
            _share(w.low_confidence_share)]


def table(report: Any, console: Console) -> None:
    if type(report).__name__ == "ModelDashboard":
        console.print(model_dashboard(report))
        return
    if not isinstance(report, ConceptReport):
        predictions_table(report, console)
        return
    head = f"{report.source}" + (f"  model {report.model}" if report.model else "")
    console.print(Text(head, style="bold"))
    console.print(f"baseline {report.baseline_window.label()}   current {report.current_window.label()}   "
                  f"window {timeparse.prometheus_duration(timedelta(seconds=report.window_seconds))}",
                  markup=False)
    if report.labels:
        for name, c in (("baseline", report.baseline_coverage), ("current", report.current_coverage)):
            delay = "—" if c.median_delay_s is None else f"{c.median_delay_s / 3600:.1f} h"
            console.print(f"labels ({name}): {c.labelled:,} of {c.predictions:,} predictions labelled "
                          f"({c.share:.1%}), median delay {delay}", markup=False)
    t = Table("window", "predictions", "labelled", "accuracy",
              f"F1 ({report.f1_average}{', ' + report.positive if report.positive else ''})" if report.f1_average
              else "F1", "estimated acc", "confidence avg", f"< {report.low_confidence_threshold:g}",
              box=None, pad_edge=False)
    t.add_row(*_row("baseline", report.baseline))
    for w in report.windows:
        t.add_row(*_row(timeparse.isoformat(w.start), w))
    t.add_row(*_row("current (all)", report.current), style="bold")
    console.print(t)
    if report.labels and not all(w.used for w in report.windows):
        console.print(f"* fewer than {report.config.min_labels} labelled predictions: shown, not used", markup=False)
    if report.labels:
        console.print(f"accuracy   {sparkline([w.accuracy for w in report.windows], 40)}", markup=False)
    console.print(f"estimated  {sparkline([w.estimated_accuracy for w in report.windows], 40)}", markup=False)
    if report.labels:
        console.print(f"accuracy drop {fmt_number(report.accuracy_drop)} (> {report.config.accuracy_drop:g})   "
                      f"F1 drop {fmt_number(report.f1_drop)}   p-value {fmt_pvalue(report.p_value)} "
                      f"(< {report.config.p_value:g})", markup=False)
    ind = Table("indicator", "value", "threshold", "fired", box=None, pad_edge=False)
    for i in report.indicators:
        ind.add_row(i.name, fmt_number(i.value), ("< " if i.name == "feature_importance_drift" else "> ")
                    + f"{i.threshold:g}", "yes" if i.fired else "no")
    console.print(ind)
    v = report.verdict
    line = Text(f"verdict: {v.drift_type}", style=VERDICT_STYLE.get(v.drift_type, ""))
    if v.detected:
        line.append(f" (severity {v.severity})")
    line.append(f": {v.reason}", style="")
    console.print(line)
    if v.recommendation:
        console.print(f"recommendation: {v.recommendation}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, style="dim")


def _bars(title: str, bins: tuple, console: Console) -> None:
    from mlobs_cli.render import bar

    t = Table(title, "reference", "", "current", "", box=None, pad_edge=False)
    for b in bins:
        t.add_row(b.label, bar(b.ref_share, 12), f"{b.ref_share:.1%}", bar(b.cur_share, 12), f"{b.cur_share:.1%}")
    console.print(t)


def predictions_table(report: Any, console: Console) -> None:
    console.print(Text(f"{report.source}", style="bold"))
    console.print(f"baseline {report.baseline_window.label()}   current {report.current_window.label()}",
                  markup=False)
    for g in report.groups:
        status = Text("● Alert", style="bold red") if g.alert else Text("● OK", style="green")
        head = Text(f"{g.model} {g.version or '(all versions)'}: {g.n_baseline:,} -> {g.n_current:,} predictions   class PSI "
                    f"{fmt_number(g.class_psi)} (alert > {report.psi_alert:g}) ")
        console.print(head.append(status))
        if not (g.n_baseline and g.n_current):
            console.print(f"  no predictions in the {'baseline' if not g.n_baseline else 'current'} period: "
                          "nothing to compare (--no-versions pools the versions)", markup=False)
            continue
        _bars("output_class", g.class_bins, console)
        _bars("output_score", g.score_bins, console)
        console.print(f"confidence avg {fmt_number(g.confidence_mean_baseline)} -> "
                      f"{fmt_number(g.confidence_mean_current)}   < {report.low_confidence_threshold:g}: "
                      f"{_share(g.low_confidence_baseline)} -> {_share(g.low_confidence_current)}   JS "
                      f"{fmt_number(g.confidence_js)}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, style="dim")


PSI_MARK = {"ok": ("●", "green"), "watch": ("◐", "yellow"), "alert": ("●", "bold red")}


def model_dashboard(d: Any) -> Any:
    """The Model Health Dashboard's panels, one after another, each a small table or its reason for being empty."""
    from rich.console import Group

    from mlobs_cli.render import bar

    parts: list[Any] = [Text(f"MODEL HEALTH DASHBOARD - {d.model}   {d.source}   baseline {d.baseline}, "
                             f"current {d.current}", style="bold")]
    for p in d.panels:
        parts.append(Text(p.title, style="bold"))
        if p.empty:
            parts.append(Text(f"  {p.empty}", style="dim"))
            continue
        if p.kind == "feature_psi":
            t = Table(box=None, pad_edge=False, show_header=False)
            for f in p.data["features"]:
                mark, style = PSI_MARK.get(f["status"] or "ok", ("●", ""))
                t.add_row(f["feature"], Text(bar(f["psi"] / (2 * p.data["psi_alert"]), 10), style=style),
                          f"{f['psi']:.3f}", Text(mark, style=style))
            parts += [t, Text(f"● <{p.data['psi_watch']:g}: OK  ◐ {p.data['psi_watch']:g}-{p.data['psi_alert']:g}: "
                              f"Watch  ● >{p.data['psi_alert']:g}: Alert", style="dim")]
        elif p.kind == "prediction_distribution":
            t = Table("class", "reference", "", "current", "", box=None, pad_edge=False)
            for b in p.data["classes"]:
                t.add_row(b["label"], bar(b["ref_share"], 10), f"{b['ref_share']:.1%}", bar(b["cur_share"], 10),
                          f"{b['cur_share']:.1%}")
            status = "Alert" if p.data["alert"] else "OK"
            parts += [t, Text(f"PSI: {fmt_number(p.data['psi'])} ({status})")]
        elif p.kind == "confidence":
            hist = p.data["histogram"]
            total = sum(hist) or 1
            t = Table(box=None, pad_edge=False, show_header=False)
            for i, n in enumerate(hist):
                t.add_row(f"{i / len(hist):.1f}-{(i + 1) / len(hist):.1f}", bar(n / total, 20), f"{n / total:.1%}")
            parts += [t, Text(f"Avg: {fmt_number(p.data['mean'], '.2f')}  <{p.data['threshold']:g}: "
                              f"{_share(p.data['low_share'])}")]
        elif p.kind == "experiment":
            e = p.data
            t = Table("variant", "role", "samples", "share", "conv", "p99 ms", "errors", "lift", "p (always valid)",
                      box=None, pad_edge=False)
            for r in e["rows"]:
                t.add_row(str(r["variant"]), r["role"], f"{r['samples']:,.0f}", _share(r["share"]), _share(r["rate"]),
                          fmt_number(r["p99_ms"], ".1f"), _share(r["error_rate"]),
                          "" if r["lift"] is None else f"{r['lift']:+.1%}", fmt_number(r["p_always_valid"], ".3g"))
            parts += [Text(f"{e['experiment']}: {e['verdict'].upper()} - {e['reason']}"), t]
        elif p.kind == "low_confidence":
            t = Table("Time", "Conf", "Count", box=None, pad_edge=False)
            for r in p.data["rows"]:
                t.add_row(r["time"], fmt_number(r["mean_confidence"], ".2f"), f"{r['count']:,}")
            parts += [t, Text(f"Threshold: <{p.data['threshold']:g}", style="dim")]
    return Group(*parts)


def live(build: Any, refresh: float) -> None:
    """Redraw the model dashboard every `refresh` seconds until Ctrl-C; a failed refresh keeps the last one."""
    import time

    from rich.live import Live

    from mlobs_cli.errors import MlobsError
    from mlobs_cli.render import stdout_console

    with Live(Text("loading…", style="dim"), console=stdout_console(), screen=True, auto_refresh=False) as screen:
        try:
            while True:
                try:
                    screen.update(model_dashboard(build()), refresh=True)
                except MlobsError as e:
                    screen.update(Text(f"refresh failed: {e}", style="bold red"), refresh=True)
                time.sleep(refresh)
        except KeyboardInterrupt:
            return
