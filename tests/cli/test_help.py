"""Every command has --help with an example, and --version works."""

from __future__ import annotations

import pytest

from mlobs_cli import __version__
from mlobs_cli.app import app

COMMANDS = [["drift", "compare"], ["alerts", "validate"], ["alerts", "convert"], ["config", "show"], []]


def test_every_command_is_listed_here():
    import typer.main

    group = typer.main.get_command(app)
    found = [[g, c] for g, sub in group.commands.items() for c in sub.commands]
    assert sorted(found) == sorted(c for c in COMMANDS if c)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mlobs")
def test_help_has_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout and "mlobs " in result.stdout.split("Example:")[1]
    assert "--output" in result.stdout or not command


def test_version(cli):
    assert cli("--version").stdout.strip() == f"mlobs {__version__}"
