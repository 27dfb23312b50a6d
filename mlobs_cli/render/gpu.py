"""How a GPU report looks in a terminal: the GPUs, their processes and MIG instances, the findings; and the live
`--watch` view, which redraws the same in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

from mlobs_cli.gpu.report import SEVERITIES, Gpu, GpuReport
from mlobs_cli.render import fitting_columns

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.table import Table
    from rich.text import Text

# rich is imported where it draws: `emit` imports this module to look up the view even for -o json, which
# then loads no rich at all.

NA = "n/a"
GIB = 1 << 30
SEVERITY_STYLE = {"alert": "bold red", "warn": "yellow", "info": "blue", "ok": "green"}


def _na(value: object, fmt: str = "{}") -> str:
    return NA if value is None else fmt.format(value)


def _pair(value: object, limit: object, unit: str = "") -> str:
    """`value / limit unit`, n/a for either side that is unknown."""
    if value is None and limit is None:
        return NA
    return f"{_na(value)} / {_na(limit)}{unit}"


def _gib(n: int | None) -> str:
    return NA if n is None else f"{n / GIB:.1f}"


def _memory(g: Gpu) -> str:
    m = g.memory
    if m.total is None and m.used is None:
        return NA
    pct = m.used_percent
    return f"{_gib(m.used)} / {_gib(m.total)} GiB" + ("" if pct is None else f" {pct:.0f}%")


def _utilization(g: Gpu) -> str:
    if g.utilization_gpu is None and g.utilization_memory is None:
        return NA
    return f"{_na(g.utilization_gpu, '{:.0f}%')} / {_na(g.utilization_memory, '{:.0f}%')}"


def _power(g: Gpu) -> str:
    p = g.power
    if p.draw_w is None and p.limit_w is None:
        return NA
    return f"{_na(p.draw_w, '{:.0f}')} / {_na(p.limit_w, '{:.0f}')} W"


def _events(g: Gpu) -> str:
    events = g.clocks.events
    if events is None:
        return NA
    return ", ".join(e.replace("_setting", "").replace("_slowdown", "") for e in events) or "none"


def _pcie(g: Gpu) -> str:
    p = g.pcie
    if p.generation is None and p.width is None:
        return NA
    return f"gen{_na(p.generation)} x{_na(p.width)} / gen{_na(p.generation_max)} x{_na(p.width_max)}"


def _ecc(g: Gpu) -> str:
    e = g.ecc
    if e.enabled is False:
        return "off"
    if e.uncorrected_volatile is None and e.uncorrected_aggregate is None:
        return NA
    return f"{_na(e.uncorrected_volatile)} / {_na(e.uncorrected_aggregate)}"


def status_of(g: Gpu, report: GpuReport) -> str:
    """The worst severity of this GPU's findings, `lost` for a lost GPU, `ok` without findings."""
    if g.lost:
        return "lost"
    severities = [f.severity for f in report.findings if f.subject == g.label]
    return max(severities, key=SEVERITIES.index) if severities else ("error" if g.error else "ok")


# (header, justify, drop rank): on a narrow terminal the columns with the highest rank go first
COLUMNS = [("GPU", "right", 0), ("Name", "left", 4), ("Status", "left", 0), ("Util gpu/mem", "right", 0),
           ("Memory", "right", 0), ("Temp/slow C", "right", 1), ("Power", "right", 2), ("SM MHz", "right", 5),
           ("Clock events", "left", 3), ("ECC unc v/a", "right", 6)]


def _cells(g: Gpu, report: GpuReport) -> list[str | Text]:
    from rich.text import Text
    
    state = status_of(g, report)
    style = SEVERITY_STYLE.get(state, "bold red")
    return [_na(g.index), g.name or NA, Text(state, style=style), _utilization(g), _memory(g),
            _pair(g.temperature.gpu, g.temperature.slowdown), _power(g), _pair(g.clocks.sm_mhz, g.clocks.sm_max_mhz),
            _events(g), _ecc(g)]


