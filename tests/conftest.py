"""Fixtures for every test: an isolated configuration, sample files, the CLI, and a real Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from mlobs_cli.app import app


@pytest.fixture(autouse=True)
def isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No MLOBS_* variable, ./mlobs.yaml or XDG config of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("MLOBS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.setenv("NO_COLOR", "1")


def write_sample(path: Path, columns: dict[str, Any]) -> Path:
    """Write columns (numpy arrays or lists, None for null) as CSV, Parquet or JSONL, chosen by the suffix."""
    con = duckdb.connect()
    data = {k: np.asarray(v) if not isinstance(v, list) else v for k, v in columns.items()}
    if any(isinstance(v, list) for v in data.values()) or path.suffix == ".jsonl":
        rows = [dict(zip(data, values)) for values in zip(*data.values())]
        if path.suffix == ".jsonl":
            path.write_text("".join(json.dumps(_plain(r)) + "\n" for r in rows), encoding="utf-8")
            return path
        con.execute("CREATE TABLE t AS SELECT * FROM read_json_auto(?)", [_jsonl_temp(path, rows)])
    else:
        frame = data  # noqa: F841 - DuckDB scans the dict of arrays by its variable name
        con.execute("CREATE TABLE t AS SELECT * FROM frame")
    fmt = "parquet" if path.suffix == ".parquet" else "csv"
    con.execute(f"COPY t TO '{path}' (FORMAT {fmt})")
    return path


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}


def _jsonl_temp(path: Path, rows: list[dict[str, Any]]) -> str:
    tmp = path.with_suffix(".tmp.jsonl")
    tmp.write_text("".join(json.dumps(_plain(r)) + "\n" for r in rows), encoding="utf-8")
    return str(tmp)


@pytest.fixture
def sample(tmp_path: Path):
    """sample("ref.parquet", {"a": array}) -> path of the written file."""
    return lambda name, columns: write_sample(tmp_path / name, columns)


class Cli:
    """Runs mlobs in-process, as a user would type it."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: Any, env: dict[str, str] | None = None):
        return self.runner.invoke(app, [str(a) for a in args], env=env)

    def json(self, *args: Any, expect: int | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
        result = self(*args, "-o", "json", env=env)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.stderr, result.exception)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


# -- real servers on loopback: started once per session, stopped by their PID ----------------------------------

READY_TIMEOUT = 20.0


@pytest.fixture(autouse=True)
def sigint_reaches_children() -> Iterator[None]:
    """For the tests that send a child Ctrl-C. A shell running pytest in the background without job control (or
    nohup) has it ignore SIGINT, and a child inherits that: Python then never raises KeyboardInterrupt. A handled
    signal is not inherited (exec resets it), so the children of every test see SIGINT."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now: the kernel's pick."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port of 127.0.0.1 where a connection is refused."""
    return free_port()


def installed(binary: str, package: str) -> str:
    """The binary's path. Without it the test skips, except in CI, which installs it: there it fails."""
    path = shutil.which(binary)
    if path is None:
        reason = f"{binary} not installed (apt-get install {package}, or run ./scripts/test)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # a missing binary in CI is a broken install, not a skip
        pytest.skip(reason)
    return path


