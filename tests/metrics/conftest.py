"""The metrics views' servers: the scenario (scenario.py) in a real Prometheus and a real VictoriaMetrics, a
Prometheus evaluating alert rules over fresh data, a real Alertmanager, and a small HTTP server that answers what a
test tells it (a 401, a warning, a body that is not JSON, a hang) for the faults no real server gives on demand."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from scenario import STEP, Scenario

from tests.conftest import backfilled_prometheus, free_port, imported_victoriametrics, installed, serving


def grid_end(lag: float) -> float:
    """The latest multiple of STEP at least `lag` seconds before now: the scenario's last sample."""
    return float(int((time.time() - lag) // STEP) * STEP)


@dataclass(frozen=True)
class Server:
    kind: str  # prometheus | victoriametrics
    url: str


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario(grid_end(120))


@pytest.fixture(scope="session")
def scenario_prometheus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                        scenario: Scenario) -> Iterator[Server]:
    with backfilled_prometheus(tmp_path_factory.mktemp("scenario-prometheus"),
                                                             scenario.openmetrics()) as url:
        yield Server("prometheus", url)


@pytest.fixture(scope="session")
def scenario_victoriametrics(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                             scenario: Scenario) -> Iterator[Server]:
    """Debian's VictoriaMetrics with the scenario imported (/api/v1/import/prometheus takes the same OpenMetrics)."""
    with imported_victoriametrics(tmp_path_factory.mktemp("victoriametrics"), scenario.openmetrics()) as url:
        yield Server("victoriametrics", url)


@pytest.fixture(params=["prometheus", "victoriametrics"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each test that takes it runs against both servers."""
    return request.getfixturevalue(f"scenario_{request.param}")


# -- alerts: rules over fresh data, and an Alertmanager ---------------------------------------------------------

RULES = """
groups:
  - name: serving
    interval: 1s
    rules:
      - alert: HighLatencyP99
        expr: histogram_quantile(0.99, sum by (le, model, version) (rate(inference_latency_seconds_bucket[5m]))) > 0.1
        labels: {severity: warning, team: ml-platform}
        annotations: {summary: "High p99 latency for {{ $labels.model }}"}
      - alert: CriticalErrorRate
        expr: sum by (model) (rate(inference_errors_total[5m])) / sum by (model) (rate(inference_requests_total[5m])) > 0.05
        labels: {severity: critical, page: "true"}
        annotations: {summary: "Critical error rate >5% for {{ $labels.model }}"}
      - alert: GpuMemoryHigh
        expr: gpu_memory_used_bytes / on (instance, gpu_id) gpu_memory_total_bytes > 0.9
        for: 1h
        labels: {severity: warning}
        annotations: {summary: "GPU memory >90% on {{ $labels.gpu_id }}"}
      - alert: GpuUtilizationLow
        expr: gpu_utilization_percent < 30
        labels: {severity: info}
        annotations: {summary: "Low GPU utilization - consider scaling down"}
"""
EXPECTED_ALERTS = 4  # HighLatencyP99 (llm-7b v2.1.0), CriticalErrorRate, GpuMemoryHigh (pending), GpuUtilizationLow


@pytest.fixture(scope="module")
def alerting_prometheus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[tuple[Server, Scenario]]:
    """A Prometheus over a scenario ending 30 s ago, evaluating RULES every second at wall-clock now (rules never
    see backfilled history), ready once every expected alert is pending or firing."""
    root = tmp_path_factory.mktemp("alerting-prometheus")
    fresh = Scenario(grid_end(30))
    (root / "rules.yml").write_text(RULES, encoding="utf-8")
    config = f"global:\n  evaluation_interval: 1s\nrule_files:\n  - {root / 'rules.yml'}\n"
    with backfilled_prometheus(root, fresh.openmetrics(), config) as url:
        deadline = time.monotonic() + 30
        while len(httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]) < EXPECTED_ALERTS:
            if time.monotonic() > deadline:
                pytest.fail("the scenario's alerts did not become active in 30 s")
            time.sleep(0.2)
        yield Server("prometheus", url), fresh


@pytest.fixture
def alertmanager(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh Alertmanager for each test (ready in ~0.1 s): the alerts a test posts are the only ones."""
    binary = installed("prometheus-alertmanager", "prometheus-alertmanager")
    root = tmp_path_factory.mktemp("alertmanager")
    (root / "am.yml").write_text("route: {receiver: blackhole, group_wait: 0s}\nreceivers: [{name: blackhole}]\n",
                                 encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    argv = [binary, f"--config.file={root / 'am.yml'}", f"--storage.path={root / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}", "--cluster.listen-address="]
    with serving("alertmanager", argv, url, root / "stderr.log"):
        yield url


# -- a server that answers what the test says -------------------------------------------------------------------

Handler = Callable[[str], tuple[int, str]]  # request path with query -> (status, body)


@pytest.fixture
def fake_server() -> Iterator[Callable[[Handler], str]]:
    """`fake_server(handler)` -> the URL of an HTTP server on loopback answering every GET with handler(path);
    stopped after the test."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = handler(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a Prometheus stuck on a huge query)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
