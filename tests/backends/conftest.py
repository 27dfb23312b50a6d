"""A real Prometheus Pushgateway for the backend tests, and a reader of what it serves on /metrics."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

BINARY = "prometheus-pushgateway"  # Debian's package of the same name; scripts/test installs it
READY_TIMEOUT = 15.0

SAMPLE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now: the kernel's pick."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port where a connection is refused."""
    return free_port()


def parse_samples(text: str) -> list[Sample]:
    """The samples of a text exposition: label values unescaped, values read as Go prints them (NaN, +Inf...)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        labels = {k: re.sub(r"\\.", lambda e: UNESCAPE[e.group(0)], v) for k, v in LABEL.findall(m["labels"] or "")}
        samples.append(Sample(m["name"], labels, float(m["value"])))
    return samples


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Pushgateway started for this test session on 127.0.0.1; stopped by its PID at the end."""
    binary = shutil.which(BINARY)
    if binary is None:
        reason = f"{BINARY} not installed (apt-get install prometheus-pushgateway, or run ./scripts/test)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: a missing binary there is a broken install, not a skip
        pytest.skip(reason)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("pushgateway") / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_ready(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pushgateway exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.05)
    pytest.fail(f"pushgateway not ready after {READY_TIMEOUT} s:\n{log.read_text(errors='replace')}")


@pytest.fixture
def scrape(gateway: str) -> Callable[[str], list[Sample]]:
    """`scrape(job)`: the samples the gateway serves for that job (tests share one gateway, each its own job)."""

    def read(job: str) -> list[Sample]:
        response = httpx.get(f"{gateway}/metrics", timeout=5)
        response.raise_for_status()
        return [s for s in parse_samples(response.text) if s.labels.get("job") == job]

    return read