@contextmanager
def serving(name: str, argv: list[str], url: str, log: Path) -> Iterator[None]:
    """Run a server until the block ends: ready when `url`/-/ready answers 200, stopped by its PID even when a
    test fails; its stderr is shown if it dies or never gets ready."""
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready after {READY_TIMEOUT} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Prometheus Pushgateway (Debian `prometheus-pushgateway`) for this test session."""
    binary = installed("prometheus-pushgateway", "prometheus-pushgateway")
    url = f"http://127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("pushgateway") / "stderr.log"
    with serving("pushgateway", [binary, f"--web.listen-address={url.removeprefix('http://')}"], url, log):
        yield url


# -- a real Prometheus, for the Prometheus client and the online lint checks ------------------------------------

STEP = 15.0  # seconds between samples
RECENT = 2 * 3600.0  # the recent series cover [end - 2h, end]
OLD_AGE = 6 * 3600.0  # `legacy_queue_depth` stopped 6 h ago: outside a 1 h lookback, inside a 12 h one


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    end: float  # the last sample's time (Unix seconds), about a minute before the server started


def _series() -> list[tuple[str, dict[str, str]]]:
    series = []
    for model in ("llm-7b", "resnet50"):
        for version in ("v1", "v2"):
            for status in ("200", "500"):
                series.append(("inference_requests_total", {"model": model, "version": version, "status": status}))
            for le in ("0.05", "0.1", "0.5", "+Inf"):
                series.append(("inference_latency_seconds_bucket", {"model": model, "version": version, "le": le}))
        for feature in ("age", "income", "region"):
            series.append(("feature_psi", {"model": model, "feature": feature}))
        # outside the metrics catalogue: only the server knows its labels
        series.append(("tokenizer_cache_hits_total", {"model": model, "cache": "l1"}))
    return series


def openmetrics(end: float) -> str:
    """The backfilled history: every series sampled every 15 s over the 2 h before `end` (seconds, not ms), each
    series written whole in increasing time (promtool drops out-of-order samples silently), then `# EOF`."""
    lines = []
    steps = int(RECENT / STEP)
    for i, (name, labels) in enumerate(_series()):
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for n in range(steps + 1):
            t = end - (steps - n) * STEP
            value = float(n * (i + 1)) if name != "feature_psi" else 0.05 + 0.01 * (i % 5)
            lines.append(f"{name}{{{text}}} {value} {t:.3f}")
    for n in range(20):  # a metric that stopped being exported long ago, in a 2 h block of its own
        lines.append(f'legacy_queue_depth{{model="llm-7b"}} {n} {end - OLD_AGE - (20 - n) * STEP:.3f}')
    return "\n".join(lines) + "\n# EOF\n"


@contextmanager
def backfilled_prometheus(root: Path, openmetrics_text: str, config: str = "global:\n  scrape_interval: 15s\n"
                          ) -> Iterator[str]:
    """A Prometheus on 127.0.0.1 over `openmetrics_text` (seconds, each series in increasing time, `# EOF`)
    backfilled into `root`/data; yields its base URL and stops it by its PID. `config` is its prometheus.yml."""
    prometheus_binary = installed("prometheus", "prometheus")  # Debian's 2.42, with promtool
    promtool = installed("promtool", "prometheus")
    (root / "data.om").write_text(openmetrics_text, encoding="utf-8")
    data = root / "data"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(root / "data.om"),
                    str(data)], check=True, capture_output=True, timeout=120)
    (root / "prometheus.yml").write_text(config, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [prometheus_binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y", "--log.level=warn"]
    with serving("prometheus", argv, url, root / "stderr.log"):
        yield url


@contextmanager
def imported_victoriametrics(root: Path, openmetrics_text: str) -> Iterator[str]:
    """Debian's VictoriaMetrics on 127.0.0.1 with `openmetrics_text` imported (/api/v1/import/prometheus takes
    what backfilled_prometheus does) and flushed, so every query sees it; yields its base URL, stops it by PID."""
    binary = installed("victoria-metrics", "victoria-metrics")
    url = f"http://127.0.0.1:{free_port()}"
    argv = [binary, f"-httpListenAddr={url.removeprefix('http://')}", f"-storageDataPath={root / 'data'}",
            "-retentionPeriod=100y", "-search.disableCache", "-search.latencyOffset=0s", "-loggerLevel=WARN"]
    with serving("victoriametrics", argv, url, root / "stderr.log"):
        httpx.post(f"{url}/api/v1/import/prometheus", content=openmetrics_text.encode(), timeout=60).raise_for_status()
        httpx.get(f"{url}/internal/force_flush", timeout=30).raise_for_status()
        yield url


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A Prometheus started for this test session on 127.0.0.1 over backfilled data; stopped by its PID."""
    end = time.time() - 60  # never past now: the server would discard nothing, but "last 1h" must include it
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics(end)) as url:
        yield PrometheusServer(url, end)
