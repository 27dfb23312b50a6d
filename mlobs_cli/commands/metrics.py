"""`mlobs metrics`: Prometheus queries and the per-model summary of the metrics catalogue.

Also the options every command that reads Prometheus takes (`--prometheus`, `--context`, `--insecure`, `--at`),
and the last step they share: warnings to stderr, the result through render.emit, the exit code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from mlobs_cli import render
from mlobs_cli.commands.options import ConfigOpt, DebugOpt, OutputOpt, settings
from mlobs_cli.config import Settings
from mlobs_cli.errors import InputError
from mlobs_cli.timeparse import TIME_HELP, parse_duration, parse_time

app = typer.Typer(no_args_is_help=True, help="Prometheus queries and the per-model summary of the metrics catalogue.")

PrometheusOpt = Annotated[str | None, typer.Option(
    "--prometheus", metavar="URL", help="Prometheus, Thanos, Mimir or VictoriaMetrics base URL; a token goes in "
    "MLOBS_PROMETHEUS_TOKEN or the config file, never here [env: MLOBS_PROMETHEUS_URL]", show_default=False)]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="A named endpoint from `contexts:` in the config file, like kubectl's "
    "[env: MLOBS_CONTEXT]", show_default=False)]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure", help="Do not verify the server's TLS certificate [env: MLOBS_PROMETHEUS_INSECURE]")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help=f"The moment shown: {TIME_HELP} [default: now]", show_default=False)]
WindowOpt = Annotated[str, typer.Option(
    "--window", metavar="DURATION", help="Range of every rate and quantile, like 5m")]


def prometheus_settings(ctx: typer.Context, output: Any, config: str | None, debug: bool, prometheus: str | None,
                        context: str | None, insecure: bool, **flags: Any) -> Settings:
    """Settings of a command that reads Prometheus: the shared options, then the command's own `flags`."""
    return settings(ctx, output=output, config=config, debug=debug, **{
        "prometheus.url": prometheus, "context": context, "prometheus.insecure": insecure or None, **flags})


def moment(at: str | None) -> datetime:
    """--at as a time (now when not given): one reading of the clock for every query of the view."""
    return parse_time(at or "now", "--at")


def finish(result: Any, s: Settings) -> None:
    """Warnings of the server to stderr, the result to stdout, then exit with the result's code."""
    for warning in result.warnings:
        render.warn(f"{getattr(result, 'source', 'prometheus')}: {warning}")  # `alerts firing` may ask Alertmanager
    render.emit(result, s.output)
    raise typer.Exit(int(result.exit_code()))


@app.command()
def query(
    ctx: typer.Context,
    promql: Annotated[str, typer.Argument(metavar="PROMQL", help="A PromQL expression.", show_default=False)],
    at: AtOpt = None,
    range_: Annotated[bool, typer.Option("--range", help="Evaluate over --start..--end every --step.")] = False,
    start: Annotated[str, typer.Option(metavar="TIME", help="Start of --range.")] = "1h",
    end: Annotated[str, typer.Option(metavar="TIME", help="End of --range.")] = "now",
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
    table, and give every point with -o json or -o csv. An expression the server refuses exits 2 with its
    message; a server that cannot be reached exits 3. No result is not an error (exit 0).

    Example:

        mlobs metrics query 'rate(inference_requests_total[5m])' --at -2h
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    if not range_ and step is not None:
        raise InputError("--step needs --range")
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.metrics import query as q

    with PrometheusClient.from_settings(s) as client:
        if range_:
            now = parse_time("now", "--end")
            seconds = parse_duration(step, "--step").total_seconds() if step else None
            result = q.range_(client, promql, parse_time(start, "--start", reference=now),
                              parse_time(end, "--end", reference=now), seconds)
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
