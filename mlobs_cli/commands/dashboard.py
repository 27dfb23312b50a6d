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
