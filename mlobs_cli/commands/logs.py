"""`mlobs logs`: The prediction-log store: latency, errors, search, feature shift, confidence, export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlobs_cli import render
from mlobs_cli.commands.options import (
    BASIC_FORMATS,
    ConfigOpt,
    DebugOpt,
    OutputFormat,
    OutputOpt,
    key_bounds,
    settings,
    split_list,
    within,
)
from mlobs_cli.errors import InputError, combine

if TYPE_CHECKING:
    from mlobs_cli.logs.service import Scope
    from mlobs_cli.render import Result

app = typer.Typer(no_args_is_help=True, help=(
    "The prediction-log store: latency, errors, search, feature shift, confidence, export.\n\n"
    "The logs are JSONL, Parquet or CSV files queried in place (DuckDB), or PostgreSQL's prediction_logs table; "
    "--source, MLOBS_LOG_SOURCE or log.source names them. Times are UTC; a window includes --from and excludes "
    "--to.\n\nExample:\n\n    mlobs logs latency --source 'logs/*.parquet' --by model,version --since 1h"))

SourceOpt = Annotated[str | None, typer.Option(
    "--source", "-s", metavar="PATH|URL|NAME", show_default=False,
    help="The logs: a file or glob (JSONL, Parquet, CSV), file:// or postgresql:// URL, or a name in log.sources; "
         "put a password in MLOBS_LOG_PASSWORD, not here [env: MLOBS_LOG_SOURCE]")]
SinceOpt = Annotated[str | None, typer.Option(metavar="DURATION|TIME", show_default=False,
                                              help="Start: a duration before --to (30m, 24h, 7d) or a time.")]
FromOpt = Annotated[str | None, typer.Option("--from", metavar="TIME", show_default=False,
                                             help="Start, included (RFC 3339, Unix seconds, or 2h for 2 h ago).")]
ToOpt = Annotated[str | None, typer.Option("--to", metavar="TIME", show_default=False,
                                           help="End, excluded [default: now]")]
ModelOpt = Annotated[str | None, typer.Option(metavar="MODEL_ID", show_default=False, help="Only this model.")]
VersionOpt = Annotated[str | None, typer.Option(metavar="VERSION", show_default=False,
                                                help="Only this model version.")]
FeaturesOpt = Annotated[list[str] | None, typer.Option("--features", "-f", metavar="A,B", show_default=False,
                                                       help="Only these features [default: all]")]


def _scope(source: str | None, since: str | None, start: str | None, end: str | None, model: str | None,
           version: str | None) -> Scope:
    from mlobs_cli.logs.service import Scope  # DuckDB, psycopg and numpy load only when a query runs

    return Scope(source, since, start, end, model, version)


def export_target(values: list[str]) -> tuple[str, OutputFormat | None]:
    """`-o FILE` and, optionally, `-o FORMAT` (of the summary): the one that is not a format name is the file."""
    formats = [OutputFormat(v) for v in values if v in BASIC_FORMATS]
    paths = [v for v in values if v not in BASIC_FORMATS]
    if len(paths) != 1 or len(formats) > 1:
        raise InputError("give one -o FILE to write (.parquet, .csv, .jsonl), and at most one -o FORMAT of the "
                         "summary (table, json, csv, markdown)")
    return paths[0], (formats[0] if formats else None)


def _finish(result: Result, fmt: str) -> None:
    render.emit(result, fmt)
    raise typer.Exit(int(combine(has_findings=bool(result.findings), has_backend_errors=not result.complete)))


@app.command()
def latency(
    ctx: typer.Context,
    by: Annotated[list[str] | None, typer.Option(metavar="model,version", show_default=False, help=(
        "Group by: model, version, endpoint, experiment, variant, status [default: no grouping]"))] = None,
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, version: VersionOpt = None,
    output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Request count and p50, p95, p99 of total_latency_ms, with each phase at the same percentile.

    The phases (queue_wait_ms, inference_ms, preprocessing_ms, postprocessing_ms) show which one is slow; the
    percentiles are computed by the store (DuckDB or PostgreSQL), as numpy's default (linear) would. On sampled
    logs (log.sampling.*, or a sample_rate column) requests are estimated (each row weighs 1 / its keep rate) and
    the percentiles are of the weighted distribution (numpy's inverted_cdf with weights). The window is the last
    hour unless --since, --from or --to say otherwise; it includes --from and excludes --to.

    Example:

        mlobs logs latency --source 'logs/*.parquet' --by model,version --since 1h
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{"log.source": source})
    from mlobs_cli.logs import service

    _finish(service.latency(_scope(source, since, start, end, model, version), s, split_list(by)), s.output)


@app.command()
def errors(
    ctx: typer.Context,
    min_requests: Annotated[int, typer.Option(**within(0, 10**12), help="Leave out model versions with fewer requests.")] = 1000,
    top: Annotated[int, typer.Option(**within(0, 1000), help="How many of the most frequent error messages to show.")] = 5,
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, version: VersionOpt = None,
    output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Error and timeout rate per model and version, worst first, and the most frequent error messages.

    A rate is the share of requests with status ERROR (or TIMEOUT). On sampled logs (log.sampling.*, or a
    sample_rate column) each row weighs 1 / its keep rate: requests, errors and rates are estimates of all
    requests, with the logged counts and share beside them. The window is the last 24 hours unless --since,
    --from or --to say otherwise.

    Example:

        mlobs logs errors --source postgresql://oncall@db/serving --since 24h --min-requests 1000
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{"log.source": source})
    from mlobs_cli.logs import service

    _finish(service.errors(_scope(source, since, start, end, model, version), s, min_requests, top), s.output)


@app.command()
def search(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(metavar="SUCCESS|ERROR|TIMEOUT", show_default=False,
                                               help="Only records with this status.")] = None,
    trace_id: Annotated[str | None, typer.Option(show_default=False, help="Only this trace.")] = None,
    request_id: Annotated[str | None, typer.Option(show_default=False, help="Only this request.")] = None,
    min_latency_ms: Annotated[float | None, typer.Option(**within(0.0, 86_400_000.0), show_default=False,
                                                         help="Only records at least this slow.")] = None,
    limit: Annotated[int, typer.Option(**within(1, 100_000), help="At most this many records.")] = 20,
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, version: VersionOpt = None,
    output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Matching prediction records, newest first, with identifiers hashed and PII redacted.

    user_id and client_ip_hash are shown as a short SHA-256 digest (the same user shows the same digest); the
    fields in log.pii_fields (email, phone, ssn, ip; also as a word of a key: user_email) are redacted wherever
    they appear in input_features and output, e-mails, SSNs and card numbers inside their text too.
    Without --since or --from every record is searched. Exits 0 when nothing matches.

    Example:

        mlobs logs search --source logs.jsonl --status ERROR --model fraud --min-latency-ms 500 --limit 10
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{"log.source": source})
    from mlobs_cli.logs import service

    _finish(service.search(_scope(source, since, start, end, model, version), s, status=status, trace_id=trace_id,
                           request_id=request_id, min_latency_ms=min_latency_ms, limit=limit), s.output)


@app.command("feature-shift")
def feature_shift(
    ctx: typer.Context,
    baseline: Annotated[str, typer.Option(metavar="FROM..TO", show_default=False, help=(
        "The baseline period, e.g. 2026-11-01..2026-11-08 or 14d..7d (FROM included, TO excluded)."))],
    current: Annotated[str, typer.Option(metavar="DURATION|FROM..TO", help="The current period: the last "
                                         "DURATION, or a window.")] = "24h",
    features: FeaturesOpt = None,
    bins: Annotated[int | None, typer.Option(help="PSI bins: baseline quantiles [default: drift.bins, 10]",
                                             show_default=False, **key_bounds("drift.bins"))] = None,
    source: SourceOpt = None, model: ModelOpt = None, version: VersionOpt = None,
    output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Per feature: quartiles of both periods, the median shift, and PSI on the baseline's quantile bins.

    The median shift is the seed's |current median - baseline median| / |baseline median|. PSI uses the same
    bins and floor as `mlobs drift compare` (drift.bins, drift.psi_epsilon), so both give the same PSI on the
    same rows; status is ok, watch (PSI >= drift.psi_watch) or alert (PSI > drift.psi_alert). Quantiles and bin
    counts are computed by the store. On sampled logs (log.sampling.*, or a sample_rate column) each row weighs
    1 / its keep rate: the quartiles, the PSI bins' edges and counts, and n are weighted, as `logs errors`.

    Example:

        mlobs logs feature-shift --source 'logs/*.parquet' --baseline 2026-11-01..2026-11-08 --current 24h
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{"log.source": source, "drift.bins": bins})
    from mlobs_cli.logs import service

    _finish(service.feature_shift(_scope(source, None, None, None, model, version), s, baseline, current,
                                  split_list(features)), s.output)


@app.command()
def confidence(
    ctx: typer.Context,
    threshold: Annotated[float | None, typer.Option(**key_bounds("log.confidence_threshold"), show_default=False, help=(
        "A prediction scored under this is low confidence [default: log.confidence_threshold, 0.6]"))] = None,
    bucket: Annotated[str, typer.Option(metavar="DURATION", help="Width of each time bucket.")] = "15m",
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, version: VersionOpt = None,
    output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Share and count of predictions under the confidence threshold per time bucket, and the score distribution.

    The seed dashboard's "low confidence predictions" panel: per bucket (aligned to the clock, UTC) the
    predictions with an output_score, how many scored under the threshold, their share and mean score. The
    window is the last 24 hours unless --since, --from or --to say otherwise.

    Example:

        mlobs logs confidence --source 'logs/*.parquet' --threshold 0.6 --bucket 15m --since 6h
    """
    s = settings(ctx, output=output, config=config, debug=debug,
                 **{"log.source": source, "log.confidence_threshold": threshold})
    from mlobs_cli.logs import service

    _finish(service.confidence(_scope(source, since, start, end, model, version), s, bucket), s.output)


