"""`mlobs experiment`: is the canary winning, is it safe, and can the split be trusted."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any

import typer

from mlobs_cli.commands.options import (
    AtOpt,
    ConfigOpt,
    ContextOpt,
    DebugOpt,
    InsecureOpt,
    OutputOpt,
    PrometheusOpt,
    finish,
    moment,
    prometheus_settings,
    within,
)
from mlobs_cli.timeparse import parse_duration

app = typer.Typer(no_args_is_help=True, help=(
    "A/B tests and canaries: the experiment counters (experiment_samples, experiment_conversion) in Prometheus, "
    "the guardrails (p99 latency, error rate) from Prometheus or the prediction logs.\n\nExample:\n\n"
    "    mlobs experiment status canary-v2.2.0 --split 95/5 --since 24h"))

SourceOpt = Annotated[str | None, typer.Option(
    "--source", "-s", metavar="PATH|URL|NAME", show_default=False,
    help="Prediction logs for the guardrails (rows with experiment_id, variant_id): a file or glob, file:// or "
         "postgresql:// URL, or a name in log.sources [default: Prometheus' serving metrics]")]
SinceOpt = Annotated[str, typer.Option(metavar="DURATION", help="The window the counts cover, ending at --at.")]


def _store(stack: ExitStack, source: str | None, s: Any) -> Any:
    if source is None:
        return None
    from mlobs_cli.backends.logstore import open_store

    store = open_store(source, s)
    stack.callback(store.close)
    return store


@app.command()
def status(
    ctx: typer.Context,
    experiment: Annotated[str, typer.Argument(metavar="EXPERIMENT", help="The experiment label's value.",
                                              show_default=False)],
    since: SinceOpt = "24h",
    at: AtOpt = None,
    split: Annotated[str | None, typer.Option(metavar="95/5", show_default=False, help=(
        "The configured traffic split in percent, the control first then the treatments by name, or by name "
        "(control=95,canary=5); checked for sample-ratio mismatch [default: experiments.NAME.split in the "
        "config; none: no check]"))] = None,
    control: Annotated[str | None, typer.Option(metavar="VARIANT", show_default=False, help=(
        "The control variant [default: experiments.NAME.control, else the variant with most samples]"))] = None,
    mde: Annotated[float | None, typer.Option(metavar="LIFT", show_default=False, help=(
        "Size the test for this relative lift (0.05: +5%) instead of the observed one"),
        **within(-0.99, 1000.0))] = None,
    source: SourceOpt = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Per variant: samples, share, conversions, p99 latency and error rate; per treatment: lift, p-values,
    samples needed; then one verdict: keep running, promote, roll back, or invalid.

    Counts are the increase of experiment_samples_total and experiment_conversion_total (or the bare catalogue
    names) over --since ending at --at, so counter resets are handled. The decision uses the always-valid p-value
    (mSPRT, normal mixture, variance tau^2 = 1e-4 on the difference of rates, running minimum over 24 looks
    evenly spaced in the window; safe to check every hour), under
    alpha 0.05 Bonferroni-corrected for the number of treatments; the fixed-horizon z-test p-value (pooled SE) is
    shown beside it. Samples needed: power 0.8 at the current allocation. Exit 1 on a sample-ratio mismatch, a
    guardrail breach (p99 > 100 ms or errors > 0.1% and worse than control) or a treatment significantly worse;
    2 on bad input (unknown experiment, a variant without samples, no conversions, a split not summing to 100);
    3 when a query failed.

    Example:

        mlobs experiment status canary-v2.2.0 --split 95/5 --since 24h -o json
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.experiment import analysis, service

    configured_control, configured_split = analysis.configured(s["experiments"], experiment)
    chosen_split = analysis.parse_split(split) if split is not None else configured_split
    with ExitStack() as stack:
        client = stack.enter_context(PrometheusClient.from_settings(s))
        result = service.status(client, experiment, moment(at), parse_duration(since, "--since"),
                                store=_store(stack, source, s), control=control or configured_control,
                                split=chosen_split, mde=mde)
    finish(result, s)


@app.command("list")
def list_(
    ctx: typer.Context,
    since: SinceOpt = "24h",
    at: AtOpt = None,
    source: SourceOpt = None,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The experiments seen over --since: variants (most traffic first), traffic split, samples and first seen.

    Reads experiment_samples in Prometheus, and the experiment_id/variant_id rows of the logs with --source
    (experiments only the logs know are listed with their row counts). First seen looks back 30 days.

    Example:

        mlobs experiment list --since 7d
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure)
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.experiment import service

    with ExitStack() as stack:
        client = stack.enter_context(PrometheusClient.from_settings(s))
        result = service.listing(client, moment(at), parse_duration(since, "--since"), _store(stack, source, s))
    finish(result, s)
