"""OTLP JSON documents written as the Collector's file exporter writes them, from compact span specs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

T0 = 1_796_000_000 * 10**9  # 2026-11-30, in nanoseconds


def span(trace: str, span_id: str, parent: str, name: str, start_ms: float, end_ms: float,
         service: str = "serving", **attributes: Any) -> dict[str, Any]:
    """One span spec: ids as short hex (padded), times in ms after T0."""
    return {"trace": trace, "span": span_id, "parent": parent, "name": name, "start": start_ms, "end": end_ms,
            "service": service, "attributes": attributes}


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def document(specs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One `{"resourceSpans": [...]}` document, one resource per service."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for s in specs:
        by_service.setdefault(s["service"], []).append({
            "traceId": s["trace"].rjust(32, "0"), "spanId": s["span"].rjust(16, "0"),
            "parentSpanId": s["parent"].rjust(16, "0") if s["parent"] else "",
            "name": s["name"], "kind": 2,
            "startTimeUnixNano": str(T0 + round(s["start"] * 1e6)),
            "endTimeUnixNano": str(T0 + round(s["end"] * 1e6)),
            "attributes": [{"key": k, "value": _value(v)} for k, v in s["attributes"].items()],
            "status": {"code": 2 if s["attributes"].get("error") else 0}})
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                             "value": {"stringValue": svc}}]},
                               "scopeSpans": [{"scope": {"name": "mlobs-tests"}, "spans": spans}]}
                              for svc, spans in by_service.items()]}


def write(path: Path, documents: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def request(trace: str, start_ms: float, queue_ms: float, forward_ms: float, model: str = "llm-7b",
            pre_ms: float = 2.0, post_ms: float = 1.0, auth_ms: float = 1.0) -> list[dict[str, Any]]:
    """The design's spans of one request, one after the other under gateway.request."""
    t = start_ms
    out = [span(trace, "a1", "", "gateway.request", t, 0, service="gateway", model_id=model)]
    for sid, name, ms, svc in (("a2", "gateway.auth", auth_ms, "gateway"), ("a3", "router.ab_decision", 0.5, "router"),
                               ("a4", "server.queue_wait", queue_ms, "serving"),
                               ("a5", "server.preprocess", pre_ms, "serving"),
                               ("a6", "gpu.forward_pass", forward_ms, "serving"),
                               ("a7", "server.postprocess", post_ms, "serving")):
        out.append(span(trace, sid, "a1", name, t, t + ms, service=svc))
        t += ms
    out[0]["end"] = t + 0.5
    return out
