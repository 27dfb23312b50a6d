"""completions/ holds the scripts generated from the app; regenerate with .venv/bin/python scripts/completions."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from typer.completion import get_completion_script

ROOT = Path(__file__).resolve().parents[2]
FILES = runpy.run_path(str(ROOT / "scripts" / "completions"))["FILES"]


@pytest.mark.parametrize("shell", sorted(FILES))
def test_completion_scripts_are_current(shell):
    expected = get_completion_script(prog_name="mlobs", complete_var="_MLOBS_COMPLETE", shell=shell) + "\n"
    assert (ROOT / "completions" / FILES[shell]).read_text(encoding="utf-8") == expected, \
        "completions are out of date: run .venv/bin/python scripts/completions"


def test_completion_answers_with_the_app_options(cli):
    result = cli.runner.invoke(
        __import__("mlobs_cli.app", fromlist=["app"]).app, [],
        env={"_MLOBS_COMPLETE": "complete_bash", "COMP_WORDS": "mlobs drift compare --fa", "COMP_CWORD": "3"},
        prog_name="mlobs",
    )
    assert "--fail-on" in result.stdout
