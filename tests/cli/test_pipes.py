"""A reader that stops early (`mlobs ... | head`) ends mlobs quietly with 141, as a shell reports SIGPIPE, not 1
(which would read as "findings"), whether the table (rich) or a machine format was being written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MLOBS = str(Path(sys.executable).with_name("mlobs"))


@pytest.fixture(scope="module")
def many_findings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rule file with far more findings than a pipe buffer holds."""
    rules = "".join(f"      - alert: A{n}\n        expr: inference_errors_total > {n}\n" for n in range(3000))
    path = tmp_path_factory.mktemp("rules") / "rules.yml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n{rules}", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_closed_pipe_exits_141_without_a_message(many_findings, fmt):
    proc = subprocess.Popen([MLOBS, "alerts", "validate", str(many_findings), "-o", fmt, "--exit-zero"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err
    assert err == b""