@app.command()
def export(
    ctx: typer.Context,
    outputs: Annotated[list[str], typer.Option("--output", "-o", metavar="FILE", show_default=False, help=(
        "The file to write: .parquet, .csv or .jsonl, by its suffix. Given as well, table, json, csv or markdown "
        "is the format of the summary, as -o is for every command."))],
    features: FeaturesOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    source: SourceOpt = None, since: SinceOpt = None, start: FromOpt = None, end: ToOpt = None,
    model: ModelOpt = None, version: VersionOpt = None,
    config: ConfigOpt = None, debug: DebugOpt = False,
) -> None:
    """Write a period's feature values, output class and score to a file that `mlobs drift compare` reads.

    One row per prediction: timestamp, model_id, model_version, one column per feature, output_class and
    output_score. An existing FILE is replaced only with --force, and never one of the logs read; a failed
    export leaves no partial file. `-o json` (or table, csv, markdown) beside `-o FILE` sets the summary's format.

    Example:

        mlobs logs export --source 'logs/*.parquet' --since 7d --to 1d --model fraud -o reference.parquet
    """
    path, fmt = export_target(outputs)
    s = settings(ctx, output=fmt, config=config, debug=debug, **{"log.source": source})
    from mlobs_cli.logs import service

    _finish(service.export(_scope(source, since, start, end, model, version), s, path, split_list(features), force),
            s.output)