def header(report: GpuReport) -> str:
    s = report.source
    where = {"nvml": "this machine (NVML)", "replay": f"recording {s.location}",
             "prometheus": f"dcgm-exporter metrics in {s.location}"}[s.kind]
    line = where + (f", captured {s.captured_at}" if s.captured_at and s.kind == "replay" else "")
    if s.kind != "prometheus":
        line += (f"\ndriver {_na(report.driver_version)} · CUDA {_na(report.cuda_driver_version)}"
                 f" · NVML {_na(report.nvml_version)}")
    return line


def summary(report: GpuReport) -> str:
    hosts = {g.host for g in report.gpus if g.host}
    counts = {s: sum(f.severity == s for f in report.findings) for s in reversed(SEVERITIES)}
    where = f" on {len(hosts)} host{'s' if len(hosts) != 1 else ''}" if hosts else ""
    found = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    return f"{len(report.gpus)} GPU{'s' if len(report.gpus) != 1 else ''}{where}: {found}"


def _gpu_tables(report: GpuReport, width: int) -> list[Table | Text]:
    """One table of GPUs per host (one table for a single machine)."""
    from rich.table import Table
    
    hosts: dict[str | None, list[list[str | Text]]] = {}
    for g in report.gpus:
        hosts.setdefault(g.host, []).append(_cells(g, report))
    shown = fitting_columns(COLUMNS, [row for rows in hosts.values() for row in rows], width)
    parts: list[Table | Text] = []
    for host, rows in hosts.items():
        t = Table(box=None, pad_edge=False, header_style="bold", title=f"host {host}" if host else None,
                  title_justify="left", title_style="bold")
        for i in shown:
            t.add_column(COLUMNS[i][0], justify=COLUMNS[i][1], no_wrap=True)
        for cells in rows:
            t.add_row(*(cells[i] for i in shown))
        parts.append(t)
    return parts


def _details(g: Gpu) -> str:
    """The rest of what NVML says of a GPU, on one line under the table."""
    if g.error:
        return f"{g.label}{' ' + g.uuid if g.uuid else ''}: {g.error}"
    r, rp, e = g.remapped_rows, g.retired_pages, g.ecc
    yes = {True: "yes", False: "no", None: NA}
    on = {True: "on", False: "off", None: NA}
    rows = (f"remapped rows {_na(r.corrected)} corrected / {_na(r.uncorrected)} uncorrected, pending "
            f"{yes[r.pending]}, failure {yes[r.failure]}")
    pages = f"retired pages {_na(rp.single_bit)} sbe / {_na(rp.double_bit)} dbe, pending {yes[rp.pending]}"
    ecc = (f"ECC {on[e.enabled]}, uncorrected {_na(e.uncorrected_volatile)} / {_na(e.uncorrected_aggregate)}, "
           f"corrected {_na(e.corrected_volatile)} / {_na(e.corrected_aggregate)} (volatile / aggregate)")
    mig = "MIG " + (f"on ({len(g.mig.instances)} instances)" if g.mig.enabled else on[g.mig.enabled])
    xid = "XID " + (NA if g.xid_events is None else ", ".join(map(str, g.xid_events)) or "none")
    mem = f"memory reserved {_gib(g.memory.reserved)} GiB"
    return " · ".join([f"{g.label} {_na(g.uuid)}: {_na(g.performance_state, 'P{}')}", f"PCIe {_pcie(g)}", ecc,
                       rows if r.pending is not None else pages, mem, "persistence " + on[g.persistence_mode], mig,
                       xid])


