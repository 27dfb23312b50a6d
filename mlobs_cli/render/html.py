"""A drift report as one self-contained HTML file: the table, the reasons, and an inline SVG chart per drifted feature.

Built from strings with the standard library so the page has no dependency and asks the network for nothing: no
CDN, font, image or script from outside. A Content-Security-Policy forbids any fetch, so the file stays offline
even in a browser that follows something a future edit lets in, and only the page's own script (by its hash) runs.
"""

from __future__ import annotations

import base64
import hashlib
import math
from html import escape
from pathlib import Path

from mlobs_cli import files
from mlobs_cli.drift.report import Bin, DriftReport, FeatureDrift
from mlobs_cli.render.drift import STATUS_STYLE, fmt_number, fmt_pvalue, samples_line, shift_text

# Dark blue against light orange: told apart by lightness too, so a greyscale print keeps the two series apart.
REF_COLOUR, CUR_COLOUR = "#1f4e9c", "#f4a259"
STATUS_COLOUR = {"ok": "#1a7f37", "watch": "#9a6700", "alert": "#cf222e"}
LABEL_CHARS = 24  # longer bin labels are cut, with the full text in the bar's tooltip
CHAR_WIDTH = 6.5  # px of one character at the chart's 11px font, to decide whether labels must turn
PLOT_HEIGHT, TOP, LEFT, RIGHT, BOTTOM = 200, 34, 52, 12, 44
MAX_TICKS = 5
STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)  # round tick steps of the share axis, which ends by 100%

CSS = f"""
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 24px;
       max-width: 1200px; }}
h1 {{ font-size: 22px; margin: 0 0 8px; }}
h2 {{ font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #d0d7de; text-align: right; white-space: nowrap; }}
th:first-child, .text {{ text-align: left; }}
.wide {{ overflow-x: auto; }}
thead th {{ background: #f6f8fa; }}
.status-ok {{ color: {STATUS_COLOUR["ok"]}; }}
.status-watch {{ color: {STATUS_COLOUR["watch"]}; font-weight: 600; }}
.status-alert {{ color: {STATUS_COLOUR["alert"]}; font-weight: 700; }}
figure {{ margin: 16px 0 24px; break-inside: avoid; page-break-inside: avoid; }}
figcaption {{ font-weight: 600; margin-bottom: 4px; }}
svg.chart {{ max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }}
svg.chart .ref {{ fill: {REF_COLOUR}; }}
svg.chart .cur {{ fill: {CUR_COLOUR}; stroke: #8a4b0f; stroke-width: 0.6; }}
svg.chart .axis {{ stroke: #57606a; stroke-width: 1; }}
svg.chart .grid {{ stroke: #d0d7de; stroke-width: 1; stroke-dasharray: 2 3; }}
svg.chart text {{ fill: #1f2328; }}
.muted {{ color: #57606a; }}
@media print {{
  body {{ margin: 0; max-width: none; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
"""

# Tells a headless browser (and its test) how many charts really drew: a chart counts when its bars have a size.
SCRIPT = """
window.addEventListener("load", function () {
  var drawn = 0;
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var bars = svg.querySelector("g.bars");
    var box = bars && bars.getBBox();
    if (box && box.width > 0 && box.height > 0) drawn += 1;
  });
  document.body.dataset.chartsRendered = String(drawn);
});
"""


def write_report(report: DriftReport, path: Path, *, force: bool = False) -> None:
    """Write the report to `path` atomically: an interrupted run leaves the old file or none, never half a page;
    an existing file is replaced only with `force`.

    Raises:
        InputError: the file exists (without `force`) or cannot be written there.
    """
    files.write_new(path, page(report), option="--html", force=force)


def page(report: DriftReport) -> str:
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    drifted = [f for f in report.features if f.status in ("watch", "alert")]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_title(report))}</title>",
        f"<style>{CSS}</style>",
        "</head><body>",
        f"<h1>{_e(_title(report))}</h1>",
        _samples(report),
        _summary(report),
        _errors(report),
        "<h2>Features</h2>",
        _table(report),
        _reasons(report),
        "<h2>Drifted features</h2>" if drifted else "",
        *(_figure(f) for f in drifted),
        f"<script>{SCRIPT}</script>",
        "</body></html>",
        "",
    ])


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _title(report: DriftReport) -> str:
    return f"Drift report: {report.reference.source} → {report.current.source}"


