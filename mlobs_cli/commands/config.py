"""`mlobs config`: the effective configuration and where each value came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from mlobs_cli import config as cfg
from mlobs_cli import render
from mlobs_cli.commands.options import ConfigOpt, DebugOpt, OutputOpt, settings

app = typer.Typer(help="Show the configuration.", no_args_is_help=True)


@dataclass(frozen=True, slots=True)
class ConfigReport:
    settings: cfg.Settings
    columns = ("key", "value", "source", "env")
    findings = ()
    errors = ()
    complete = True

    def rows(self) -> list[list[Any]]:
        s = self.settings
        return [[name, s.shown(name), s.sources[name], key.env] for name, key in cfg.KEYS.items()]

    def to_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "config_file": str(s.config_file) if s.config_file else None,
            "settings": [{"key": n, "value": s.shown(n) if k.secret else s[n], "source": s.sources[n], "env": k.env}
                         for n, k in cfg.KEYS.items()],
        }


@app.command()
def show(ctx: typer.Context, output: OutputOpt = None, config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """Print every setting, its value and its source (flag, env, file or default); secrets are masked.

    Example:

        MLOBS_DRIFT_PSI_ALERT=0.3 mlobs config show
    """
    s = settings(ctx, output=output, config=config, debug=debug)
    render.emit(ConfigReport(s), s.output)
