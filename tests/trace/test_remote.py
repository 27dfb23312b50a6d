"""The Jaeger and Grafana Tempo clients. Neither server can be installed on these machines, so each answers from
a loopback HTTP server with bodies in the shape each API documents:

- Jaeger query service: `GET /api/v3/traces/{id}` -> `{"result": {"resourceSpans": [...]}}` (OTLP JSON, hex ids;
  jaeger-idl api_v3 query_service, grpc-gateway's JSON); `GET /api/traces?service=...` -> `{"data": [trace, ...],
  "total", "limit", "offset", "errors"}` in Jaeger's JSON model (microsecond startTime/duration, references,
  processes).
- Tempo: `GET /api/traces/{id}` -> `{"batches": [...]}` (OTLP, ids base64 as protobuf JSON writes bytes);
  `GET /api/search?q=TraceQL&start&end&limit` -> `{"traces": [{"traceID", "rootServiceName", "rootTraceName",
  "startTimeUnixNano", "durationMs"}], "metrics": {...}}`.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.trace import otlp

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TOKEN = "tr4ce-t0ken-s3cret"


def jaeger_model(specs: list[dict[str, Any]]) -> dict[str, Any]:
    services = sorted({s["service"] for s in specs})
    pid = {svc: f"p{i + 1}" for i, svc in enumerate(services)}
    spans = []
    for s in specs:
        tid = s["trace"].rjust(32, "0")
        spans.append({
            "traceID": tid, "spanID": s["span"].rjust(16, "0"), "operationName": s["name"], "flags": 1,
            "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": s["parent"].rjust(16, "0")}]
            if s["parent"] else [],
            "startTime": (otlp.T0 // 1000) + round(s["start"] * 1000), "duration": round((s["end"] - s["start"]) * 1000),
            "tags": [{"key": k, "type": "string", "value": str(v)} for k, v in s["attributes"].items()],
            "logs": [], "processID": pid[s["service"]], "warnings": None})
    return {"traceID": specs[0]["trace"].rjust(32, "0"), "spans": spans,
            "processes": {pid[svc]: {"serviceName": svc, "tags": []} for svc in services}, "warnings": None}


def tempo_batches(specs: list[dict[str, Any]]) -> dict[str, Any]:
    doc = otlp.document(specs)
    for resource in doc["resourceSpans"]:
        for span in resource["scopeSpans"][0]["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                if span[key]:
                    span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return {"batches": doc["resourceSpans"]}


class Api:
    """A loopback HTTP server answering `routes[path]` (status, body), and what it was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any]] = {}
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                parts = urlsplit(self.path)
                api.requests.append((parts.path, parse_qs(parts.query), dict(self.headers)))
                status, body = api.routes.get(parts.path, (404, {"data": None, "errors": [{"code": 404,
                                                                                          "msg": "trace not found"}]}))
                if body == "echo-headers":
                    body = {"error": f"bad request from {dict(self.headers)}"}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.server.shutdown()
    server.server.server_close()


def requests_of(trace: str, n: int = 1) -> list[list[dict[str, Any]]]:
    return [otlp.request(f"{trace}{i:02x}" if n > 1 else trace, i * 1000, queue_ms=5 + i, forward_ms=20 + 2 * i)
            for i in range(n)]


def test_jaeger_show_reads_api_v3_with_the_token(cli, api, tmp_path):
    (specs,) = requests_of(TRACE)
    api.routes[f"/api/v3/traces/{TRACE}"] = (200, {"result": otlp.document(specs)})
    from_file = cli.json("trace", "show", TRACE, "--source", otlp.write(tmp_path / "t.jsonl", [otlp.document(specs)]),
                         expect=0)
    report = cli.json("trace", "show", TRACE, "--source", f"jaeger+{api.url}", expect=0,
                      env={"MLOBS_TRACE_TOKEN": TOKEN})
    assert report["spans"] == from_file["spans"] and report["critical_path"] == from_file["critical_path"]
    assert api.requests[-1][2]["Authorization"] == f"Bearer {TOKEN}"