def _samples(report: DriftReport) -> str:
    return f'<p class="muted">{_e(samples_line(report))}</p>'


def _summary(report: DriftReport) -> str:
    counts = {s: sum(f.status == s for f in report.features) for s in ("alert", "watch", "ok")}
    high = sum(f.severity == "high" for f in report.features)
    line = (f'<p>{len(report.features)} features: <span class="status-alert">{counts["alert"]} alert</span> '
            f'({high} high), <span class="status-watch">{counts["watch"]} watch</span>, '
            f'<span class="status-ok">{counts["ok"]} ok</span></p>')
    if not report.not_compared:
        return line
    items = "".join(f"<li><b>{_e(n.name)}</b>: {_e(n.reason)}</li>" for n in report.not_compared)
    return f"{line}<p>Not compared:</p><ul>{items}</ul>"


def _errors(report: DriftReport) -> str:
    # an incomplete run (a backend failed) must not look like a clean one
    if report.complete:
        return ""
    items = "".join(f"<li><b>{_e(e.backend)}</b>: {_e(e.message)}</li>" for e in report.errors)
    return f'<h2 class="status-alert">Incomplete</h2><ul>{items}</ul>'


HEADERS = ("Feature", "Kind", "Status", "Severity", "PSI", "KS", "KS p", "JS", "W/σ", "χ² p", "Shift", "Missing")
TEXT_COLUMNS = {"Feature", "Kind", "Status", "Severity", "Shift"}  # left-aligned; numbers align right


def _table(report: DriftReport) -> str:
    head = "".join(_column_header(h) for h in HEADERS)
    rows = "".join(_row(f) for f in report.features)
    # the wrapper scrolls a wide table on a narrow screen instead of pushing the page sideways
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _column_header(name: str) -> str:
    align = ' class="text"' if name in TEXT_COLUMNS else ""
    return f'<th scope="col"{align}>{_e(name)}</th>'


def _row(f: FeatureDrift) -> str:
    status = f'<td class="text status-{_e(f.status)}">{_e(STATUS_STYLE[f.status][0])}</td>'
    numbers = [fmt_number(f.psi), fmt_number(f.ks_stat), fmt_pvalue(f.ks_pvalue), fmt_number(f.js_divergence), fmt_number(f.wasserstein_norm),
               fmt_pvalue(f.chi2_pvalue)]
    cells = "".join(f"<td>{_e(n)}</td>" for n in numbers)
    return (f'<tr><th scope="row">{_e(f.name)}</th><td class="text">{_e(f.kind)}</td>{status}'
            f'<td class="text">{_e(f.severity)}</td>{cells}<td class="text">{_e(shift_text(f))}</td>'
            f"<td>{_e(f'{f.missing_ref:.0%}→{f.missing_cur:.0%}')}</td></tr>")


def _reasons(report: DriftReport) -> str:
    items = [item for f in report.features for item in _feature_reasons(f)]
    return f"<h2>Reasons</h2><ul>{''.join(items)}</ul>" if items else ""


def _feature_reasons(f: FeatureDrift) -> list[str]:
    items = [f"<li><b>{_e(f.name)}</b>: {_e(text)}</li>" for text in f.reasons]
    if f.note:
        items.append(f'<li><b>{_e(f.name)}</b>: <span class="muted">{_e(f.note)}</span></li>')
    return items


def _figure(f: FeatureDrift) -> str:
    caption = f"{f.name}: reference vs current ({f.kind}, PSI {fmt_number(f.psi)})"
    if not f.bins:  # no values on one side: nothing to draw, say why instead of an empty chart
        return f'<figure><figcaption>{_e(caption)}</figcaption><p class="muted">{_e(f.note or "")}</p></figure>'
    return f"<figure><figcaption>{_e(caption)}</figcaption>{chart(f)}</figure>"


