"""`mlobs drift`: data drift between a reference and a current sample."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlobs_cli import render
from mlobs_cli.commands.options import ConfigOpt, DebugOpt, OutputOpt, key_bounds, settings, split_list
from mlobs_cli.errors import InputError

app = typer.Typer(help="Data drift between a reference and a current sample.", no_args_is_help=True)


class FailOn(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"


JobOpt = Annotated[str | None, typer.Option(help="Pushgateway job label [default: mlobs-drift]", show_default=False)]


@app.command()
def compare(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Reference sample: CSV, Parquet or JSONL file, or a glob.")],
    current: Annotated[str, typer.Argument(help="Current sample, same forms.")],
    features: Annotated[list[str] | None, typer.Option("--features", "-f", metavar="A,B",
                        help="Compare only these features.", show_default=False)] = None,
    exclude: Annotated[list[str] | None, typer.Option(metavar="A,B", help="Leave these features out.",
                       show_default=False)] = None,
    categorical: Annotated[list[str] | None, typer.Option(metavar="A,B", help="Compare these as categories.",
                           show_default=False)] = None,
    numerical: Annotated[list[str] | None, typer.Option(metavar="A,B", help="Compare these as numbers.",
                         show_default=False)] = None,
    bins: Annotated[int | None, typer.Option(help="PSI bins [default: 10]", show_default=False,
                                             **key_bounds("drift.bins"))] = None,
    fail_on: Annotated[FailOn | None, typer.Option(help="Exit 1 on a finding at or above this severity (low: "
                       "any watch signal) [default: medium]", show_default=False)] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when features drifted.")] = False,
    plot: Annotated[list[str] | None, typer.Option(metavar="FEATURE", help="Show this feature's reference and "
                    "current distributions side by side (table output).", show_default=False)] = None,
    html: Annotated[Path | None, typer.Option(metavar="FILE", help="Also write a self-contained HTML report.",
                    dir_okay=False, show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --html FILE if it exists.")] = False,
    pushgateway: Annotated[str | None, typer.Option(metavar="URL", help="Publish feature_psi{model, feature} to "
                           "this Prometheus Pushgateway; put credentials in MLOBS_PUSHGATEWAY_URL or the config "
                           "file, not here, where ps shows them [env: MLOBS_PUSHGATEWAY_URL]", show_default=False)] = None,
    job: JobOpt = None,
    model: Annotated[str | None, typer.Option(help="Model label of the published metrics.",
                     show_default=False)] = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Which features drifted between REFERENCE and CURRENT, by how much, and how sure.

    Per feature: PSI on reference-quantile bins, KS statistic and p-value, Jensen-Shannon divergence, Wasserstein
    distance (raw and over the reference's standard deviation), chi-square for categories, the share of current
    values outside the reference range, new categories, and missing values. A feature alerts when PSI > 0.2, or
    KS p < 0.01 with KS > 0.1 (the seed's rule; thresholds in the config file). Exit 1 when a finding is at or
    above --fail-on.

    Example:

        mlobs drift compare examples/weather-2012.csv examples/weather-2015.csv --plot weather
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{
        "drift.bins": bins, "drift.fail_on": fail_on.value if fail_on else None,
        "pushgateway.url": pushgateway, "pushgateway.job": job})
    from mlobs_cli.drift import service  # numpy, scipy and DuckDB load only when a comparison runs

    request = service.Request(reference, current, service.Selection(
        split_list(features), split_list(exclude), split_list(categorical), split_list(numerical)),
        plot=split_list(plot), html=html, model=model, force=force)
    if request.plot and s.output != "table":
        raise InputError("--plot draws in the terminal: use it with -o table")
    with render.progress("comparing") as progress:
        report = service.run(request, s, progress)
    if request.html:  # before the report, so that a file that cannot be written leaves stdout empty
        render.html_report(report, request.html, request.force)
    render.emit(report, s.output)
    render.plots(report, request.plot)
    raise typer.Exit(int(report.exit_code(s.drift.fail_on, exit_zero)))


SourceOpt = Annotated[str | None, typer.Option(
    "--source", "-s", metavar="PATH|URL|NAME", show_default=False,
    help="The prediction logs: a file or glob (JSONL, Parquet, CSV), file:// or postgresql:// URL, or a name in "
         "log.sources; put a password in MLOBS_LOG_PASSWORD, not here [env: MLOBS_LOG_SOURCE]")]
BaselineOpt = Annotated[str, typer.Option(metavar="FROM..TO", show_default=False, help=(
    "The baseline period, e.g. 7d..1d or 2026-11-01..2026-11-08 (FROM included, TO excluded)."))]
CurrentOpt = Annotated[str, typer.Option(metavar="DURATION|FROM..TO", help="The current period: the last "
                                         "DURATION, or a window.")]
PushOpt = Annotated[str | None, typer.Option(metavar="URL", show_default=False, help=(
    "Publish the results to this Prometheus Pushgateway; credentials in MLOBS_PUSHGATEWAY_URL or the config "
    "file, not here [env: MLOBS_PUSHGATEWAY_URL]"))]


@app.command()
def concept(
    ctx: typer.Context,
    baseline: BaselineOpt,
    current: CurrentOpt = "24h",
    labels: Annotated[str | None, typer.Option(metavar="FILE|URL", show_default=False, help=(
        "Ground truth: rows of prediction_id, label[, labeled_at] in CSV, Parquet or JSONL, or a postgresql:// "
        "URL of a table in the logs' database (?table=NAME, default labels)."))] = None,
    window: Annotated[str, typer.Option(metavar="DURATION", help="Detection window the current period is cut "
                                        "into.")] = "1h",
    min_labels: Annotated[int | None, typer.Option(**key_bounds("concept.min_labels"), show_default=False, help=(
        "Labelled predictions a window needs to be used [default: concept.min_labels, 30]"))] = None,
    positive: Annotated[str | None, typer.Option(metavar="CLASS", show_default=False, help=(
        "Positive class of a two-class F1 [default: the less frequent baseline label]"))] = None,
    importance_baseline: Annotated[str | None, typer.Option(metavar="CSV", show_default=False, help=(
        "Feature importances (feature,importance) of the baseline."))] = None,
    importance_current: Annotated[str | None, typer.Option(metavar="CSV", show_default=False, help=(
        "Feature importances of the current period."))] = None,
    model: Annotated[str | None, typer.Option(metavar="MODEL_ID", show_default=False,
                                              help="Only this model's predictions (and the published label).")] = None,
    source: SourceOpt = None,
    fail_on: Annotated[FailOn | None, typer.Option(help="Exit 1 on a finding at or above this severity (low: "
                       "any fired indicator) [default: medium]", show_default=False)] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when drift is found.")] = False,
    pushgateway: PushOpt = None,
    job: JobOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Whether the model got worse: accuracy against late labels, or the signs of it without them.

    With --labels (joined by prediction_id): accuracy and F1 of the baseline and of each current window, the
    accuracy drop, and the one-sided t-test of the window accuracies against the baseline's; concept drift when
    the drop > 0.05 and p < 0.05 (high above 0.10). Without labels: JS divergence of output_score, PSI of
    output_class and the Spearman correlation of feature importances; two indicators or more are potential
    concept drift. Each window also shows the accuracy the calibrated scores expect (CBPE). Exit 1 on drift, 3
    when the labels cover no prediction of a period (accuracy unknown). Thresholds: `concept.*` in the config.

    Example:

        mlobs drift concept --source examples/prediction-logs.jsonl --labels examples/labels.csv --baseline 2025-01-07..2025-01-08T12:00 --current 2025-01-08T12:00..2025-01-09
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{
        "log.source": source, "concept.min_labels": min_labels, "concept.fail_on": fail_on.value if fail_on else None,
        "pushgateway.url": pushgateway, "pushgateway.job": job})
    from mlobs_cli.quality import concept as detector

    report = detector.run(detector.Request(source, baseline, current, window, labels, model, positive,
                                           importance_baseline, importance_current), s)
    render.emit(report, s.output)
    raise typer.Exit(int(report.exit_code(s["concept.fail_on"], exit_zero)))


@app.command()
def predictions(
    ctx: typer.Context,
    baseline: BaselineOpt,
    current: CurrentOpt = "24h",
    model: Annotated[str | None, typer.Option(metavar="MODEL_ID", show_default=False,
                                              help="Only this model (and the published label).")] = None,
    versions: Annotated[bool, typer.Option("--versions/--no-versions", help="One row per model version, or "
                                           "each model's versions pooled.")] = True,
    source: SourceOpt = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when a distribution shifted.")] = False,
    pushgateway: PushOpt = None,
    job: JobOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """How the model's outputs moved: class distribution PSI and confidence distribution, per model and version.

    The design's prediction_distribution: PSI of output_class (alert above concept.prediction_psi, 0.15, the
    prediction_distribution_shift rule), JS divergence of output_score on drift compare's bins with both
    histograms side by side, and the share under log.confidence_threshold (0.6). The same numbers as
    `drift compare` on exports of the same rows. --pushgateway publishes prediction_distribution_psi{model}.

    Example:

        mlobs drift predictions --source examples/prediction-logs.jsonl --baseline 7d..1d --current 1d --no-versions
    """
    s = settings(ctx, output=output, config=config, debug=debug, **{
        "log.source": source, "pushgateway.url": pushgateway, "pushgateway.job": job})
    from mlobs_cli.quality import predictions as prediction_drift

    report = prediction_drift.run(source, baseline, current, model, s, versions)
    render.emit(report, s.output)
    raise typer.Exit(int(report.exit_code(exit_zero)))
