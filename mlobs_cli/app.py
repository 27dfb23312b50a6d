"""The `mlobs` command: global options, the command groups, and the mapping of errors to exit codes."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from mlobs_cli import __version__, render
from mlobs_cli.commands.options import AnyOutputOpt, ConfigOpt, DebugOpt, state
from mlobs_cli.errors import ExitCode, MlobsError, interrupted

# The commands, in the order `mlobs --help` lists them: each module (mlobs_cli/commands/<module>.py) is imported
# only when its command runs, so `mlobs gpu status` never loads the linter, the drift statistics or the Prometheus
# views. A module exposes `app` (a typer group), or the function named after the colon (one command).
COMMANDS = {
    "drift": "drift",
    "alerts": "alerts",
    "gpu": "gpu",
    "metrics": "metrics",
    "dashboard": "dashboard",  # a group: the operational view, and `dashboard model MODEL`
    "logs": "logs",
    "runbook": "runbook",
    "trace": "trace",
    "experiment": "experiment",
    "config": "config",
}


class MlobsGroup(TyperGroup):
    """The root command. It loads each command's module on first use (see COMMANDS), and maps an MlobsError
    raised anywhere below to one line on stderr and its exit code (or the traceback with --debug). Doing it here,
    not in main(), gives tests through CliRunner the same behaviour as users."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, function = target.partition(":")
        module = importlib.import_module(f"mlobs_cli.commands.{module_name}")
        if function:
            return typer.main.get_command_from_info(CommandInfo(name=cmd_name, callback=getattr(module, function)),
                                                    pretty_exceptions_short=True, rich_markup_mode=None)
        return typer.main.get_group_from_info(TyperInfo(module.app, name=cmd_name), pretty_exceptions_short=True,
                                              suggest_commands=True, rich_markup_mode=None)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader went away (`mlobs ... | head`): what it read is all it wanted. Exit as a shell reports a
            # process ended by SIGPIPE, not 1 (which would read as "findings"), with nothing more written to the
            # closed pipe when Python flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except KeyboardInterrupt:
            render.error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except MlobsError as e:
            if state(ctx).debug:
                raise
            if interrupted(e):
                render.error("interrupted")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
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
    except Exception as e:
        if "--debug" in sys.argv[1:]:
            raise
        if interrupted(e):  # DuckDB's "Query interrupted" outside any wrapper: still Ctrl-C
            render.error("interrupted")
            sys.exit(int(ExitCode.INTERRUPTED))
        render.error("internal error: rerun with --debug for the traceback")
        sys.exit(int(ExitCode.USAGE))
