"""`mlobs trace`: where the time of a request went: one trace's waterfall, the breakdown of many, one against
a baseline."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from mlobs_cli import render
from mlobs_cli.commands.logs import FromOpt, ModelOpt, SinceOpt, ToOpt, _finish
from mlobs_cli.commands.options import ConfigOpt, DebugOpt, OutputOpt, settings
from mlobs_cli.errors import InputError, combine

app = typer.Typer(no_args_is_help=True, help=(
    "Where the time of a request went, from its trace: the span tree with self times and the critical path, the "
    "breakdown of many traces by stage, and one trace against a baseline.\n\n"
    "The traces are OTLP JSON files (the OpenTelemetry Collector's file exporter), a Jaeger query service "
    "(jaeger+http://HOST:16686) or Grafana Tempo (tempo+http://HOST:3200); --source, MLOBS_TRACE_SOURCE or "
    "trace.source names them.\n\nExample:\n\n    mlobs trace breakdown --source 'traces/*.jsonl' --since 1h"))

SourceOpt = Annotated[str | None, typer.Option(
    "--source", "-s", metavar="PATH|URL", show_default=False,
    help="The traces: OTLP JSON files (a path or glob, gzip allowed), jaeger+http(s)://HOST:16686 or "
         "tempo+http(s)://HOST:3200; credentials in MLOBS_TRACE_TOKEN or MLOBS_TRACE_PASSWORD, not here "
         "[env: MLOBS_TRACE_SOURCE]")]
RequestIdOpt = Annotated[str | None, typer.Option(metavar="ID", show_default=False, help=(
    "Find the trace of this request by its trace_id in the prediction logs (--log-source)."))]
LogSourceOpt = Annotated[str | None, typer.Option(metavar="PATH|URL|NAME", show_default=False, help=(
    "The prediction logs --request-id is looked up in, as `mlobs logs --source` [env: MLOBS_LOG_SOURCE]"))]
TraceIdArg = Annotated[str | None, typer.Argument(metavar="[TRACE_ID]", show_default=False,
                                                  help="The trace id: up to 32 hexadecimal digits.")]


@app.command()
def show(
    ctx: typer.Context,
    trace_id: TraceIdArg = None,
    request_id: RequestIdOpt = None, log_source: LogSourceOpt = None,
    source: SourceOpt = None, output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """One trace as a waterfall: each span's offset, duration, self time and share of the critical path.

    Self time is the span's duration less the union of its children's intervals, so parallel children are not
    subtracted twice. The critical path is walked back from the end of the root: the child still running latest
    is on it, a child that ran beside it and ended earlier is not. A child outside its parent's interval (clock
    skew between services) is reported and clipped, never moved.

    Example:

        mlobs trace show 4bf92f3577b34da6a3ce929d0e0e4736 --source 'traces/*.jsonl'
        mlobs trace show --request-id r-000042 --log-source 'logs/*.parquet' --source 'traces/*.jsonl'
    """
    s = settings(ctx, output=output, config=config, debug=debug,
                 **{"trace.source": source, "log.source": log_source})
    from mlobs_cli.trace import service

    _finish(service.show(source, service.trace_id_of(trace_id, request_id, s), s, request_id), s.output)


@app.command()
def breakdown(
    ctx: typer.Context,
    slowest: Annotated[str, typer.Option(metavar="PERCENT", help=(
        "The slowest traces by end-to-end latency, shown apart: a share in (0%, 50%]."))] = "1%",
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Per stage (span name) across many traces: p50, p95, p99 of duration and of self time, and its share of the
    end-to-end latency at p50 and at p99, for all traces and for the slowest ones.

    A trace counts in the window when its first span starts in it (the last hour unless --since, --from or --to
    say otherwise). A stage's share at pX is its pX self time (summed within each trace) over the pX end-to-end
    latency (the root span's duration); "of all time" is its summed self time over the summed latency (these add up
    to 100% unless children of a span run in parallel, whose times are each counted). The stage with the largest share of the p99 answers "is it queue wait or the forward pass?".

    Example:

        mlobs trace breakdown --source 'traces/*.jsonl' --since 1h --model llm-7b --slowest 1%
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{"trace.source": source})
    from mlobs_cli.logs import query
    from mlobs_cli.trace import service

    window = query.window(since, start, end, "1h")
    _finish(service.breakdown(source, window, model, _share(slowest), s), s.output)


@app.command()
def compare(
    ctx: typer.Context,
    trace_id: TraceIdArg = None,
    baseline: Annotated[str, typer.Option(metavar="FROM..TO", help=(
        "The baseline period: FROM..TO (14d..7d, RFC 3339) or a duration before now."))] = "7d..1d",
    request_id: RequestIdOpt = None, log_source: LogSourceOpt = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when a stage is abnormal.")] = False,
    source: SourceOpt = None, output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Each span of one trace against the same span's self times over a baseline: which stages are abnormal for
    this request. Exits 1 when one is (its self time above the baseline's p99).

    Example:

        mlobs trace compare 4bf92f3577b34da6a3ce929d0e0e4736 --source 'traces/*.jsonl' --baseline 7d..1d
    """
    s = settings(ctx, output=output, config=config, debug=debug,
                 **{"trace.source": source, "log.source": log_source})
    from mlobs_cli.logs import query
    from mlobs_cli.trace import service

    chosen = service.trace_id_of(trace_id, request_id, s)
    result = service.compare(source, chosen, query.period(baseline, "--baseline"), s)
    render.emit(result, s.output)
    raise typer.Exit(int(combine(has_findings=bool(result.findings) and not exit_zero,
                                 has_backend_errors=not result.complete)))


def _share(text: str) -> float:
    """`1%` (or `1`) -> 0.01."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    if not 0 < value <= 50:
        raise InputError(f"--slowest {text!r}: expected a percentage above 0 and at most 50, such as 1%")
    return value / 100
