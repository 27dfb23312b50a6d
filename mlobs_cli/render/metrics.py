"""How the metrics views look in a terminal: query results, the per-model summary, the dashboard, firing alerts.

Numbers arrive in base units (seconds, ratios, per second) from mlobs_cli/metrics/; only this module turns them
into `78 ms`, `0.02%` and `▲ +5.2%`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlobs_cli.metrics.common import MODEL, number
from mlobs_cli.metrics.dashboard import Dashboard, PanelData
from mlobs_cli.metrics.firing import FiringAlerts
from mlobs_cli.metrics.query import InstantResult, RangeResult
from mlobs_cli.metrics.summary import COLUMNS, Summary
from mlobs_cli.render import bar
from mlobs_cli.timeparse import prometheus_duration

if TYPE_CHECKING:
    from rich.console import RenderableType

LEVEL_STYLE = {"alert": "bold red", "warn": "yellow", "investigate": "yellow", "scale_up": "yellow"}
SEVERITY_STYLE = {"emergency": "bold white on red", "critical": "bold red", "warning": "yellow", "info": "cyan"}
HEALTH = {"healthy": ("● Healthy", "green"), "degraded": ("◐ Degraded", "yellow"), "down": ("○ Down", "bold red")}
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
MIN_SPARK = 8  # narrower, a sparkline says little: the labels give way instead
BAR_WIDTH = 16


# -- numbers ---------------------------------------------------------------------------------------------------

def fmt(value: float | None, unit: str) -> str:
    """A base-unit number as a person reads it: `78 ms`, `0.02%`, `72%`, `12,456`."""
    if value is None:
        return "—"
    if unit == "seconds":
        if abs(value) >= 1:
            return f"{value:.2f} s"
        return f"{value * 1000:.1f} ms" if abs(value) < 0.01 else f"{value * 1000:.0f} ms"
    if unit == "ratio":
        return f"{value:.2%}" if abs(value) < 0.1 else f"{value:.1%}"
    if unit == "percent":
        return f"{value:.0f}%"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def change(value: float | None, previous: float | None, unit: str) -> Text:
    """`▲ +5.2%` (a rate: relative), `▼ -12 ms` (a latency: absolute), `▲ +0.01%` (a ratio: points)."""
    if value is None or previous is None:
        return Text("")
    delta = value - previous
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    if unit == "per_second":
        text = f"{delta / previous:+.1%}" if previous else "new"
    elif unit == "seconds":
        text = ("+" if delta >= 0 else "-") + fmt(abs(delta), unit)
    elif unit == "ratio":
        text = f"{delta * 100:+.2f}%"
    elif unit == "percent":
        text = f"{delta:+.0f}%"
    else:
        text = f"{delta:+,.4g}" if abs(delta) >= 1e-3 else "+0"
    if not any(c in "123456789" for c in text):  # float noise, or less than the last digit shown
        return Text("=", style="dim")
    return Text(f"{arrow} {text}", style="dim")


MODEL_WIDE = "ᵐ"  # a versioned row's cell holding the whole model's number (common.Scoped)


def cell(value: float | None, unit: str, level: str | None, model_wide: bool = False) -> Text:
    return Text(fmt(value, unit) + (" ⚠" if level else "") + (f" {MODEL_WIDE}" if model_wide else ""),
                style=LEVEL_STYLE.get(level or "", ""))


def sparkline(values: list[float | None], width: int = SPARK_WIDTH) -> str:
    """Values squeezed into `width` characters (each the mean of its share of points), scaled from the least to the
    greatest; a share with no finite value (none, NaN, ±Inf: 1/0) is a gap, and a flat series a flat line."""
    if not values or width <= 0:
        return ""
    n = min(width, len(values))
    buckets: list[float | None] = []
    for i in range(n):
        chunk = [v for v in values[i * len(values) // n:(i + 1) * len(values) // n]
                 if v is not None and math.isfinite(v)]
        buckets.append(sum(v / len(chunk) for v in chunk) if chunk else None)  # divided first: no overflow
    present = [b for b in buckets if b is not None]
    if not present:
        return " " * n
    # halves, so that the span of values near ±1.8e308 stays finite
    low, high = min(present) / 2, max(present) / 2
    top = len(SPARKS) - 1
    return "".join(" " if b is None else SPARKS[0] if high == low
                   else SPARKS[max(0, min(top, round((b / 2 - low) / (high - low) * top)))] for b in buckets)


# -- the views ---------------------------------------------------------------------------------------------------

def table(result: Any, console: Console) -> None:
    if isinstance(result, Summary):
        console.print(_summary(result, console.width))
        for key, why in result.model_wide.items():
            console.print(Text(f"{MODEL_WIDE} {next(c.title for c in COLUMNS if c.key == key)}: {why}", style="dim"))
    else:
        draw = {InstantResult: _instant, RangeResult: _range, Dashboard: _dashboard, FiringAlerts: _firing}
        console.print(draw[type(result)](result))
    if isinstance(result, Summary) and result.show_queries:
        for key, promql in result.queries.items():
            console.print(Text(f"{key}: ", style="bold").append(promql, style=""))


def _label_table(labels: tuple[str, ...]) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name in labels:
        t.add_column("metric" if name == "__name__" else name, no_wrap=True)
    return t


# A table shows at most this many series: 90,000 of them took minutes to lay out and no one reads them in a
# terminal. -o json and -o csv keep every one.
TABLE_ROWS = 1000


def left_out(total: int) -> Text | None:
    """The line under a table cut to TABLE_ROWS series, or None when it was not cut."""
    if total <= TABLE_ROWS:
        return None
    return Text(f"{total - TABLE_ROWS} more series left out of the table (of {total}); -o json or -o csv has "
                "them all", style="yellow")


def _instant(result: InstantResult) -> RenderableType:
    from rich.console import Group

    if not result.samples:
        return Text("no series", style="dim")
    t = _label_table(result.labels)
    t.add_column("value", justify="right", no_wrap=True)
    for s in result.samples[:TABLE_ROWS]:
        t.add_row(*(s.labels.get(n, "") for n in result.labels), _g(s.value))
    note = left_out(len(result.samples))
    return t if note is None else Group(t, note)


def _g(value: float | None) -> str:
    """A query's raw number: 6 significant digits, NaN and ±Inf as Prometheus writes them."""
    return "—" if value is None else f"{value:.6g}".replace("inf", "Inf").replace("nan", "NaN")


