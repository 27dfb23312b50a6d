"""Spans as every trace store hands them over, and the two wire formats they come in.

OTLP JSON (the OpenTelemetry Collector's file exporter, Jaeger's `/api/v3`, Grafana Tempo) is read by
`from_otlp`; Jaeger's own JSON model (`/api/traces`, its search) by `from_jaeger`. Both give the same `Span`, so
every command after the store is the same whichever store it was.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# The design's span attributes ("Span Definitions"), shown in the waterfall when a span has them.
SHOWN_ATTRIBUTES = ("model_id", "queue_depth", "batch_size", "gpu_id", "variant")
_HEX = re.compile(r"[0-9a-f]+")
STATUS_ERROR = 2  # OTLP's STATUS_CODE_ERROR


class SpanFormatError(ValueError):
    """A span (or a document of spans) that is not in the format it claims: the reason, for one line."""


@dataclass(frozen=True, slots=True)
class Span:
    """One span; times are Unix nanoseconds, ids lowercase hex ("" for a root's parent)."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    error: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


def normalize_id(value: Any, length: int, what: str) -> str:
    """A trace or span id as lowercase hex of `length` digits: OTLP JSON writes hex (the spec), protobuf-JSON
    writers such as Tempo's base64, Jaeger 64-bit trace ids may come without their leading zeros."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise SpanFormatError(f"{what} is not a string")
    text = value.strip().lower()
    if _HEX.fullmatch(text) and len(text) <= length:
        return text.rjust(length, "0")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if raw and len(raw) * 2 <= length:
        return raw.hex().rjust(length, "0")
    raise SpanFormatError(f"{what} {value[:40]!r} is neither hex nor base64 of at most {length // 2} bytes")


def check_trace_id(text: str) -> str:
    """A trace id the user typed: 1 to 32 hex digits (Jaeger's 64-bit ids are 16), as the stores compare it."""
    value = text.strip().lower()
    if not _HEX.fullmatch(value) or len(value) > 32:
        raise SpanFormatError(f"trace id {text[:64]!r}: expected up to 32 hexadecimal digits")
    return value.rjust(32, "0")


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue ({"stringValue": ...}, {"intValue": "12"}...) as a Python value."""
    if not isinstance(value, Mapping):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:  # int64 is a string in OTLP JSON, a number in some writers
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    for key in ("doubleValue", "boolValue"):
        if key in value:
            return value[key]
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values") or ()]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {a["key"]: _any_value(a.get("value")) for a in items if isinstance(a, Mapping) and "key" in a}


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SpanFormatError(f"{what} {str(value)[:40]!r} is not a time in nanoseconds") from None


def from_otlp(document: Any) -> Iterator[Span]:
    """The spans of one OTLP JSON document: `{"resourceSpans": [...]}`; Tempo's older `{"batches": [...]}` and
    the `instrumentationLibrarySpans` of OTLP before 0.15 are read too.

    Raises:
        SpanFormatError: The document is not OTLP JSON, or a span lacks its ids or times.
    """
    if not isinstance(document, Mapping):
        raise SpanFormatError("not a JSON object")
    resources = document.get("resourceSpans", document.get("batches"))
    if not isinstance(resources, list):
        raise SpanFormatError("no resourceSpans list")
    for resource in resources:
        if not isinstance(resource, Mapping):
            raise SpanFormatError("a resourceSpans entry is not an object")
        resource_attributes = _attributes((resource.get("resource") or {}).get("attributes"))
        service = str(resource_attributes.get("service.name") or "unknown")
        scopes = resource.get("scopeSpans", resource.get("instrumentationLibrarySpans")) or []
        if not isinstance(scopes, list):
            raise SpanFormatError("scopeSpans is not a list")
        for scope in scopes:
            for raw in (scope.get("spans") if isinstance(scope, Mapping) else None) or []:
                yield _otlp_span(raw, service)


def _otlp_span(raw: Any, service: str) -> Span:
    if not isinstance(raw, Mapping):
        raise SpanFormatError("a span is not an object")
    trace_id = normalize_id(raw.get("traceId"), 32, "traceId")
    span_id = normalize_id(raw.get("spanId"), 16, "spanId")
    if not trace_id or not span_id:
        raise SpanFormatError("a span has no traceId or spanId")
    status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
    code = status.get("code")
    return Span(trace_id=trace_id, span_id=span_id, parent_id=normalize_id(raw.get("parentSpanId"), 16,
                                                                           "parentSpanId"),
                name=str(raw.get("name") or "(unnamed)"), service=service,
                start_ns=_nanos(raw.get("startTimeUnixNano"), "startTimeUnixNano"),
                end_ns=_nanos(raw.get("endTimeUnixNano"), "endTimeUnixNano"),
                error=code in (STATUS_ERROR, "STATUS_CODE_ERROR"), attributes=_attributes(raw.get("attributes")))


def from_jaeger(trace: Any) -> Iterator[Span]:
    """The spans of one trace in Jaeger's JSON model (`/api/traces` answers a list of them under `data`):
    microsecond times, a CHILD_OF reference as the parent, the service from the trace's `processes`.

    Raises:
        SpanFormatError: Not a Jaeger trace.
    """
    if not isinstance(trace, Mapping) or not isinstance(trace.get("spans"), list):
        raise SpanFormatError("not a Jaeger trace (no spans list)")
    processes = trace.get("processes") if isinstance(trace.get("processes"), Mapping) else {}
    for raw in trace["spans"]:
        if not isinstance(raw, Mapping):
            raise SpanFormatError("a span is not an object")
        refs = [r for r in raw.get("references") or () if isinstance(r, Mapping)]
        parent = next((r.get("spanID") for r in refs if r.get("refType") == "CHILD_OF"), None)
        parent = parent or next((r.get("spanID") for r in refs), None)  # FOLLOWS_FROM when that is all there is
        process = processes.get(raw.get("processID")) or {}
        start = _nanos(raw.get("startTime"), "startTime") * 1000
        tags = {t["key"]: t.get("value") for t in raw.get("tags") or () if isinstance(t, Mapping) and "key" in t}
        yield Span(trace_id=normalize_id(raw.get("traceID"), 32, "traceID"),
                   span_id=normalize_id(raw.get("spanID"), 16, "spanID"),
                   parent_id=normalize_id(parent, 16, "references.spanID"),
                   name=str(raw.get("operationName") or "(unnamed)"),
                   service=str(process.get("serviceName") or "unknown"), start_ns=start,
                   end_ns=start + _nanos(raw.get("duration"), "duration") * 1000,
                   error=tags.get("error") in (True, "true"), attributes=tags)
