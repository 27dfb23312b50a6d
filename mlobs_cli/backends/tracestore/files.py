"""Traces in OTLP JSON files, as the OpenTelemetry Collector's file exporter writes them: one
`{"resourceSpans": [...]}` document per line (`.jsonl`, `.json`, gzip allowed), a path or a glob.

One trace (`trace show`) is streamed: only the lines holding its id are parsed. Many traces (`trace breakdown`,
`trace compare`'s baseline) are flattened by DuckDB in place, into the `spans` table of `sql.py`. A malformed line
is reported with its line number and skipped; the rest is read.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import duckdb

from mlobs_cli.backends import samples
from mlobs_cli.backends.logstore.files import connect, malformed_lines
from mlobs_cli.backends.tracestore.base import RankRow, StageRow, TraceTotals
from mlobs_cli.backends.tracestore.sql import SpanSql, hashed
from mlobs_cli.errors import InputError
from mlobs_cli.logs.query import Window
from mlobs_cli.results import BackendError
from mlobs_cli.trace.spans import Span, SpanFormatError, from_otlp

MAX_LINES_NAMED = 5
_VALUE = "STRUCT(stringValue VARCHAR, intValue VARCHAR, doubleValue DOUBLE, boolValue BOOLEAN)"
_ATTRS = f"STRUCT(key VARCHAR, value {_VALUE})[]"
_TIMES = "name VARCHAR, startTimeUnixNano VARCHAR, endTimeUnixNano VARCHAR"
# Only what the statistics read: the attributes, a third of the reading, only when --model needs model_id.
LEAN_TYPE = (f"STRUCT(scopeSpans STRUCT(spans STRUCT(traceId VARCHAR, spanId VARCHAR, parentSpanId VARCHAR, "
             f"{_TIMES})[])[])[]")
FULL_TYPE = (f"STRUCT(resource STRUCT(attributes {_ATTRS}), scopeSpans STRUCT(spans STRUCT(traceId VARCHAR, "
             f"spanId VARCHAR, parentSpanId VARCHAR, {_TIMES}, attributes {_ATTRS})[])[])[]")
LEAN = {"resource": "", "carried": "", "service": "NULL::VARCHAR", "model": "NULL::VARCHAR"}
FULL = {"resource": "rs.resource.attributes AS rattrs, ", "carried": "rattrs, ",
        "service": "coalesce(list_filter(rattrs, lambda a: a.key = 'service.name')[1].value.stringValue, 'unknown')",
        "model": "coalesce(list_filter(span.attributes, lambda a: a.key = 'model_id')[1].value.stringValue, "
                 "list_filter(rattrs, lambda a: a.key = 'model_id')[1].value.stringValue)"}
FLATTEN = """
CREATE OR REPLACE TEMP TABLE spans AS
WITH r AS (SELECT unnest(resourceSpans) AS rs FROM {reader}),
s AS (SELECT {resource}unnest(rs.scopeSpans) AS ss FROM r),
p AS (SELECT {carried}unnest(ss.spans) AS span FROM s)
SELECT {trace} AS trace_id, {span} AS span_id, {parent} AS parent_id,
       coalesce(span.name, '(unnamed)') AS name, {service} AS service,
       TRY_CAST(span.startTimeUnixNano AS BIGINT) AS start_ns, TRY_CAST(span.endTimeUnixNano AS BIGINT) AS end_ns,
       {model} AS model_id
