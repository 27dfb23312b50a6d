"""Where runbooks live: the shipped ones, the team's own, and the saved state of walks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlobs_cli.errors import ConfigError


def shipped_dir() -> Path:
    """runbooks/ of the mlobs source tree (a checkout or an editable install), else where a wheel installs it
    (`<prefix>/share/mlobs/runbooks`, the data-files of pyproject.toml)."""
    source = Path(__file__).resolve().parents[2] / "runbooks"
    if (source / "schema.json").is_file():
        return source
    installed = Path(sys.prefix) / "share" / "mlobs" / "runbooks"
    if (installed / "schema.json").is_file():
        return installed
    raise ConfigError(f"the shipped runbooks are missing (looked in {source} and {installed}): reinstall mlobs")


def user_dirs(configured: str | None) -> list[Path]:
    """The team's runbook directories, searched before the shipped ones: `runbook.dir` when set, and
    `$XDG_CONFIG_HOME/mlobs/runbooks`."""
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "mlobs" / "runbooks"
    dirs = [Path(configured).expanduser()] if configured else []
    return [*dirs, xdg]


def state_dir(configured: str | None) -> Path:
    """Where walks save their state (`runbook.state_dir`, else `$XDG_STATE_HOME/mlobs/walks`)."""
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "mlobs" / "walks"
