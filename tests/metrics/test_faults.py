"""What the metrics commands do when the server fails, end to end through the CLI: each fault from a real socket
(a closed port, a listener that never answers, a small HTTP server answering as told: conftest.fake_server), and a
view with one failing query through a transport that forwards the others to the real Prometheus."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from metrics_fakes import ok

from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.errors import BackendUnavailable
from mlobs_cli.metrics import dashboard as db
from mlobs_cli.metrics import summary
from mlobs_cli.metrics.common import utc

TOKEN = "s3cr3t-t0ken"
VIEWS = [
    pytest.param(["metrics", "query", "up"], id="metrics query"),
    pytest.param(["metrics", "summary"], id="metrics summary"),
    pytest.param(["dashboard", "--once"], id="dashboard"),
    pytest.param(["alerts", "firing"], id="alerts firing"),
]


@pytest.mark.parametrize("command", VIEWS)
def test_server_down_is_exit_3_in_one_line(cli, closed_port, command):
    result = cli(*command, "--prometheus", f"http://127.0.0.1:{closed_port}")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "cannot reach prometheus" in result.stderr


@pytest.mark.parametrize("command", VIEWS)
def test_a_hang_times_out(cli, hanging_server, command):
    result = cli(*command, "--prometheus", hanging_server, env={"MLOBS_PROMETHEUS_TIMEOUT": "0.3"})
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "did not answer in time" in result.stderr


@pytest.mark.parametrize("command", VIEWS)
def test_401_never_shows_the_token(cli, fake_server, command):
    url = fake_server(lambda path: (401, f'{{"error": "bad token {TOKEN}"}}'))
    result = cli(*command, "--prometheus", url, env={"MLOBS_PROMETHEUS_TOKEN": TOKEN})
    assert result.exit_code == 3
    assert "401" in result.stderr and "prometheus.token" in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_malformed_json_is_exit_3(cli, fake_server):
    url = fake_server(lambda path: (200, '{"status": "success", "data": {'))
    result = cli("metrics", "query", "up", "--prometheus", url)
    assert result.exit_code == 3 and "not the Prometheus API" in result.stderr


def test_503_then_200_is_retried_end_to_end(cli, fake_server):
    answers = [(503, "restarting"), ok({"resultType": "vector", "result": [
        {"metric": {"job": "a"}, "value": [1795690000, "1"]}]})]
    url = fake_server(lambda path: answers.pop(0))
    report = cli.json("metrics", "query", "up", "--prometheus", url, expect=0)
    assert report["result"][0]["labels"] == {"job": "a"} and answers == []


@pytest.mark.parametrize("command", VIEWS)
def test_warnings_are_shown_kept_and_make_the_view_incomplete(cli, fake_server, command):
    """Thanos names a store it could not reach only in `warnings` (no isPartial): an answer that carries one may
    lack data, so the view is incomplete (exit 3), with the warning shown and in the JSON."""
    warning = "partial response: store eu-1 unreachable"
    answers = {"/api/v1/query": {"resultType": "vector", "result": []},
               "/api/v1/query_range": {"resultType": "matrix", "result": []}, "/api/v1/alerts": {"alerts": []}}
    url = fake_server(lambda path: ok(answers[urlsplit(path).path], warnings=[warning]))
    result = cli(*command, "--prometheus", url, "-o", "json")
    assert result.exit_code == 3, result.stderr
    assert f"mlobs: warning: prometheus: {warning}" in result.stderr
    report = json.loads(result.stdout)
    assert report["warnings"] == [warning] and report["complete"] is False
    expected = f"the server warned: {warning} (so the answer may be incomplete)"
    assert [e["message"] for e in report["errors"]] == [expected]


def test_a_partial_answer_is_exit_3_with_the_data(cli, fake_server):
    url = fake_server(lambda path: ok({"resultType": "vector", "result": [
        {"metric": {"job": "a"}, "value": [1795690000, "2"]}]}, isPartial=True))
    result = cli("metrics", "query", "up", "--prometheus", url, "-o", "json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["complete"] is False and report["result"][0]["value"] == 2
    assert "partial response" in report["errors"][0]["message"] and "partial response" in result.stderr


class FailSome(httpx.BaseTransport):
    """Forwards to the real server, except the requests `fails(params)` picks, answered `status`."""

    def __init__(self, fails, status: int = 503) -> None:
        self.fails, self.status = fails, status
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.fails({k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}):
            return httpx.Response(self.status, text="upstream unavailable", request=request)
        return self.real.handle_request(request)


def test_a_failed_request_makes_the_view_partial(scenario_prometheus, scenario):
    previous = f"{scenario.end - 3600:.3f}"
    transport = FailSome(lambda params: params.get("time") == previous)
    with PrometheusClient(scenario_prometheus.url, transport=transport, backoff=(0, 0)) as client:
        result = summary.summarize(client, utc(scenario.end), _five_minutes())
    assert not result.complete and int(result.exit_code()) == 3
    assert [e.message for e in result.errors] == [
        f"prometheus {scenario_prometheus.url} answered 503 Service Unavailable: upstream unavailable"]
    row = next(r for r in result.models if r.model == "fraud-det")
    assert row.cells["error_ratio"].value is not None and row.cells["error_ratio"].previous is None


def test_a_failed_panel_is_marked_and_the_others_drawn(scenario_prometheus, scenario):
    transport = FailSome(lambda params: params.get("query") == "sum(request_queue_depth)")
    with PrometheusClient(scenario_prometheus.url, transport=transport, backoff=(0, 0)) as client:
        result = db.build(client, utc(scenario.end), _five_minutes())
    shown = {p.panel.title: p for p in result.panels}
    assert shown["Request Queue Depth"].error and not shown["Request Queue Depth"].data
    assert shown["Requests/s"].error is None and shown["Requests/s"].data["value"] is not None
    assert not result.complete


def test_every_request_failing_is_one_error(scenario_prometheus, scenario):
    with PrometheusClient(scenario_prometheus.url, transport=FailSome(lambda params: True, 502),
                          backoff=(0,)) as client, pytest.raises(BackendUnavailable, match="502"):
        summary.summarize(client, utc(scenario.end), _five_minutes())


@pytest.mark.parametrize(
    ("view", "requests"),
    [
        pytest.param(summary.summarize, 2, id="summary: every column now, and an hour earlier"),
        pytest.param(db.build, 4, id="dashboard: instant now and earlier, two sparkline ranges"),
    ],
)
def test_the_requests_of_a_view_are_in_flight_together(scenario_prometheus, scenario, view, requests):
    """Every request waits at a barrier until all of the view's requests have been sent: sent one after the
    other, the first would wait alone and the barrier would break (BrokenBarrierError after 10 s)."""
    import threading

    barrier = threading.Barrier(requests, timeout=10)

    class Together(httpx.BaseTransport):
        def __init__(self) -> None:
            self.real = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            barrier.wait()
            return self.real.handle_request(request)

    with PrometheusClient(scenario_prometheus.url, transport=Together()) as client:
        result = view(client, utc(scenario.end), _five_minutes())
    assert result.complete and not barrier.broken


def _five_minutes():
    from datetime import timedelta

    return timedelta(minutes=5)


def test_a_refresh_shows_only_its_own_warnings_and_partial_answers(fake_server):
    """The live dashboard builds every refresh with the same client: a partial answer of one refresh must not
    mark every later one incomplete."""
    answers = [ok({"resultType": "vector", "result": []}, warnings=["store eu-1 unreachable"], isPartial=True),
               ok({"resultType": "vector", "result": []})]
    url = fake_server(lambda path: answers.pop(0) if len(answers) > 1 else answers[0])
    with PrometheusClient(url, backoff=()) as client:
        first = summary.summarize(client, utc(1795690000), _five_minutes())
        second = summary.summarize(client, utc(1795690000), _five_minutes())
    assert not first.complete and first.warnings == ("store eu-1 unreachable",)
    assert second.complete and second.warnings == ()


@pytest.mark.parametrize("command", [["metrics", "query", "up"], ["metrics", "summary"]],
                         ids=["one request", "requests in threads"])
def test_ctrl_c_during_a_hung_request_exits_130(command):
    """Ctrl-C must not wait for the requests in flight: with a 10-minute timeout, a process that waited for them
    would still be running when the test gives up on it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proc = subprocess.Popen([sys.executable, "-m", "mlobs_cli", *command, "--prometheus", url],
                                env={**os.environ, "MLOBS_PROMETHEUS_TIMEOUT": "600"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            listener.settimeout(60)
            held, _ = listener.accept()  # a request is in flight, and will never be answered
            with held:
                proc.send_signal(signal.SIGINT)
                _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