FROM p
WHERE span.traceId IS NOT NULL AND span.spanId IS NOT NULL
"""


def open_store(source: str) -> FileTraceStore:
    if source.lower().startswith("file://"):
        parts = urlsplit(source)
        source = unquote(parts.netloc + parts.path)
    return FileTraceStore(source)


class FileTraceStore:
    name = "files"

    def __init__(self, pattern: str) -> None:
        self.source = pattern
        self.files = samples.expand(pattern, "--source")
        self._warnings: list[BackendError] = []
        self._tables: dict[bool, SpanSql] = {}  # with the model_id column or without

    @property
    def warnings(self) -> list[BackendError]:
        return self._warnings

    def trace(self, trace_id: str) -> list[Span]:
        # a line is parsed only when it holds the id, as hex (the OTLP JSON spec) or base64 (protobuf JSON)
        needles = (trace_id.encode(), base64.b64encode(bytes.fromhex(trace_id)))
        spans: list[Span] = []
        for path in self.files:
            bad: list[int] = []
            with _open(path) as f:
                for number, line in enumerate(f, start=1):
                    if not any(n in line for n in needles):
                        continue
                    try:
                        spans.extend(s for s in from_otlp(json.loads(line)) if s.trace_id == trace_id)
                    except (ValueError, SpanFormatError):
                        bad.append(number)
            if bad:
                self._warnings.append(BackendError("files", f"{path}: {_lines(bad)} holding the trace: "
                                                            "not OTLP JSON; skipped, the rest was read"))
        return spans

    def stages(self, window: Window, model: str | None, slowest: float,
               fractions: Sequence[float]) -> tuple[list[TraceTotals], list[StageRow]]:
        return self._table(model is not None).stages(window, model, slowest, fractions)

    def ranks(self, window: Window, model: str | None, values: Sequence[tuple[str, int, int]],
              fractions: Sequence[float]) -> list[RankRow]:
        return self._table(model is not None).ranks(window, model, values, fractions)

    def _table(self, with_model: bool) -> SpanSql:
        """The files' spans in a DuckDB table, flattened on first use (with span attributes only when needed)."""
        if with_model not in self._tables:
            con = connect()
            try:
                self._flatten(con, with_model, skip_bad_lines=False)
            except duckdb.InvalidInputException as e:
                if "Malformed JSON" not in str(e):
                    raise InputError(f"{self.source}: {samples.error_line(e)}") from e
                self._warnings.extend(malformed_lines(self.files) or [BackendError(
                    "files", f"{self.source}: {samples.error_line(e)}; such lines skipped, the rest was read")])
                self._flatten(con, with_model, skip_bad_lines=True)
            except duckdb.Error as e:
                raise InputError(f"{self.source}: {samples.error_line(e)}") from e
            self._tables[with_model] = SpanSql(con)
        return self._tables[with_model]

    def _flatten(self, con: duckdb.DuckDBPyConnection, with_model: bool, *, skip_bad_lines: bool) -> None:
        # read_json in the statement itself: a relation made by con.read_json first reads the files to sample them
        files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in self.files) + "]"
        kind = FULL_TYPE if with_model else LEAN_TYPE
        reader = (f"read_json({files}, format = 'newline_delimited', ignore_errors = {str(skip_bad_lines).lower()}, "
                  f"columns = {{'resourceSpans': '{kind}'}})")
        try:
            con.execute(FLATTEN.format(**(FULL if with_model else LEAN), reader=reader, trace=hashed("span.traceId"),
                                       span=hashed("span.spanId"), parent=hashed("span.parentSpanId")))
        except duckdb.InvalidInputException:
            raise  # a malformed line: _table finds and skips such lines
        except duckdb.Error as e:
            raise InputError(f"{self.source}: not OTLP JSON ({samples.error_line(e)})") from e
        (untimed,) = con.execute("SELECT count(*) FROM spans WHERE start_ns IS NULL OR end_ns IS NULL").fetchone()
        if untimed:
            message = f"{self.source}: {untimed} spans without a start or end time in nanoseconds; left out"
            if all(w.message != message for w in self._warnings):
                self._warnings.append(BackendError("files", message))
            con.execute("DELETE FROM spans WHERE start_ns IS NULL OR end_ns IS NULL")

    def close(self) -> None:
        for table in self._tables.values():
            table.con.close()


def _open(path: str):  # noqa: ANN202 - a binary file object
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115


def _lines(numbers: list[int]) -> str:
    named = ", ".join(map(str, numbers[:MAX_LINES_NAMED]))
    more = f" and {len(numbers) - MAX_LINES_NAMED} more" if len(numbers) > MAX_LINES_NAMED else ""
    return f"line{'s' if len(numbers) > 1 else ''} {named}{more}"

