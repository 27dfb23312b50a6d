"""`mlobs dashboard`: the seed's operational dashboard in the terminal."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mlobs_cli.commands.options import (
    AtOpt,
    ConfigOpt,
    ContextOpt,
    DebugOpt,
    InsecureOpt,
    OutputOpt,
    PrometheusOpt,
    WindowOpt,
    finish,
    moment,
    prometheus_settings,
    within,
)
from mlobs_cli.errors import ExitCode
from mlobs_cli.timeparse import parse_duration


app = typer.Typer(rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def dashboard(
    ctx: typer.Context,
    window: WindowOpt = "5m",
    at: AtOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Draw once and exit (always so off a terminal).")] = False,
    refresh: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between refreshes when live.",
                       **within(1.0, 86_400.0))] = 15.0,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The operational dashboard: stat cards, request rate by model, latency, GPU memory, queue, model health.

    Stat cards (requests/s, p99 latency, error rate, GPU utilization) with their change against an hour earlier,
    request rate by model over 24 h as sparklines (each point the rate over its 15-minute step, so nothing
    between two points goes unseen), the latency distribution with p50/p95/p99, GPU memory by instance/GPU as
    bars (⚠ over the catalogue's 90%), queue depth over the last hour, and the model health table (version,
    replicas up, health, traffic share). All queries are sent together. On a terminal it refreshes every
    --refresh seconds until Ctrl-C, with the failed queries and the server's warnings in a footer; with --once,
    --at, another -o, or off a terminal it draws once. Exit 3 if a panel's query failed.

    Example:

        mlobs dashboard --context prod-eu --once
    """
    if ctx.invoked_subcommand:  # `dashboard model MODEL`: that command draws
        return
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    window_delta = parse_duration(window, "--window")
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.metrics import dashboard as db

    live = not once and at is None and s.output == "table" and sys.stdout.isatty()
    with PrometheusClient.from_settings(s) as client:
        if not live:
            finish(db.build(client, moment(at), window_delta), s)
        from mlobs_cli.render import metrics as view

        view.live(lambda: db.build(client, moment(None), window_delta), refresh)  # until Ctrl-C
    raise typer.Exit(int(ExitCode.INTERRUPTED))


@app.command("model")
def model_dashboard(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="The model_id of the logs.")],
    source: Annotated[str | None, typer.Option("--source", "-s", metavar="PATH|URL|NAME", show_default=False,
                      help="The prediction logs (as `mlobs logs` takes them) [env: MLOBS_LOG_SOURCE]")] = None,
    baseline: Annotated[str, typer.Option(metavar="FROM..TO", help="Reference period of the PSI panels.")] = "7d..1d",
    current: Annotated[str, typer.Option(metavar="DURATION|FROM..TO", help="The period shown.")] = "24h",
    once: Annotated[bool, typer.Option("--once", help="Draw once and exit (always so off a terminal).")] = False,
    refresh: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between refreshes when live.",
                       **within(1.0, 86_400.0))] = 60.0,
    experiment: Annotated[str | None, typer.Option(metavar="NAME", show_default=False, help=(
        "The experiment panel's experiment [default: the one most of the model's latest logged predictions "
        "belong to]"))] = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The model health dashboard: feature PSI, prediction and confidence distributions, low-confidence table,
    experiment status.

    The design's second dashboard, from the prediction logs: feature PSI bars (● <0.1 OK, ◐ 0.1-0.2 Watch,
    ● >0.2 Alert), the predicted class distribution of the reference and current periods with its PSI, the
    confidence distribution with its average and share under 0.6, the low-confidence predictions per 15 minutes,
    and the experiment panel (`experiment status` of the model's experiment over the current period). With
    Prometheus (--prometheus or --context), feature PSI is the feature_psi{model, feature} that `drift compare
    --pushgateway` publishes, else it is computed from the logs. A panel without data says why. Live
    on a terminal (every --refresh seconds, until Ctrl-C); with --once, another -o or off a terminal it draws once.

    Example:

        mlobs dashboard model fraud-det --source examples/prediction-logs.jsonl --baseline 2025-01-07..2025-01-08T12:00 --current 2025-01-08T12:00..2025-01-09 --once
    """
    from mlobs_cli import render

    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure, **{"log.source": source})
    from contextlib import ExitStack

    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.quality import dashboard as db

    with ExitStack() as stack:
        client = stack.enter_context(PrometheusClient.from_settings(s)) if s["prometheus.url"] else None

        def build() -> db.ModelDashboard:
            return db.build(model, source, baseline, current, s, client, experiment)

        if once or s.output != "table" or not sys.stdout.isatty():
            result = build()
            render.emit(result, s.output)
            raise typer.Exit(result.exit_code())
        from mlobs_cli.render import quality as view

        view.live(build, refresh)
    raise typer.Exit(int(ExitCode.INTERRUPTED))
