"""The `mlobs` command: global options, the command groups, and the mapping of errors to exit codes."""

from __future__ import annotations

import gc
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlobs_cli import __version__, render
from mlobs_cli.commands import alerts as alerts_cmd
from mlobs_cli.commands import config as config_cmd
from mlobs_cli.commands import drift as drift_cmd
from mlobs_cli.commands import gpu as gpu_cmd
from mlobs_cli.commands import logs as logs_cmd
from mlobs_cli.commands import metrics as metrics_cmd
from mlobs_cli.commands import runbook as runbook_cmd
from mlobs_cli.commands.options import AnyOutputOpt, ConfigOpt, DebugOpt, state
from mlobs_cli.errors import ExitCode, MlobsError


class MlobsGroup(TyperGroup):
    """Maps an MlobsError raised anywhere below to one line on stderr and its exit code (or the traceback
    with --debug). Doing it here, not in main(), gives tests through CliRunner the same behaviour as users."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlobsError as e:
            if state(ctx).debug:
                raise
            render.error(str(e))
            raise typer.Exit(int(e.exit_code)) from None


app = typer.Typer(
    name="mlobs",
    cls=MlobsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals (tokens) in a traceback
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(drift_cmd.app, name="drift")
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(gpu_cmd.app, name="gpu")
app.add_typer(metrics_cmd.app, name="metrics")
app.add_typer(logs_cmd.app, name="logs")
app.add_typer(runbook_cmd.app, name="runbook")
app.add_typer(config_cmd.app, name="config")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlobs {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    output: AnyOutputOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """On-call toolkit for ML model serving.

    Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage, input or config error, 3 backend unreachable or
    result incomplete. Options such as -o work before or after the subcommand.

    Example:

        mlobs drift compare reference.parquet current.parquet -o json
    """
    app_state = state(ctx)
    app_state.output, app_state.config, app_state.debug = output, config, debug


def main() -> None:
    """Console entry point. An exception that is not an MlobsError is a bug: say so in one line, exit 2."""
    try:
        app(prog_name="mlobs")
    except SystemExit:
        # The work is done and written: spare the interpreter's final garbage collection over every object the
        # run made (0.1 s after linting a few thousand rules).
        gc.freeze()
        raise
    except Exception:
        if "--debug" in sys.argv[1:]:
            raise
        render.error("internal error: rerun with --debug for the traceback")
        sys.exit(int(ExitCode.USAGE))
