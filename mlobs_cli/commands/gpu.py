"""`mlobs gpu`: GPU health through NVML, on one node or across the fleet (dcgm-exporter)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlobs_cli import render
from mlobs_cli.commands.options import (
    ConfigOpt,
    ContextOpt,
    DebugOpt,
    InsecureOpt,
    OutputOpt,
    prometheus_settings,
    settings,
    split_list,
    within,
)
from mlobs_cli.errors import ExitCode, InputError

app = typer.Typer(no_args_is_help=True, help="GPU health through NVML, on one node or across the fleet (dcgm-exporter).")


class FailOn(str, Enum):
    info = "info"
    warn = "warn"
    alert = "alert"


GpuOpt = Annotated[list[str] | None, typer.Option("--gpu", metavar="INDEX|UUID", help="Only this GPU (an index, "
                   "or a UUID or its start); repeat or separate with commas for more.", show_default=False)]


@app.command()
def status(
    ctx: typer.Context,
    gpu: GpuOpt = None,
    replay: Annotated[Path | None, typer.Option(metavar="FILE", help="Show and judge a recording (`mlobs gpu "
                      "record`) instead of this machine's GPUs.", dir_okay=False, show_default=False)] = None,
    prometheus: Annotated[str | None, typer.Option(metavar="URL", help="Every GPU of the fleet from dcgm-exporter "
                          "metrics in this Prometheus; a token goes in MLOBS_PROMETHEUS_TOKEN or the config file.",
                          show_default=False)] = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    watch: Annotated[float | None, typer.Option(metavar="SECONDS", help="Redraw every SECONDS until Ctrl-C "
                     "(exit 130).", show_default=False, **within(0.1, 86_400.0))] = None,
    fail_on: Annotated[FailOn | None, typer.Option(help="Exit 1 on a finding at or above this severity "
                       "[env: MLOBS_GPU_FAIL_ON] [default: alert]", show_default=False)] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even with findings.")] = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Per GPU: what NVML reports, what is wrong, and what to do.

    Utilization, memory (used, reserved, total), temperature against the slowdown threshold, power against the
    enforced limit, clocks and why they are held down, ECC errors, remapped rows, PCIe link, persistence and MIG
    mode, XID errors seen during a short wait, and the processes with the model each serves. A field the GPU does
    not support is n/a (null in JSON). Thresholds are in the config file (`mlobs config show`, gpu.*). Exit 1 on
    a finding at or above --fail-on, 3 when NVML cannot be used (no driver, driver not loaded, version mismatch,
    no permission) or the result is incomplete.

    Example:

    \b
        mlobs gpu status --gpu 0 -o json
        mlobs gpu status --replay incident-4711.json
        mlobs gpu status --prometheus http://prometheus:9090 --fail-on warn
        mlobs gpu status --context prod-eu
    """
    # the fleet view takes the options of every command that reads Prometheus (--context, --insecure)
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure,
                            **{"gpu.fail_on": fail_on.value if fail_on else None})
    from mlobs_cli.gpu import service  # NVML (and httpx, for --prometheus) load only once the options are good

    request = service.Request(split_list(gpu), replay, prometheus is not None or context is not None, watch)
    request.check(s.output)
    if request.watch is not None:
        from mlobs_cli.render import gpu as gpu_view

        with service.Session(request, s) as session:
            gpu_view.watch(session.report, request.watch)
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    report = service.status(request, s)
    render.emit(report, s.output)
    raise typer.Exit(int(report.exit_code(s["gpu.fail_on"], exit_zero)))


@app.command()
def record(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The recording to write (JSON).", dir_okay=False)],
    gpu: GpuOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write this machine's NVML answers to FILE, for the incident.

    Reads this machine's GPUs as `gpu status` does and writes each NVML call's answer (or error) to FILE, then
    shows the status. `mlobs gpu status --replay FILE` shows and judges it anywhere, exactly as it was. The file
    holds the GPU processes' command lines (secret flags such as --api-key masked), and of their environment only
    the variables named by gpu.model_env.
    When NVML cannot be used at all, FILE records why, and the command exits 3. Otherwise it exits 0.

    Example:

        mlobs gpu record incident-4711.json
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    if file.exists() and not force:
        raise InputError(f"{file} exists: pass --force to replace it, or choose another name")
    from mlobs_cli.gpu import service

    report = service.record(file, service.Request(split_list(gpu)), s)
    render.emit(report, s.output)
    render.stderr_console().print(f"wrote {file}", markup=False)