def test_jaeger_breakdown_searches_the_service_in_the_window(cli, api):
    traces = requests_of("ab", 5)
    api.routes["/api/traces"] = (200, {"data": [jaeger_model(t) for t in traces], "total": 0, "limit": 0,
                                       "offset": 0, "errors": None})
    start = otlp.T0 // 10**9
    report = cli.json("trace", "breakdown", "--source", f"jaeger+{api.url}", "--from", str(start), "--to",
                      str(start + 60), "--model", "llm-7b", expect=0)
    path, query, _ = api.requests[-1]
    assert path == "/api/traces" and query["service"] == ["gateway"] and query["limit"] == ["1000"]
    assert query["start"] == [str(start * 10**6)] and json.loads(query["tags"][0]) == {"model_id": "llm-7b"}
    stages = {s["name"]: s for s in report["groups"][0]["stages"]}
    assert report["groups"][0]["traces"] == 5
    assert stages["gpu.forward_pass"]["duration_ms"]["p50"] == pytest.approx(24.0)  # 20, 22, 24, 26, 28


def test_tempo_searches_with_traceql_then_fetches_each_trace(cli, api):
    traces = requests_of("cd", 3)
    ids = [t[0]["trace"].rjust(32, "0") for t in traces]
    api.routes["/api/search"] = (200, {"traces": [{"traceID": i, "rootServiceName": "gateway",
                                                   "rootTraceName": "gateway.request",
                                                   "startTimeUnixNano": str(otlp.T0), "durationMs": 40}
                                                  for i in ids], "metrics": {"inspectedBytes": "1000"}})
    for i, t in zip(ids, traces):
        api.routes[f"/api/traces/{i}"] = (200, tempo_batches(t))
    start = otlp.T0 // 10**9
    report = cli.json("trace", "breakdown", "--source", f"tempo+{api.url}", "--from", str(start), "--to",
                      str(start + 60), "--model", "llm-7b", expect=0)
    search = next(q for p, q, _ in api.requests if p == "/api/search")
    assert search["q"] == ['{ span.model_id = "llm-7b" }'] and search["start"] == [str(start)]
    assert report["groups"][0]["traces"] == 3
    one = cli.json("trace", "show", ids[0], "--source", f"tempo+{api.url}", expect=0)
    assert len(one["spans"]) == 7 and one["trace_id"] == ids[0]  # base64 ids read back as hex


def test_an_unknown_trace_is_exit_2(cli, api):
    result = cli("trace", "show", TRACE, "--source", f"jaeger+{api.url}")
    assert result.exit_code == 2 and "not found" in result.stderr


def test_a_server_error_is_exit_3_without_the_token(cli, api):
    api.routes[f"/api/traces/{TRACE}"] = (500, "echo-headers")
    result = cli("trace", "show", TRACE, "--source", f"tempo+{api.url}", env={"MLOBS_TRACE_TOKEN": TOKEN})
    assert result.exit_code == 3 and "500" in result.stderr
    assert TOKEN not in result.stderr and TOKEN not in result.stdout


def test_not_the_api_is_exit_3(cli, api):
    api.routes["/api/search"] = (200, {"hello": "world"})
    result = cli("trace", "breakdown", "--source", f"tempo+{api.url}")
    assert result.exit_code == 3 and "not the Tempo API" in result.stderr


def test_a_password_in_the_flag_is_refused(cli):
    result = cli("trace", "show", TRACE, "--source", "jaeger+http://bob:hunter2@127.0.0.1:1")
    assert result.exit_code == 2 and "hunter2" not in result.stderr and "MLOBS_TRACE_PASSWORD" in result.stderr


def test_an_unreachable_server_is_exit_3(cli, closed_port):
    result = cli("trace", "show", TRACE, "--source", f"jaeger+http://127.0.0.1:{closed_port}")
    assert result.exit_code == 3 and "cannot reach jaeger" in result.stderr