def chart(f: FeatureDrift) -> str:
    """Grouped bars, reference then current share per bin, on a y axis of the share in percent."""
    group = max(22.0, min(64.0, 760 / len(f.bins)))
    longest = max(len(_short(b.label)) for b in f.bins) * CHAR_WIDTH
    turned = longest > group - 4
    width = LEFT + group * len(f.bins) + RIGHT
    reach = round(longest * 0.71) if turned else 0  # how far a label turned 45 degrees reaches down and left
    height = TOP + PLOT_HEIGHT + BOTTOM + reach
    pad = max(0, round(reach - LEFT - group / 2))  # the view starts left of 0 so the first labels are not cut
    top, step = _axis_top(max(max(b.ref_share, b.cur_share) for b in f.bins))
    label = f"{f.name}: share of reference and current values per bin"
    return "".join([
        (f'<svg class="chart" data-feature="{_e(f.name)}" viewBox="{-pad} 0 {width + pad:.0f} {height}" '
        f'width="{width + pad:.0f}" height="{height}" role="img" aria-label="{_e(label)}">'),
        _legend(),
        _y_axis(top, step, width),
        '<g class="bars">', *(_bars(b, i, group, top) for i, b in enumerate(f.bins)), "</g>",
        *(_x_label(b, i, group, turned) for i, b in enumerate(f.bins)),
        (f'<line class="axis" x1="{LEFT}" y1="{TOP + PLOT_HEIGHT}" x2="{width - RIGHT:.1f}" '
        f'y2="{TOP + PLOT_HEIGHT}"/>'),
        (f'<text x="{LEFT + (width - LEFT - RIGHT) / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f'{"bin" if f.kind == "numerical" else "category"}</text>'),
        "</svg>",
    ])


def _axis_top(largest: float) -> tuple[float, float]:
    """The y axis's top and tick step: round numbers just above the largest share, so ticks read as plain percents."""
    step = next(s for s in STEPS if largest <= s * MAX_TICKS)
    return max(step, math.ceil(largest / step - 1e-9) * step), step


def _legend() -> str:
    return (f'<rect class="ref" x="{LEFT}" y="8" width="12" height="12"/>'
            f'<text x="{LEFT + 17}" y="18">reference</text>'
            f'<rect class="cur" x="{LEFT + 90}" y="8" width="12" height="12"/>'
            f'<text x="{LEFT + 107}" y="18">current</text>')


def _y_axis(top: float, step: float, width: float) -> str:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + PLOT_HEIGHT}"/>']
    for k in range(round(top / step) + 1):
        value = step * k
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / top
        if k:
            parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_percent(value)}</text>')
    middle = TOP + PLOT_HEIGHT / 2
    parts.append(f'<text x="12" y="{middle}" text-anchor="middle" transform="rotate(-90 12 {middle})">share</text>')
    return "".join(parts)


def _percent(share: float) -> str:
    # as many decimals as the ticks need: 0.5% steps show one, 10% steps none
    return f"{share:.1%}" if round(share * 1000) % 10 else f"{share:.0%}"


def _bars(b: Bin, i: int, group: float, top: float) -> str:
    bar = (group - 6) / 2
    x = LEFT + i * group + 3
    tip = f"<title>{_e(b.label)}: reference {b.ref_share:.1%}, current {b.cur_share:.1%}</title>"
    return "".join(_bar(cls, x + k * bar, bar, share, top, tip)
                   for k, (cls, share) in enumerate((("ref", b.ref_share), ("cur", b.cur_share))))


def _bar(cls: str, x: float, width: float, share: float, top: float, tip: str) -> str:
    h = PLOT_HEIGHT * min(share / top, 1.0)
    return (f'<rect class="{cls}" x="{x:.1f}" y="{TOP + PLOT_HEIGHT - h:.1f}" width="{width:.1f}" '
            f'height="{h:.1f}">{tip}</rect>')


def _x_label(b: Bin, i: int, group: float, turned: bool) -> str:
    x, y = LEFT + (i + 0.5) * group, TOP + PLOT_HEIGHT + 14
    place = (f'text-anchor="end" transform="rotate(-45 {x:.1f} {y})"' if turned else 'text-anchor="middle"')
    return f'<text x="{x:.1f}" y="{y}" {place}><title>{_e(b.label)}</title>{_e(_short(b.label))}</text>'


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
