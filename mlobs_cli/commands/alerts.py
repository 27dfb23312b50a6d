"""`mlobs alerts`: lint Prometheus alert rules offline, and convert the seed's shorthand to a rule file."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlobs_cli import files, render
from mlobs_cli.commands.options import (
    LINT_FORMATS,
    ConfigOpt,
    ContextOpt,
    DebugOpt,
    InsecureOpt,
    LintOutputOpt,
    OutputOpt,
    PrometheusOpt,
    finish,
    moment,
    prometheus_settings,
    settings,
)
from mlobs_cli.errors import InputError

app = typer.Typer(help="Lint alert rules; convert the seed's alert shorthand.",
                  no_args_is_help=True)


class Level(str, Enum):
    info = "info"
    warning = "warning"
    error = "error"


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Rule files, or directories searched "
                     "recursively for .yml and .yaml files.", show_default=False)],
    fail_on: Annotated[Level, typer.Option(help="Exit 1 on a finding at or above this severity.")] = Level.error,
    min_severity: Annotated[Level, typer.Option(help="Show only findings at or above this severity (the exit "
                            "code still follows --fail-on).")] = Level.info,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when there are findings (2 for a "
                         "file that cannot be read still stands).")] = False,
    catalog: Annotated[str | None, typer.Option(metavar="FILE", help="More metrics, in the format of the "
                       "built-in catalogue (mlobs_cli/catalogue/metrics.yaml); an entry replaces the built-in "
                       "one of the same name.", show_default=False)] = None,
    prometheus: Annotated[str | None, typer.Option(metavar="URL", help="Also ask this Prometheus (or Thanos, "
                          "Mimir, VictoriaMetrics) whether each selected metric and label has series; a token goes "
                          "in MLOBS_PROMETHEUS_TOKEN or the config file, never here [env: MLOBS_PROMETHEUS_URL]",
                          show_default=False)] = None,
    lookback: Annotated[str | None, typer.Option(metavar="DURATION", help="How far back --prometheus looks for "
                        "series [default: 1h]", show_default=False)] = None,
    strict: Annotated[bool, typer.Option("--strict", help="A --prometheus server that cannot be reached is an "
                      "error finding, not a warning.")] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify the --prometheus server's TLS "
                        "certificate [env: MLOBS_PROMETHEUS_INSECURE]")] = False,
    output: LintOutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Find the alert rules that cannot load, never fire, or fire wrong: offline, or also against Prometheus.

    Reads Prometheus rule files, Kubernetes PrometheusRule manifests, Thanos ruler files and the seed's `alerts:`
    shorthand, and runs every check (see docs/checks/) with the metrics catalogue: PromQL syntax, histogram and
    counter misuse, vector matching, template labels the expression drops, the escalation policy. With
    --prometheus URL it also asks that server whether the selected metrics and labels have series in the last
    --lookback (check promql/series); a server that cannot be reached is one warning (an error with --strict),
    never exit 3. Exit 1 on a finding at or above --fail-on, 2 when a file cannot be read or parsed (the other
    files are still checked).

    Example:

        mlobs alerts validate rules/ -o github --fail-on warning
    """
    s = settings(ctx, output=output, config=config, debug=debug, formats=LINT_FORMATS,
                 **{"prometheus.url": prometheus, "prometheus.insecure": insecure or None})
    from mlobs_cli import catalogue
    from mlobs_cli.alerts import base, online  # the catalogue and the checks load only when a lint runs
    from mlobs_cli.alerts import validate as lint

    cat = catalogue.merged(catalogue.load(), catalogue.load_file(catalog)) if catalog else catalogue.load()
    with online.series_source(s, lookback, strict) as series:  # None offline
        report = lint.validate(paths, base.Context(cat, series=series), debug=s.debug)
    for warning in series.warnings if series else ():
        render.warn(f"prometheus: {warning}")
    render.emit(report.shown(base.Severity[min_severity.name.upper()]), s.output)
    raise typer.Exit(int(report.exit_code(base.Severity[fail_on.name.upper()], exit_zero)))


@app.command()
def convert(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A file in the seed's shorthand (`alerts:` list).",
                    show_default=False)],
    output_file: Annotated[Path | None, typer.Option("--output-file", metavar="FILE", dir_okay=False,
                           help="Write the rule file here instead of stdout (never over FILE).",
                           show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --output-file if it exists.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the seed's alert shorthand as a Prometheus rule file that `promtool check rules` accepts.

    The shorthand (an `alerts:` list of name, expr, for, severity, labels, annotations) becomes a `groups:` file
    of alerting rules. The output is always that YAML, so -o does not apply here.

    Example:

        mlobs alerts convert alerts.yaml --output-file rules/alerts.rules.yml
    """
    settings(ctx, output=None, config=config, debug=debug, formats=None)
    from mlobs_cli.alerts.convert import convert as to_rules

    if output_file is not None and Path(file).exists() and output_file.resolve() == Path(file).resolve():
        raise InputError(f"--output-file {output_file} is the input file: choose another path")
    if output_file is not None:
        files.refuse_existing(output_file, "--output-file", force)
    text = to_rules(file)
    if output_file is None:
        sys.stdout.write(text)
        return
    files.write_new(output_file, text, option="--output-file", force=force)
    render.stderr_console().print(f"wrote {output_file}", markup=False)


@app.command()
def firing(
    ctx: typer.Context,
    alertmanager: Annotated[str | None, typer.Option(metavar="URL", help="Ask this Alertmanager (/api/v2/alerts) "
                            "instead of Prometheus; a token goes in MLOBS_ALERTMANAGER_TOKEN or the config file "
                            "[env: MLOBS_ALERTMANAGER_URL]", show_default=False)] = None,
    silenced: Annotated[bool, typer.Option("--silenced", help="With --alertmanager, also list silenced and "
                        "inhibited alerts (state `suppressed`).")] = False,
    prometheus: PrometheusOpt = None,
    context: ContextOpt = None,
    insecure: InsecureOpt = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the alerts firing or pending now, oldest first, with what the escalation policy asks of you.

    From Prometheus (/api/v1/alerts: pending and firing) or, with --alertmanager (or `alertmanager:` in the
    context), from Alertmanager (firing, silences applied). The severity label maps to the seed's escalation
    policy: info best effort (Slack), warning 30 minutes (Slack + email, escalated after 2 hours), critical 5
    minutes (PagerDuty, manager at once), emergency immediate (PagerDuty + phone, all hands). Exit 0 whether or
    not alerts fire; 3 if the server cannot be reached.

    Example:

        mlobs alerts firing --context prod-eu -o json
    """
    s = prometheus_settings(ctx, output, config, debug, prometheus, context, insecure,
                            **{"alertmanager.url": alertmanager})
    from mlobs_cli.metrics import firing as f

    finish(f.fetch(s, silenced, moment(None)), s)
