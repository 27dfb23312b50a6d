"""Trace servers: Jaeger's query API and Grafana Tempo's HTTP API.

The transport is the Prometheus client's (auth, TLS verified unless turned off, one timeout a try, bounded retries,
errors with credentials masked, `gather` for requests sent together); only the answers differ. Both servers
answer one trace in OTLP JSON (Jaeger `/api/v3/traces/{id}`, Tempo `/api/traces/{id}`), read by the same parser
as the files. Many traces are found by a search (Jaeger `/api/traces?service=...`, in Jaeger's own JSON model;
Tempo `/api/search` with TraceQL, then each trace by id), at most `trace.limit` of them, and put into the same
DuckDB table the files are flattened into, so every statistic is the same SQL whatever the store.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from mlobs_cli.backends.logstore.files import connect
from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.backends.tracestore.base import RankRow, StageRow, TraceTotals
from mlobs_cli.backends.tracestore.sql import COLUMNS, SpanSql, hashed
from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.logs.query import Window
from mlobs_cli.results import BackendError
from mlobs_cli.trace.spans import Span, SpanFormatError, from_jaeger, from_otlp


class TraceApiClient(PrometheusClient):
    """A connection to a trace server's HTTP API; the constructor takes PrometheusClient's arguments."""

    auth_hint = "trace.token, or trace.username and trace.password"

    def __init__(self, url: str, *, name: str, **kwargs: Any) -> None:
        self.name = name
        super().__init__(url, **kwargs)

    @classmethod
    def for_source(cls, name: str, url: str, settings: Settings) -> TraceApiClient:
        verify: bool | str = False if settings["trace.insecure"] else (settings["trace.ca_file"] or True)
        return cls(url, name=name, token=settings["trace.token"], username=settings["trace.username"],
                   password=settings["trace.password"], tenant=settings["trace.tenant"], verify=verify,
                   timeout=settings["trace.timeout"])

    def get(self, path: str, params: Iterable[tuple[str, str]]) -> Any:
        """GET `path` and return the decoded JSON answer; None for a 404 (no such trace).

        Raises:
            BackendUnavailable: Not reachable, not 2xx after the retries, or not JSON.
            InputError: The server calls the request bad (400 with its message).
        """
        response = self._send(path, list(params))
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._refusal(response, self._error_body(response))
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._not_api(path, "not JSON") from None

    def _not_api(self, path: str, detail: str) -> BackendUnavailable:
        return BackendUnavailable(f"{self.name} {self.shown} answered something that is not the "
                                  f"{self.name.capitalize()} API on {path} ({detail}): check the URL")


class RemoteTraceStore(ABC):
    """What Jaeger's and Tempo's stores share: the DuckDB table of the traces a search found."""

    name = "remote"

    def __init__(self, client: TraceApiClient, settings: Settings) -> None:
        self.client = client
        self.source = client.shown
        self.limit = int(settings["trace.limit"])
        self.service = settings["trace.service"]
        self._warnings: list[BackendError] = []
        self._tables: dict[tuple[Window, str | None], SpanSql] = {}

    @property
    def warnings(self) -> list[BackendError]:
        return self._warnings

    @abstractmethod
    def trace(self, trace_id: str) -> list[Span]: ...

    @abstractmethod
    def search(self, window: Window, model: str | None) -> list[Span]:
        """The spans of at most `limit` traces of the period (and the model's), as the server finds them."""

    def stages(self, window: Window, model: str | None, slowest: float,
               fractions: Sequence[float]) -> tuple[list[TraceTotals], list[StageRow]]:
        return self._table(window, model).stages(window, model, slowest, fractions)

    def ranks(self, window: Window, model: str | None, values: Sequence[tuple[str, int, int]],
              fractions: Sequence[float]) -> list[RankRow]:
        return self._table(window, model).ranks(window, model, values, fractions)

    def _table(self, window: Window, model: str | None) -> SpanSql:
        key = (window, model)
        if key not in self._tables:
            spans = self.search(window, model)
            con = connect()
            con.execute(f"CREATE TEMP TABLE spans ({COLUMNS})")
            rows = [(s.trace_id, s.span_id, s.parent_id, s.name, s.service, s.start_ns, s.end_ns, _model(s))
                    for s in spans]
            columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(8)]
            unnested = ", ".join(f"unnest(${i + 1}) AS c{i}" for i in range(8))
            con.execute(f"INSERT INTO spans SELECT {hashed('c0')}, {hashed('c1')}, {hashed('c2')}, c3, c4, c5, c6, c7 "
                        f"FROM (SELECT {unnested})", columns)
            self._tables[key] = SpanSql(con)
        return self._tables[key]

    def _parsed(self, what: str, parse: Any, document: Any) -> list[Span]:
        try:
            return list(parse(document))
        except SpanFormatError as e:
            raise BackendUnavailable(f"{self.client.name} {self.source} answered {what} that is not a trace "
                                     f"({e}): check the URL") from None

    def _found(self, count: int) -> None:
        if count >= self.limit:
            self._warnings.append(BackendError(self.client.name, f"the search found {self.limit} traces or more "
                                               "(trace.limit): the statistics are over those only"))

    def close(self) -> None:
        self.client.close()
        for table in self._tables.values():
            table.con.close()