def _range(result: RangeResult) -> RenderableType:
    return RangeTable(result) if result.series else Text("no series", style="dim")


HEADS = ("last", "min", "max", "points")
LABEL_FLOOR = 8  # a label column is cut to no fewer characters: enough to tell `node-0` from `node-1`


class RangeTable:
    """A series a row: the labels that tell the series apart, sparkline, last, min, max, points; the labels every
    series shares are said once, on a line above. The numbers always show whole: at the console's width the
    sparkline shrinks first (to MIN_SPARK), then the label columns (to LABEL_FLOOR, with an ellipsis); narrower
    still, each series becomes a block: its labels, then its sparkline and numbers, wrapped between numbers."""

    def __init__(self, result: RangeResult) -> None:
        values = {n: {s.labels.get(n, "") for s in result.series} for n in result.labels}
        self.labels = [n for n in result.labels if len(values[n]) > 1]
        first = result.series[0].labels
        self.heading = ", ".join(f"{_title(n)}={first.get(n, '')}" for n in result.labels if len(values[n]) == 1)
        self.rows = []
        self.note = left_out(len(result.series))
        for s in result.series[:TABLE_ROWS]:
            points = [number(v) for _, v in s.points]
            present = [v for v in points if v is not None]
            self.rows.append(([s.labels.get(n, "") for n in self.labels], points,
                              [_g(points[-1]), _g(min(present, default=None)), _g(max(present, default=None)),
                               str(len(points))]))

    def __rich_console__(self, console: Console, options: Any) -> Any:
        if self.heading:
            # wrapped, not cut: with one series, these are all that says which one it is
            yield Text(f"every series: {self.heading}", style="dim", overflow="fold")
        width = options.max_width
        titles = [_title(n) for n in self.labels]
        numbers = [max(len(h), *(len(r[2][i]) for r in self.rows)) for i, h in enumerate(HEADS)]
        # in terminal cells: a CJK character or an emoji takes two
        labels = [max(cell_len(t), *(cell_len(r[0][i]) for r in self.rows)) for i, t in enumerate(titles)]
        floors = [min(w, LABEL_FLOOR) for w in labels]
        room = width - 2 * (len(titles) + len(HEADS)) - sum(numbers)  # 2 between columns
        if sum(floors) + MIN_SPARK > room:
            yield from self._blocks(width)
            if self.note is not None:
                yield self.note
            return
        spark = max(MIN_SPARK, min(SPARK_WIDTH, room - sum(labels)))
        labels = _shrink(labels, floors, room - spark)
        t = Table(box=None, pad_edge=False, header_style="bold")
        for title, w in zip(titles, labels, strict=True):
            t.add_column(title, no_wrap=True, max_width=w, overflow="ellipsis")
        t.add_column("", no_wrap=True)
        for h, w in zip(HEADS, numbers, strict=True):
            t.add_column(h, justify="right", no_wrap=True, min_width=w)
        for names, points, cells in self.rows:
            t.add_row(*names, sparkline(points, spark), *cells)
        yield t
        if self.note is not None:
            yield self.note

    def _blocks(self, width: int) -> Any:
        """A series a block, for a console too narrow for the table: its labels (wrapped, a value longer than the
        line folded onto the next), then its sparkline and numbers, the sparkline narrowed to fit."""
        pieces = [[f"{h} {c}" for h, c in zip(HEADS, cells, strict=True)] for _, _, cells in self.rows]
        # one width for every block, so that the sparklines compare
        spark = min(width, SPARK_WIDTH, max(MIN_SPARK, width - max(len("  ".join(p)) for p in pieces) - 2))
        for i, (names, points, _) in enumerate(self.rows):
            if i:
                yield Text("")
            said = ", ".join(f"{t}={v}" for t, v in zip(map(_title, self.labels), names, strict=True) if v)
            if said:
                yield Text(said, style="bold", overflow="fold")
            for line in _pack([sparkline(points, spark), *pieces[i]], width):
                # a line is wider than the console only where one piece is: wrapped, where print would crop it
                yield Text(line, overflow="fold")


