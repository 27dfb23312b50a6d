"""`mlobs metrics`: Prometheus queries and the per-model summary of the metrics catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

from mlobs_cli import render
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
)
from mlobs_cli.errors import InputError
from mlobs_cli.timeparse import parse_duration, parse_time

app = typer.Typer(no_args_is_help=True, help="Prometheus queries and the per-model summary of the metrics catalogue.")


@app.command()
def query(
    ctx: typer.Context,
    promql: Annotated[str, typer.Argument(metavar="PROMQL", help="A PromQL expression.", show_default=False)],
    at: AtOpt = None,
    range_: Annotated[bool, typer.Option("--range", help="Evaluate over --start..--end every --step.")] = False,
    start: Annotated[str | None, typer.Option(metavar="TIME", help="Start of --range [default: 1h]",
                     show_default=False)] = None,
    end: Annotated[str | None, typer.Option(metavar="TIME", help="End of --range [default: now]",
                   show_default=False)] = None,
    step: Annotated[str | None, typer.Option(metavar="DURATION", help="Resolution of --range; widened so no "
                    "series exceeds 11,000 points [default: about 250 points]", show_default=False)] = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Evaluate PROMQL at one moment (--at), or over a range (--range --start --end --step).

    Instant queries list each series' labels and value; range queries draw each series as a sparkline in a
    table, and give every point with -o json or -o csv. --start, --end and --step without --range, or --at with
    it, exit 2. An expression the server refuses exits 2 with its message; a server that cannot be reached exits
    3. No result is not an error (exit 0).

    Example:

        mlobs metrics query 'rate(inference_requests_total[5m])' --at -2h
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    # given without --range, these would be dropped and the query run at one moment the user did not ask for
    given = [name for name, value in (("--start", start), ("--end", end), ("--step", step)) if value is not None]
    if not range_ and given:
        raise InputError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} --range: add --range, "
                         "or use --at for one moment")
    if range_ and at is not None:
        raise InputError("--at is for one moment: with --range, give --start and --end")
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.metrics import query as q

    with PrometheusClient.from_settings(s) as client:
        if range_:
            now = parse_time("now", "--end")
            seconds = parse_duration(step, "--step").total_seconds() if step else None
            result = q.range_(client, promql, parse_time(start or "1h", "--start", reference=now),
                              parse_time(end or "now", "--end", reference=now), seconds)
            if result.note:
                render.warn(result.note)
        else:
            result = q.instant(client, promql, parse_time(at, "--at") if at else None)
    finish(result, s)


@app.command()
def summary(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="Only this model.", show_default=False)] = None,
    window: WindowOpt = "5m",
    at: AtOpt = None,
    show_queries: Annotated[bool, typer.Option("--show-queries", help="Print the PromQL of every column.")] = False,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """One row per model and version: traffic, errors, latency, batching, queue, GPU and model load.

    Columns: requests/s, error rate, p50/p95/p99 latency (histogram_quantile over the rate of the buckets),
    queue depth, average batch size, p99 batch wait, GPU utilization, memory used of the fullest GPU, and p99
    model load time (over at least 1h). Each cell is coloured against the catalogue's threshold and shows its
    change (▲/▼) against the same window an hour earlier. -o json gives numbers in base units (seconds, ratios),
    the levels crossed, and the PromQL. All queries are sent together. Exit 3 if any query failed.

    Example:

        mlobs metrics summary --at 2026-11-26T03:00:00Z --show-queries
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.metrics import summary as sm

    with PrometheusClient.from_settings(s) as client:
        result = sm.summarize(client, moment(at), parse_duration(window, "--window"), model, show_queries)
    finish(result, s)