class JaegerStore(RemoteTraceStore):
    """Jaeger's query service (port 16686): `/api/v3/traces/{id}` (OTLP JSON, Jaeger 1.35+ and 2.x) for one
    trace, `/api/traces?service=&start=&end=&limit=&tags=` for many (its search needs a service: trace.service)."""

    name = "jaeger"

    def trace(self, trace_id: str) -> list[Span]:
        body = self.client.get(f"/api/v3/traces/{trace_id}", [])
        if body is None:
            return []
        document = body.get("result", body) if isinstance(body, dict) else body
        return [s for s in self._parsed("/api/v3/traces", from_otlp, document) if s.trace_id == trace_id]

    def search(self, window: Window, model: str | None) -> list[Span]:
        params = [("service", self.service), ("limit", str(self.limit))]
        params += [(k, str(int(t.timestamp() * 1e6))) for k, t in (("start", window.start), ("end", window.end))
                   if t is not None]
        if model is not None:
            params.append(("tags", json.dumps({"model_id": model})))
        body = self.client.get("/api/traces", params)
        traces = body.get("data") if isinstance(body, dict) else None
        if body is not None and not isinstance(traces, list):
            raise self.client._not_api("/api/traces", "no data list")
        self._found(len(traces or ()))
        return [s for t in traces or () for s in self._parsed("/api/traces", from_jaeger, t)]


class TempoStore(RemoteTraceStore):
    """Grafana Tempo (port 3200): `/api/traces/{id}` for one trace, `/api/search` (TraceQL) to find many."""

    name = "tempo"

    def trace(self, trace_id: str) -> list[Span]:
        body = self.client.get(f"/api/traces/{trace_id}", [])
        if body is None:
            return []
        document = body.get("trace", body) if isinstance(body, dict) else body  # /api/v2 wraps it
        return [s for s in self._parsed("/api/traces", from_otlp, document) if s.trace_id == trace_id]

    def search(self, window: Window, model: str | None) -> list[Span]:
        query = "{}" if model is None else "{ span.model_id = " + json.dumps(model) + " }"
        params = [("q", query), ("limit", str(self.limit))]
        params += [(k, str(int(t.timestamp()))) for k, t in (("start", window.start), ("end", window.end))
                   if t is not None]
        body = self.client.get("/api/search", params)
        found = body.get("traces") if isinstance(body, dict) else None
        if not isinstance(found, list) or not all(isinstance(t, dict) and t.get("traceID") for t in found):
            raise self.client._not_api("/api/search", "no traces list")
        self._found(len(found))
        ids = list(dict.fromkeys(str(t["traceID"]).lower().rjust(32, "0") for t in found))
        answers = self.client.gather({i: partial(self.trace, i) for i in ids})
        spans: list[Span] = []
        for trace_id, answer in answers.items():
            if isinstance(answer, BackendUnavailable):
                self._warnings.append(BackendError("tempo", f"trace {trace_id}: {answer}"))
            else:
                spans.extend(answer)
        return spans


def _model(span: Span) -> str | None:
    value = span.attributes.get("model_id")
    return None if value is None else str(value)


def open_store(kind: str, url: str, settings: Settings) -> RemoteTraceStore:
    store = {"jaeger": JaegerStore, "tempo": TempoStore}.get(kind)
    if store is None:
        raise InputError(f"unknown trace server {kind!r}: expected jaeger or tempo")
    return store(TraceApiClient.for_source(kind, url, settings), settings)