def _title(label: str) -> str:
    return "metric" if label == "__name__" else label


def _pack(pieces: list[str], width: int) -> list[str]:
    """`pieces` two spaces apart, in as few lines of at most `width` as keep each piece whole."""
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 2 + len(piece) <= width:
            lines[-1] += "  " + piece
        else:
            lines.append(piece)
    return lines


def _shrink(widths: list[int], floors: list[int], room: int) -> list[int]:
    """`widths` cut down, widest first, until they fit in `room` or each is at its floor."""
    widths = list(widths)
    while sum(widths) > room:
        above = [w if w > f else 0 for w, f in zip(widths, floors, strict=True)]
        if not any(above):
            break
        widths[above.index(max(above))] -= 1
    return widths


# Summary columns a narrow terminal drops first (highest rank first); the rest always show. -o json has them all.
DROP_RANK = {"latency_p50_seconds": 6, "model_load_p99_seconds": 5, "latency_p95_seconds": 4, "batch_size_avg": 3,
             "batch_wait_p99_seconds": 2, "gpu_memory_used_ratio": 1}


def _summary(result: Summary, width: int) -> RenderableType:
    if not result.models:
        return Text("no model has series at this time (try --at, or a longer --window)", style="dim")
    cells = {c.key: [Text.assemble(cell(r.cells[c.key].value, c.unit, r.cells[c.key].level,
                                        r.version is not None and r.cells[c.key].scope == MODEL), "\n",
                                   change(r.cells[c.key].value, r.cells[c.key].previous, c.unit))
                     for r in result.models] for c in COLUMNS}
    shown = _fitting(result, cells, width)
    hidden = [c.title for c in COLUMNS if c.key not in shown]
    t = Table(box=None, pad_edge=False, header_style="bold",
              title=f"window {prometheus_duration(result.window)} at {result.to_dict()['time']}, "
                    f"change against an hour earlier" + (f"; too narrow for: {', '.join(hidden)}" if hidden else ""),
              title_justify="left", title_style="dim")
    t.add_column("model", no_wrap=True)
    t.add_column("version", no_wrap=True)
    for c in COLUMNS:
        if c.key in shown:
            t.add_column(c.title, justify="right", no_wrap=True)
    for i, r in enumerate(result.models):
        t.add_row(r.model, r.version or "—", *(cells[c.key][i] for c in COLUMNS if c.key in shown))
    return t


