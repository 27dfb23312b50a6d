"""Servers that attack the client: bytes trickled within every read timeout, in the headers or in the body, and a
gzip answer that inflates to more than any bound. Each run is a real `mlobs` process: the subprocess timeout,
generous, is what fails a run that does not end (no elapsed-time assertion)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hostile import gzip_bomb, hostile_server, trickle_body, trickle_headers

from mlobs_cli.backends import pushgateway
from mlobs_cli.errors import BackendUnavailable
from mlobs_cli.results import Gauge

NEVER = 120  # seconds: a run still going after this holds the terminal forever, with a 1 s timeout set
VIEWS = [
    pytest.param(["metrics", "query", "up"], id="metrics query"),
    pytest.param(["metrics", "query", "up", "--range"], id="metrics query --range"),
    pytest.param(["metrics", "summary"], id="metrics summary"),
    pytest.param(["dashboard", "--once"], id="dashboard"),
    pytest.param(["alerts", "firing"], id="alerts firing"),
]


def mlobs(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlobs_cli", *args], env={**os.environ, **env}, text=True,
                          capture_output=True, timeout=NEVER, stdin=subprocess.DEVNULL)


def server_args(command: list[str], url: str) -> list[str]:
    return [*command, "--prometheus", url]


@pytest.mark.parametrize("behaviour", [trickle_headers, trickle_body], ids=["headers", "body"])
@pytest.mark.parametrize("command", VIEWS)
def test_a_trickling_server_ends_at_the_timeout(command, behaviour):
    with hostile_server(behaviour) as url:
        run = mlobs(*server_args(command, url), env={"MLOBS_PROMETHEUS_TIMEOUT": "1"})
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("\n") == 1 and "did not answer in time" in run.stderr, run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("behaviour", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_a_trickling_alertmanager_ends_at_the_timeout(behaviour):
    with hostile_server(behaviour) as url:
        run = mlobs("alerts", "firing", "--alertmanager", url, env={"MLOBS_PROMETHEUS_TIMEOUT": "1"})
    assert run.returncode == 3, run.stderr
    assert "alertmanager" in run.stderr and "did not answer in time" in run.stderr


@pytest.mark.parametrize("behaviour", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_a_trickling_pushgateway_ends_at_the_timeout(behaviour):
    # each of the 3 tries ends at its own 0.5 s: the push gives up with one error
    script = ("import sys\nfrom mlobs_cli.backends import pushgateway\nfrom mlobs_cli.results import Gauge\n"
              "from mlobs_cli.errors import BackendUnavailable\n"
              "try:\n    pushgateway.push(sys.argv[1], 'j', {'model': 'm'}, [Gauge('feature_psi', 'h', "
              "(('feature', 'f'),), 0.1)], timeout=0.5)\n"
              "except BackendUnavailable as e:\n    print(e)\n    sys.exit(3)\n")
    with hostile_server(behaviour) as url:
        run = subprocess.run([sys.executable, "-c", script, url], text=True, capture_output=True, timeout=NEVER)
    assert run.returncode == 3, run.stderr
    assert run.stdout.startswith("cannot reach pushgateway http://127.0.0.1:") and "timed out" in run.stdout


def test_the_default_bound_stops_a_gzip_bomb():
    bomb = gzip_bomb(320)  # 320 MiB decoded, past the default 256 MiB
    assert bomb.encoded_size < 2 * 2**20  # what crosses the wire is small: only the decoded size gives it away
    with hostile_server(bomb) as url:
        run = mlobs("metrics", "query", "up", "--prometheus", url, env={})
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert "answered more than 256 MiB (decoded) on /api/v1/query" in run.stderr
    assert "prometheus.max_response_mib" in run.stderr


@pytest.mark.parametrize("command", [*VIEWS, pytest.param(["alerts", "firing", "--alertmanager"],
                                                          id="alerts firing --alertmanager")])
def test_the_bound_is_configurable_and_holds_in_every_view(command):
    with hostile_server(gzip_bomb(8)) as url:
        args = [*command, url] if command[-1] == "--alertmanager" else server_args(command, url)
        run = mlobs(*args, env={"MLOBS_PROMETHEUS_MAX_RESPONSE_MIB": "2"})
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("\n") == 1 and "answered more than 2 MiB (decoded)" in run.stderr, run.stderr


def test_an_answer_under_the_bound_is_read(cli, prometheus):
    """The bound counts decoded bytes of the answer, not more: a real answer of a few KiB passes 0.01 MiB."""
    result = cli("metrics", "query", "inference_requests_total", "--at", prometheus.end, "--prometheus",
                 prometheus.url, "-o", "json", env={"MLOBS_PROMETHEUS_MAX_RESPONSE_MIB": "0.01"})
    assert result.exit_code == 0, result.stderr
    result = cli("metrics", "query", "inference_requests_total", "--at", prometheus.end, "--prometheus",
                 prometheus.url, "-o", "json", env={"MLOBS_PROMETHEUS_MAX_RESPONSE_MIB": "0.001"})
    assert result.exit_code == 3 and "answered more than 0.001 MiB" in result.stderr


def test_a_pushgateway_answer_is_bounded_too():
    with hostile_server(gzip_bomb(4)) as url, pytest.raises(BackendUnavailable, match="answered more than 1 MiB"):
        pushgateway.push(url, "j", {"model": "m"}, [Gauge("feature_psi", "h", (("feature", "f"),), 0.1)],
                         timeout=30)