def _processes(report: GpuReport) -> Table | None:
    from rich.table import Table
    
    rows = [(g, p) for g in report.gpus for p in g.processes or ()]
    if not rows:
        return None
    fleet = any(g.host for g in report.gpus)
    t = Table(box=None, pad_edge=False, header_style="bold", title="processes", title_justify="left",
              title_style="bold")
    for name, justify in (("GPU", "right"), ("PID", "right"), ("Process", "left"), ("Memory", "right"),
                          ("Model", "left")):
        t.add_column(name, justify=justify, overflow="fold")
    for g, p in rows:
        memory = NA if p.used_memory is None else f"{p.used_memory / GIB:.1f} GiB"
        where = f"{g.host}/{_na(g.index)}" if fleet else _na(g.index)
        mig = f" MIG GI {p.gpu_instance_id}" if p.gpu_instance_id is not None else ""
        t.add_row(where + mig, _na(p.pid), p.shown_name, memory, p.model or NA)
    return t


def _mig(report: GpuReport) -> Table | None:
    from rich.table import Table
    
    rows = [(g, m) for g in report.gpus for m in g.mig.instances]
    if not rows:
        return None
    t = Table(box=None, pad_edge=False, header_style="bold", title="MIG instances", title_justify="left",
              title_style="bold")
    for name in ("GPU", "MIG", "Profile", "GI/CI", "Memory", "Util", "UUID"):
        t.add_column(name, overflow="fold")
    for g, m in rows:
        memory = NA if m.memory_total is None else f"{_gib(m.memory_used)} / {_gib(m.memory_total)} GiB"
        t.add_row(f"{g.host}/{_na(g.index)}" if g.host else _na(g.index), str(m.index), m.name or NA, f"{_na(m.gpu_instance_id)}/{_na(m.compute_instance_id)}",
                  memory, _na(m.utilization_gpu, "{:.0f}%"), m.uuid or NA)
    return t


def _findings(report: GpuReport) -> list[Text]:
    from rich.text import Text
    
    ordered = sorted(report.findings, key=lambda f: -SEVERITIES.index(f.severity))
    # the UUID after the check: indexes change across reboots, the UUID is what DCGM and the fleet's inventory use
    return [Text.assemble((f"{f.severity.upper():5} ", SEVERITY_STYLE[f.severity]), (f"{f.subject}: ", "bold"),
                          f.message, (f"  [{f.check}]", "dim"),
                          (f" {f.uuid}" if getattr(f, "uuid", None) else "", "dim")) for f in ordered]


def renderable(report: GpuReport, width: int) -> Group:
    from rich.console import Group
    from rich.text import Text
    
    parts: list = [Text(header(report))]
    parts += _gpu_tables(report, width)
    if report.source.kind != "prometheus":
        parts += [Text(_details(g), style="dim") for g in report.gpus]
    parts += [t for t in (_processes(report), _mig(report)) if t is not None]
    parts += [Text(f"{g.label}: {note}", style="dim") for g in report.gpus for note in g.notes]
    parts += _findings(report)
    parts.append(Text(summary(report), style="bold"))
    return Group(*parts)


def table(report: GpuReport, console: Console) -> None:
    console.print(renderable(report, console.width))


def markdown_header(report: GpuReport) -> str:
    return f"**GPU status** — {header(report).replace(chr(10), ' · ')}\n\n{summary(report)}"


def watch(next_report: Callable[[], GpuReport], interval: float) -> None:
    """Redraw `next_report()` every `interval` seconds until Ctrl-C. On a terminal it redraws in place (one
    refresh per interval, no animation, so it costs a few ms of CPU a tick); elsewhere (a pipe, a log file) it
    writes one report after the other."""
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from mlobs_cli.render import stdout_console

    console = stdout_console()
    deadline = time.monotonic()
    try:
        with Live(console=console, auto_refresh=False) if console.is_terminal else nullcontext() as live:
            while True:
                report = next_report()
                stamp = Text(f"every {interval:g} s, {time.strftime('%H:%M:%S')} (Ctrl-C to stop)", style="dim")
                view = Group(stamp, renderable(report, console.width))
                if live is None:
                    console.print(view)
                    console.print()
                else:
                    live.update(view, refresh=True)
                deadline = max(deadline + interval, time.monotonic())  # late: wait a whole interval, no burst
                time.sleep(deadline - time.monotonic())
    except KeyboardInterrupt:
        return

