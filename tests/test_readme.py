"""The README stays true: its generated outputs are current, and its first command works on a fresh copy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_outputs_are_current():
    result = subprocess.run([sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=ROOT, check=False,
                            capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, "README is stale: run .venv/bin/cog -r README.md\n" + result.stdout + result.stderr


def _first_command() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    return blocks[0].strip()


def test_first_command_installs_and_runs_on_the_examples(tmp_path):
    """Run the set-up command exactly as written, in a copy of the repository (its own new venv)."""
    copy = tmp_path / "mlobs"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info",
                                                              "benchmarks"))
    result = subprocess.run(["bash", "-c", _first_command()], cwd=copy, check=False, capture_output=True, text=True,
                            timeout=600, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert result.returncode == 1, result.stderr  # exit 1: the examples drift, and mlobs says so
    assert "weather" in result.stdout and "Alert (high)" in result.stdout
    assert "Traceback" not in result.stderr


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert blocks[1].strip() == "./scripts/test"
    assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
