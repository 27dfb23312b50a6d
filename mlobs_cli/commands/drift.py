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
    job: Annotated[str | None, typer.Option(help="Pushgateway job label [default: mlobs-drift]",
                   show_default=False)] = None,
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
