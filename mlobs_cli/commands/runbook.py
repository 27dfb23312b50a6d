"""`mlobs runbook`: Runbooks as data, walked with live evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlobs_cli import render
from mlobs_cli.commands.options import (
    ConfigOpt,
    ContextOpt,
    DebugOpt,
    InsecureOpt,
    OutputOpt,
    PrometheusOpt,
    prometheus_settings,
    refuse_log_password,
    settings,
)
from mlobs_cli.config import Settings
from mlobs_cli.errors import ExitCode
from mlobs_cli.timeparse import TIME_HELP

app = typer.Typer(no_args_is_help=True, help="Runbooks as data, walked with live evidence.")

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL", help="Look at this model only [default: every "
                                              "model; those over the SLO first]", show_default=False)]
AtOpt = Annotated[str | None, typer.Option("--at", metavar="TIME", help="Evaluate every check at this moment, "
                  f"to replay an incident that is over: {TIME_HELP} [default: now]", show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option("--set", metavar="NAME=VALUE", help="Set an input of the "
                   "runbook (see `mlobs runbook show NAME`); repeatable.", show_default=False)]
AlertOpt = Annotated[Path | None, typer.Option("--from-alert", metavar="FILE", help="An Alertmanager alert (JSON: "
                     "one alert, a list, or a webhook payload): its labels (model, version) fill the inputs.",
                     show_default=False, dir_okay=False)]
NoInputOpt = Annotated[bool, typer.Option("--no-input", help="Run every automatic check and print the whole "
                       "report; ask nothing, execute nothing (also when stdin is not a terminal).")]
StartAtOpt = Annotated[str | None, typer.Option("--start-at", metavar="STEP", help="Begin at this step (id or "
                       "number); the steps before it are not run.", show_default=False)]
ReportOpt = Annotated[Path | None, typer.Option("--report", metavar="FILE", help="Also write the incident "
                      "timeline as Markdown.", show_default=False, dir_okay=False)]
RecordOpt = Annotated[Path | None, typer.Option("--record", metavar="FILE", help="Save the walk's Prometheus "
                      "answers and conclusions as a fixture for `mlobs runbook test`.", show_default=False,
                      dir_okay=False)]
SourceOpt = Annotated[str | None, typer.Option("--source", "-s", metavar="PATH|URL|NAME", help="Also read the "
                      "prediction-log store (as `mlobs logs`): sets the input log_source.", show_default=False)]
NvmlOpt = Annotated[str | None, typer.Option("--nvml", metavar="live|FILE", help="Also read GPUs through NVML: "
                    "`live` for this node, or a recording from `mlobs gpu record`: sets the input nvml.",
                    show_default=False)]
ReferenceOpt = Annotated[str | None, typer.Option("--reference", metavar="FILE", help="A reference sample for "
                         "the drift step's `drift compare` (with --current).", show_default=False)]
CurrentOpt = Annotated[str | None, typer.Option("--current", metavar="FILE", help="A current sample for the "
                       "drift step's `drift compare`.", show_default=False)]
ExitZeroOpt = Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when the runbook concludes there is an "
                        "active problem (a backend error still exits 3).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show executable mitigations fully resolved; never "
                      "run one.")]


def _walk(name: str, *, model: str | None, sets: list[str] | None, from_alert: Path | None,
          at: str | None, no_input: bool, start_at: str | None, report: Path | None, record: Path | None,
          dry_run: bool, s: Settings, sources: dict[str, str | None], exit_zero: bool) -> None:
    from mlobs_cli.runbook import service

    service.refuse_existing(report, "--report")
    service.refuse_existing(record, "--record")
    refuse_log_password("--source", sources.get("log_source"))
    for assignment in sets or ():
        key, _, value = assignment.partition("=")
        if key.strip() == "log_source":
            refuse_log_password("--set log_source", value)
    request = service.Request(name, sets=tuple(sets or ()), given={"model": model, **sources},
                              alert=from_alert, at=at, start_at=start_at, dry_run=dry_run)
    interactive = _interactive(no_input, s)
    recorder, prometheus = _prometheus(s, record)
    walk = service.open_walk(request, s, prometheus, mode="interactive" if interactive else "no_input")
    _drive(walk, interactive, s, report, record, recorder, name if service.is_file(name) else None, exit_zero)


def _sources(source: str | None, nvml: str | None, reference: str | None, current: str | None
             ) -> dict[str, str | None]:
    """The options that name an input of the runbook (the shipped runbook has each)."""
    return {"log_source": source, "nvml": nvml, "reference": reference, "current": current}


def _interactive(no_input: bool, s: Settings) -> bool:
    return not no_input and s.output == "table" and sys.stdin.isatty() and sys.stdout.isatty()


def _prometheus(s: Settings, record: Path | None) -> tuple[Any, Any]:
    """The Prometheus client a walk opens on its first query; with --record, wrapped by the recorder."""
    from mlobs_cli.backends.prometheus import PrometheusClient

    def opener() -> PrometheusClient:
        return PrometheusClient.from_settings(s)

    if record is None:
        return None, opener
    from mlobs_cli.runbook.fixtures import Recorder

    recorder = Recorder(opener)
    return recorder, lambda: recorder


def _drive(walk: Any, interactive: bool, s: Settings, report: Path | None, record: Path | None,
           recorder: Any, runbook_file: str | None, exit_zero: bool) -> None:
    from mlobs_cli.render import runbook as view

    try:
        result = walk.interactive(view.InteractiveUI()) if interactive else walk.automatic()
    finally:
        walk.close()
    if not interactive:
        render.emit(result, s.output)
    if result.interrupted and (report is not None or record is not None):
        # a walk cut short concludes nothing: a report would say "active problem: no" and a fixture would expect
        # nothing of the steps never run
        render.warn(f"interrupted: {' and '.join(f for f, p in (('--report', report), ('--record', record)) if p)} "
                    "not written; `mlobs runbook resume` goes on")
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if report is not None:
        view.write_report(result, report)
    if record is not None:
        from mlobs_cli.runbook import fixtures

        fixtures.save(record, result, recorder, s, runbook_file)
    raise typer.Exit(int(ExitCode.INTERRUPTED if result.interrupted else result.exit_code(exit_zero)))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """List the runbooks: the team's own (runbook.dir, $XDG_CONFIG_HOME/mlobs/runbooks) and the shipped ones.

    A team adds a runbook by dropping a YAML file in its directory, with no code; a file that is not a valid
    runbook is listed with its problem.

    Example:

        mlobs runbook list
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    from mlobs_cli.runbook import reports, service

    render.emit(reports.RunbookList(tuple(service.catalogue(s))), s.output)


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Runbook name, alias or file.")],
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print a runbook as a readable page: symptoms, inputs, steps with their checks and rules, mitigations.

    Example:

        mlobs runbook show latency
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    from mlobs_cli.runbook import reports, service

    render.emit(reports.RunbookPage(service.find(name, s)), s.output)


