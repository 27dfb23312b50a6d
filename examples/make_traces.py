"""Write examples/traces.jsonl.gz: the traces of the requests in examples/prediction-logs.jsonl, as the
OpenTelemetry Collector's file exporter writes them (one `{"resourceSpans": [...]}` document per line, OTLP JSON).

Each request's trace has the design's spans (gateway.request -> gateway.auth, router.ab_decision,
server.queue_wait, server.preprocess, gpu.forward_pass, server.postprocess), their lengths the log record's
phases, its trace id the record's `trace_id`, so `mlobs trace show --request-id` finds it from the logs. The
serving pods' clock runs 0.4 ms behind the gateway's on gpu-1, as clocks of two hosts do.

Deterministic: rerunning rewrites the same file.
    python examples/make_traces.py
"""

import gzip
import hashlib
import json
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTH_MS, ROUTER_MS, GATEWAY_MS = 0.2, 0.1, 0.1  # the gateway's own work around the model server's phases


def _id(text: str, digits: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:digits]


def _attrs(**values) -> list[dict]:
    out = []
    for key, value in values.items():
        if isinstance(value, int):
            out.append({"key": key, "value": {"intValue": str(value)}})
        elif value is not None:
            out.append({"key": key, "value": {"stringValue": str(value)}})
    return out


def _span(trace_id: str, name: str, parent: str, start_ns: int, end_ns: int, **attributes) -> dict:
    return {"traceId": trace_id, "spanId": _id(trace_id + name, 16), "parentSpanId": parent, "name": name,
            "kind": 2 if parent == "" else 1, "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns),
            "attributes": _attrs(**attributes), "status": {"code": 0}}


def trace(record: dict, index: int) -> dict:
    tid = record["trace_id"]
    t0 = int(datetime.fromisoformat(record["timestamp"]).timestamp() * 1e9)
    ms = 1_000_000
    root = _span(tid, "gateway.request", "", t0,
                 t0 + round((AUTH_MS + ROUTER_MS + record["total_latency_ms"] + GATEWAY_MS) * ms),
                 model_id=record["model_id"])
    root["status"] = {"code": 2 if record["status"] != "SUCCESS" else 0}
    auth = _span(tid, "gateway.auth", root["spanId"], t0, t0 + round(AUTH_MS * ms), auth_method="api_key")
    t = t0 + round(AUTH_MS * ms)
    router = _span(tid, "router.ab_decision", root["spanId"], t, t + round(ROUTER_MS * ms),
                   experiment_id=record.get("experiment_id"), variant=record.get("variant_id"))
    t += round(ROUTER_MS * ms)
    gpu = index % 2
    skew = -400_000 if gpu == 1 else 0  # gpu-1's pod clock
    serving = []
    for name, phase, attributes in (
            ("server.queue_wait", "queue_wait_ms", {"queue_depth": int(record["queue_wait_ms"] // 0.8)}),
            ("server.preprocess", "preprocessing_ms", {"input_size": record["input_size_bytes"]}),
            ("gpu.forward_pass", "inference_ms", {"batch_size": 8 if record["queue_wait_ms"] > 5 else 4,
                                                  "gpu_id": str(gpu)}),
            ("server.postprocess", "postprocessing_ms", {"output_size": record["output_size_bytes"]})):
        end = t + round(record[phase] * ms)
        serving.append(_span(tid, name, root["spanId"], t + skew, end + skew, **attributes))
        t = end

    def resource(service: str, spans: list[dict]) -> dict:
        return {"resource": {"attributes": _attrs(**{"service.name": service})},
                "scopeSpans": [{"scope": {"name": "serving-otel", "version": "1.0"}, "spans": spans}]}

    return {"resourceSpans": [resource("gateway", [root, auth]), resource("router", [router]),
                              resource(f"{record['model_id']}-serving", serving)]}


def main() -> None:
    records = [json.loads(line) for line in (HERE / "prediction-logs.jsonl").read_text().splitlines()]
    lines = "".join(json.dumps(trace(r, i), separators=(",", ":")) + "\n" for i, r in enumerate(records))
    with gzip.GzipFile(HERE / "traces.jsonl.gz", "wb", mtime=0) as f:
        f.write(lines.encode())


if __name__ == "__main__":
    main()
