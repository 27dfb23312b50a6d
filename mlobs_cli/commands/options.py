"""Options every command takes, before or after the subcommand (`mlobs -o json drift compare` or
`mlobs drift compare a b -o json`), and the step that turns them into Settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import typer

from mlobs_cli import config as cfg


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


OutputOpt = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Output format [env: MLOBS_OUTPUT] [default: table]", show_default=False),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="Config file [env: MLOBS_CONFIG] [default: ./mlobs.yaml, then "
                 "$XDG_CONFIG_HOME/mlobs/config.yaml]", show_default=False),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


@dataclass
class AppState:
    """The options given before the subcommand; those after it win."""

    output: OutputFormat | None = None
    config: str | None = None
    debug: bool = False


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = AppState()
    return root.obj


def split_list(values: list[str] | None) -> tuple[str, ...]:
    """`--features a,b --features c` -> ("a", "b", "c")."""
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


def settings(ctx: typer.Context, *, output: OutputFormat | None, config: str | None, debug: bool,
             **flags: Any) -> cfg.Settings:
    """Settings for this run. `flags` maps config keys (`drift.bins`) to flag values, None when not given."""
    app = state(ctx)
    app.debug = app.debug or debug
    chosen = output or app.output
    return cfg.resolve({"output": chosen.value if chosen else None, **flags}, config=config or app.config,
                       debug=app.debug)