@app.command()
def walk(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Runbook name, alias or file.")],
    model: ModelOpt = None,
    set_: SetOpt = None,
    from_alert: AlertOpt = None,
    at: AtOpt = None,
    no_input: NoInputOpt = False,
    start_at: StartAtOpt = None,
    report: ReportOpt = None,
    record: RecordOpt = None,
    dry_run: DryRunOpt = False,
    exit_zero: ExitZeroOpt = False,
    source: SourceOpt = None,
    nvml: NvmlOpt = None,
    reference: ReferenceOpt = None,
    current: CurrentOpt = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Walk a runbook: run each step's checks, show the evidence and the verdict, rank the likely causes.

    On a terminal, one step at a time: run, skip, back, note or quit before each step, with the escalation clock
    on screen; a skipped step runs nothing. With --no-input (or no terminal) every check runs and the whole report
    is printed. The state is saved after every step (`mlobs runbook resume`). Mitigations are printed with their
    command and undo; an executable one runs only after a dry run and typing the deployment's name. --at replays
    an incident that is over. Exit 1 when the runbook concludes there is an active problem, else 3 when a backend
    was unreachable, a step had no data or the walk was quit before its end; 130 on Ctrl-C.

    Example:

        mlobs runbook walk latency --model resnet50 --no-input --report incident.md
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    _walk(name, model=model, sets=set_, from_alert=from_alert, at=at, no_input=no_input, start_at=start_at,
          report=report, record=record, dry_run=dry_run, s=s, sources=_sources(source, nvml, reference, current),
          exit_zero=exit_zero)


@app.command()
def latency(
    ctx: typer.Context,
    model: ModelOpt = None,
    set_: SetOpt = None,
    from_alert: AlertOpt = None,
    at: AtOpt = None,
    no_input: NoInputOpt = False,
    start_at: StartAtOpt = None,
    report: ReportOpt = None,
    record: RecordOpt = None,
    dry_run: DryRunOpt = False,
    exit_zero: ExitZeroOpt = False,
    source: SourceOpt = None,
    nvml: NvmlOpt = None,
    reference: ReferenceOpt = None,
    current: CurrentOpt = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Walk the high-latency runbook (`runbook walk latency`): p99 over the SLO, scope, saturation, batching, drift.

    The SLO is 100 ms, 200 ms for the models listed in runbook.llm_models. Without --model every model over its
    SLO comes first. Options as `mlobs runbook walk`.

    Example:

        mlobs runbook latency --no-input --at 2026-11-26T03:00:00Z --prometheus http://localhost:9090
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    _walk("latency", model=model, sets=set_, from_alert=from_alert, at=at, no_input=no_input,
          start_at=start_at, report=report, record=record, dry_run=dry_run, s=s,
          sources=_sources(source, nvml, reference, current), exit_zero=exit_zero)


@app.command()
def resume(
    ctx: typer.Context,
    walk_id: Annotated[str | None, typer.Argument(metavar="[WALK]", help="The walk to resume [default: the latest "
                       "unfinished one].", show_default=False)] = None,
    no_input: NoInputOpt = False,
    report: ReportOpt = None,
    exit_zero: ExitZeroOpt = False,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Resume a walk that was quit, interrupted or crashed, at the step where it stopped.

    The steps done before keep their evidence, answers and notes; the walk's time (--at) and inputs are those it
    started with, and its escalation clock goes on from its first start.

    Example:

        mlobs runbook resume --prometheus http://localhost:9090
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    from mlobs_cli.runbook import service

    service.refuse_existing(report, "--report")
    _, factory = _prometheus(s, None)
    _drive(service.resume(walk_id, s, factory), _interactive(no_input, s), s, report, None, None, None, exit_zero)


@app.command()
def lint(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(metavar="[FILE]...", help="Runbook files [default: every "
                     "runbook `mlobs runbook list` finds].", show_default=False, dir_okay=False)] = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Validate runbooks: the JSON Schema (runbooks/schema.json), templates and expressions that name only defined
    variables, rules and lookups of existing checks, causes with mitigations, catalogue thresholds, PromQL syntax.

    Every problem is shown with its line. Exit 1 when there is one.

    Example:

        mlobs runbook lint ~/.config/mlobs/runbooks/my-runbook.yaml
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    from mlobs_cli.runbook import reports, service

    chosen = list(files or ()) or [Path(e.path) for e in service.catalogue(s)]
    result = reports.lint(chosen)
    render.emit(result, s.output)
    raise typer.Exit(int(result.exit_code()))


@app.command()
def test(
    ctx: typer.Context,
    fixtures: Annotated[list[Path] | None, typer.Argument(metavar="[FIXTURE]...", help="Fixtures (JSON, from "
                        "`walk --record`) [default: the fixtures shipped with the runbooks].", show_default=False,
                        dir_okay=False)] = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Replay runbooks against recorded query results and check the verdicts, the causes and the path taken.

    A fixture is a walk recorded with `--record FILE`. Exit 1 when a fixture's conclusions differ.

    Example:

        mlobs runbook test
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    from mlobs_cli.runbook import fixtures as fx

    result = fx.run_all(list(fixtures or ()), s)
    render.emit(result, s.output)
    raise typer.Exit(int(result.exit_code()))