def _fitting(result: Summary, cells: dict[str, list[Text]], width: int) -> set[str]:
    """The columns that fit in `width`, dropping by DROP_RANK: each takes its widest line and 2 of padding."""
    need = {c.key: 2 + max(len(c.title), *(max(len(line) for line in t.plain.split("\n")) for t in cells[c.key]))
            for c in COLUMNS}
    fixed = 3 + max(len(r.model) for r in result.models) + max(len(r.version or "—") for r in result.models)
    shown = {c.key for c in COLUMNS}
    for key in sorted(DROP_RANK, key=DROP_RANK.__getitem__, reverse=True):
        if fixed + sum(need[k] for k in shown) <= width:
            break
        shown.discard(key)
    return shown


def _firing(result: FiringAlerts) -> RenderableType:
    if not result.alerts:
        return Text(f"no alert pending or firing ({result.source})", style="green")
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("age", "state", "severity", "alert", "respond in", "notify", "labels", "summary"):
        t.add_column(name, no_wrap=name not in ("labels", "summary"), overflow="fold" if name == "labels" else "ellipsis",
                     ratio=1 if name in ("labels", "summary") else None)
    for a in result.alerts:
        p = a.policy
        style = SEVERITY_STYLE.get(p.severity if p else "", "")
        t.add_row(_age(a.age_seconds(result.now)), a.state, Text(a.severity or "—", style=style), a.name,
                  p.response_time if p else "no policy", p.notification if p else "—",
                  " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "severity")),
                  a.summary)
    return t


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(max(seconds, 0) // 60)
    days, rest = divmod(minutes, 1440)
    return (f"{days}d" if days else "") + (f"{rest // 60}h" if rest >= 60 or days else "") + f"{rest % 60}m"


# -- the dashboard ----------------------------------------------------------------------------------------------

def _dashboard(result: Dashboard) -> RenderableType:
    stats = [p for p in result.panels if p.panel.renderer == "stat"]
    others = [p for p in result.panels if p.panel.renderer not in ("stat", "health")]
    health = [p for p in result.panels if p.panel.renderer == "health"]
    parts: list[RenderableType] = [Text(f"ML MODEL SERVING - OPERATIONAL DASHBOARD   {result.to_dict()['time']}  "
                                        f"window {prometheus_duration(result.window)}", style="bold")]
    if stats:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in stats:
            grid.add_column(ratio=1)
        grid.add_row(*(_panel(p) for p in stats))
        parts.append(grid)
    for i in range(0, len(others), 2):
        grid = Table.grid(expand=True, padding=(0, 1))
        pair = others[i:i + 2]
        for _ in pair:
            grid.add_column(ratio=1)
        grid.add_row(*(_panel(p) for p in pair))
        parts.append(grid)
    parts.extend(_panel(p) for p in health)
    return Group(*parts)


def _panel(p: PanelData) -> Panel:
    body = Text(p.error, style="red") if p.error else PANEL_VIEWS[p.panel.renderer](p)
    return Panel(body, title=p.panel.title, title_align="left")


def _stat(p: PanelData) -> RenderableType:
    d = p.data
    return Group(cell(d["value"], p.panel.unit, d["level"]), change(d["value"], d["previous"], p.panel.unit))


class Sparklines:
    """A series a line: name, sparkline, now and max; the sparkline takes the width the panel has left."""

    def __init__(self, p: PanelData) -> None:
        self.unit = p.panel.unit
        self.series = p.data["series"]

    def __rich_console__(self, console: Console, options: Any) -> Any:
        rows = [(s["name"], [pt["value"] for pt in s["points"]], f"now {fmt(s['last'], self.unit)}",
                 f"max {fmt(s['max'], self.unit)}") for s in self.series]
        widths = [max(len(r[i]) for r in rows) for i in (0, 2, 3)]
        t = Table.grid(padding=(0, 1))
        for _ in range(4):
            t.add_column(no_wrap=True)
        spark = max(8, options.max_width - sum(widths) - 3)
        for name, values, now, top in rows:
            t.add_row(name, Text(sparkline(values, spark), style="cyan"), now, top)
        yield t


def _sparklines(p: PanelData) -> RenderableType:
    return Sparklines(p) if p.data["series"] else Text("no series", style="dim")


def _distribution(p: PanelData) -> RenderableType:
    d = p.data
    t = Table.grid(padding=(0, 1))
    for _ in range(3):
        t.add_column(no_wrap=True)
    top = max((b["share"] or 0.0 for b in d["buckets"]), default=0.0) or 1.0
    for b in d["buckets"]:
        label = f"≤ {fmt(b['upper'], 'seconds')}" if b["upper"] != float("inf") else f"> {fmt(b['lower'], 'seconds')}"
        t.add_row(label, Text(bar((b["share"] or 0.0) / top, BAR_WIDTH), style="magenta"), fmt(b["share"], "ratio"))
    quantiles = "  ".join(f"p{q}: {fmt(d[f'p{q}'], 'seconds')}" for q in (50, 95, 99))
    return Group(t, Text(quantiles))


def _bars(p: PanelData) -> RenderableType:
    t = Table.grid(padding=(0, 1))
    for _ in range(3):
        t.add_column(no_wrap=True)
    for b in p.data["bars"]:
        share = b["value"] if p.panel.unit in ("ratio",) else None
        style = LEVEL_STYLE.get(b["level"] or "", "green")
        t.add_row(b["name"], Text(bar(share, BAR_WIDTH), style=style), cell(b["value"], p.panel.unit, b["level"]))
    return t if p.data["bars"] else Text("no series", style="dim")


def _health(p: PanelData) -> RenderableType:
    t = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    for name in ("Model", "Version", "Replicas", "Health", "Traffic", "Why"):
        t.add_column(name, no_wrap=name != "Why")
    for m in p.data["models"]:
        label, style = HEALTH[m["health"]]
        replicas = f"{m['replicas_up']:g}/{m['replicas']:g}" if m["replicas"] is not None else "—"
        share = m["traffic_share"]
        t.add_row(m["model"], m["version"] or "—", replicas, Text(label, style=style),
                  f"{bar(share, 8)} {'<1%' if share is not None and 0 < share < 0.01 else fmt(share, 'ratio')}",
                  "; ".join(m["reasons"]))
    return t


PANEL_VIEWS: dict[str, Callable[[PanelData], RenderableType]] = {
    "stat": _stat, "sparklines": _sparklines, "distribution": _distribution, "bars": _bars, "health": _health}


def live(build: Callable[[], Dashboard], refresh: float) -> None:
    """Redraw the dashboard every `refresh` seconds on the terminal until Ctrl-C. A refresh that fails keeps the
    last dashboard on screen with the error in the footer, and the next refresh tries again."""
    from rich.live import Live

    from mlobs_cli.errors import MlobsError
    from mlobs_cli.render import stdout_console

    last: Dashboard | None = None
    with Live(Text("loading…", style="dim"), console=stdout_console(), screen=True, auto_refresh=False) as screen:
        try:
            while True:
                try:
                    last = build()
                    screen.update(live_screen(last), refresh=True)
                except MlobsError as e:
                    screen.update(live_screen(last, f"refresh failed: {e}"), refresh=True)
                time.sleep(refresh)
        except KeyboardInterrupt:
            return


def live_screen(result: Dashboard | None, failure: str | None = None) -> RenderableType:
    """The live dashboard over a footer of what a person must not miss: the failed refresh, the errors behind a
    panel that says "see the errors", the server's warnings; one line each, cut to the width. The footer is pinned
    to the bottom of the screen, so a dashboard taller than the terminal cannot push it out of sight."""
    from rich.layout import Layout

    lines = [(failure, "bold red")] if failure else []
    if result is not None:
        lines += [(f"{e.backend}: {e.message}", "red") for e in result.errors]
        # a warning that made the view incomplete is among the errors already: once is enough on a small screen
        lines += [(f"warning: {w}", "dim") for w in result.warnings if not any(w in e.message for e in result.errors)]
    body = _dashboard(result) if result is not None else Text("")
    if not lines:
        return body
    footer = Group(*(Text(" ".join(text.split()), style=style, no_wrap=True, overflow="ellipsis")
                     for text, style in lines))
    screen = Layout()
    screen.split_column(Layout(body), Layout(footer, size=len(lines)))
    return screen


def markdown_header(result: Any) -> str:
    """What a Markdown table pasted in an incident channel shows, and when."""
    if isinstance(result, Summary):
        return (f"**Model summary** at {result.to_dict()['time']}, window {prometheus_duration(result.window)}; "
                "`_change`: against an hour earlier")
    if isinstance(result, Dashboard):
        return f"**Operational dashboard** at {result.to_dict()['time']}, window {prometheus_duration(result.window)}"
    if isinstance(result, FiringAlerts):
        return f"**Alerts pending or firing** ({result.source}) at {result.to_dict()['time']}"
    return f"`{result.query}`"
