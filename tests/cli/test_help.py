"""Every command has --help with an example, and --version works; commands load only when they run."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import typer.main
from typer.core import TyperGroup

from mlobs_cli import __version__
from mlobs_cli.app import COMMANDS, app


def _paths() -> list[list[str]]:
    """The root and every command's words (`["gpu", "status"]`), walked as the command line sees them."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    found: list[list[str]] = [[]]
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if isinstance(command, TyperGroup):
            if command.invoke_without_command:  # a group that is a command itself: `mlobs dashboard`
                found.append([name])
            found += [[name, sub] for sub in command.list_commands(ctx)]
        else:
            found.append([name])
    return found


COMMAND_PATHS = _paths()


def test_the_tree_has_every_group():
    assert {p[0] for p in COMMAND_PATHS if p} == set(COMMANDS)
    assert ["alerts", "validate"] in COMMAND_PATHS and ["dashboard"] in COMMAND_PATHS


@pytest.mark.parametrize("command", COMMAND_PATHS, ids=lambda c: " ".join(c) or "mlobs")
def test_help_has_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.stdout and "mlobs " in result.stdout.split("Example:")[1]
    assert "--output" in result.stdout


def test_version(cli):
    assert cli("--version").stdout.strip() == f"mlobs {__version__}"


def test_a_command_loads_only_its_own_module():
    code = ("import sys; from mlobs_cli.app import main; sys.argv = ['mlobs', 'config', 'show', '-o', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('mlobs_cli.commands.')), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip().splitlines()[-1] == "['mlobs_cli.commands.config', 'mlobs_cli.commands.options']"
