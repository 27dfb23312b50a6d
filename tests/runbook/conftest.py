"""A real Prometheus over the runbook's scenarios (one per cause, and a healthy system), and a config for walks."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import backfilled_prometheus
from tests.runbook import scenarios


@dataclass(frozen=True)
class ScenarioServer:
    url: str
    query_log: Path  # Prometheus' own log of every query it evaluated

    @staticmethod
    def at(scenario: str) -> str:
        return datetime.fromtimestamp(scenarios.at_of(scenario), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def queries(self) -> str:
        return self.query_log.read_text(encoding="utf-8") if self.query_log.exists() else ""


@pytest.fixture(scope="session")
def scenario_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    root = tmp_path_factory.mktemp("runbook-prometheus")
    log = root / "queries.log"
    config = f"global:\n  scrape_interval: 15s\n  query_log_file: {log}\n"
    with backfilled_prometheus(root, scenarios.openmetrics(), config) as url:
        yield ScenarioServer(url, log)


@pytest.fixture
def walk_config(tmp_path: Path) -> Path:
    """A config file: llm-7b is an LLM (SLO 200 ms), walks save their state under tmp_path."""
    path = tmp_path / "mlobs.yaml"
    path.write_text(f"runbook:\n  llm_models: [llm-7b]\n  state_dir: {tmp_path / 'walks'}\n", encoding="utf-8")
    return path


class Terminal:
    """mlobs in a pseudo-terminal, driven as a person would: wait for a prompt, type an answer."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "mlobs_cli", *args], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=cwd, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""  # read, not yet matched
        self.seen = ""  # matched already

    def expect(self, pattern: str, timeout: float = 60.0) -> str:
        """Read until `pattern` (a regular expression) appears after what was already matched."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.screen)
            if found:
                consumed, self.screen = self.screen[:found.end()], self.screen[found.end():]
                self.seen += consumed
                return consumed
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"never saw {pattern!r}; the screen so far:\n{self.seen}{self.screen}")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        self.screen += re.sub(r"\x1b\[[0-9;]*m", "", text)  # NO_COLOR leaves bold and dim: read the text
        return bool(data)

    def type(self, text: str) -> None:
        """Type a line: `text`, then Enter."""
        self.send(text + "\n")

    def send(self, keys: str) -> None:
        """Press keys as they are (`\x04`: Ctrl-D)."""
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, after reading what is left on the screen."""
        while self._read(0.2):
            pass
        code = self.proc.wait(timeout=timeout)
        while self._read(0.05):
            pass
        self.seen += self.screen
        os.close(self.master)
        return code


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """terminal(*args) -> mlobs started in a pseudo-terminal (a TTY), in tmp_path; killed by its PID at the end."""
    started: list[Terminal] = []
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLOBS_")}, "NO_COLOR": "1",
           "COLUMNS": "140", "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_STATE_HOME": str(tmp_path / "state")}

    def start(*args: object) -> Terminal:
        t = Terminal([str(a) for a in args], tmp_path, env)
        started.append(t)
        return t

    yield start
    for t in started:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()
