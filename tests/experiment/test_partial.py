"""A query that fails while the others answer: the result is shown, marked incomplete, exit 3 (or 1 when a
finding outranks it). A real Prometheus does not fail one query on demand, so a small proxy in front of the
real one answers 503 to the revenue query and forwards everything else."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import free_port


@pytest.fixture
def failing_revenue(experiments_prometheus) -> Iterator[str]:
    upstream = experiments_prometheus.url

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _answer(self, query: str, send: httpx.Response | None) -> None:
            if "experiment_revenue" in query or send is None:
                status, body = 503, b"revenue store down"
            else:
                status, body = send.status_code, send.content
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            query = " ".join(parse_qs(urlsplit(self.path).query).get("query", []))
            forwarded = None if "experiment_revenue" in query else httpx.get(upstream + self.path, timeout=10)
            self._answer(query, forwarded)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            query = " ".join(parse_qs(body.decode()).get("query", []))
            forwarded = None if "experiment_revenue" in query else httpx.post(
                upstream + self.path, content=body, headers={"Content-Type": self.headers["Content-Type"]},
                timeout=10)
            self._answer(query, forwarded)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_failed_revenue_query_is_incomplete(cli, experiments_prometheus, failing_revenue: str) -> None:
    out = cli.json("experiment", "status", "winner", "--prometheus", failing_revenue, "--at",
                   str(experiments_prometheus.end), "--since", "1h", expect=3)
    assert out["complete"] is False and out["errors"][0]["backend"] == "prometheus"
    assert out["verdict"] == "promote"  # what did arrive is still judged
    assert all(v["revenue"] is None for v in out["variants"])


def test_finding_outranks_incomplete(cli, experiments_prometheus, failing_revenue: str) -> None:
    out = cli.json("experiment", "status", "loser", "--prometheus", failing_revenue, "--at",
                   str(experiments_prometheus.end), "--since", "1h", expect=1)
    assert out["complete"] is False and out["verdict"] == "roll_back"
