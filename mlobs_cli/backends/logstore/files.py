"""Prediction logs in JSONL, Parquet or CSV files (and globs of them), queried in place through DuckDB.

No import step: a view over the files normalises what writers differ in (a timestamp as text or naive, the
feature map as a MAP, a STRUCT or JSON text, `input_features` and `output` as JSON) and every query of
`sql.SqlLogStore` runs on it. A malformed JSONL line is reported with its line number and skipped; the rest is
read (DuckDB's own error names a byte offset, and a NULL row stands in for the line it skips).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import duckdb

from mlobs_cli.backends import samples
from mlobs_cli.backends.logstore.base import SAMPLE_RATE, Sampling
from mlobs_cli.backends.logstore.sql import SqlLogStore, quote
from mlobs_cli.config import Settings
from mlobs_cli.errors import InputError
from mlobs_cli.logs.query import FEATURES, PHASES, TIMESTAMP, TOTAL_LATENCY, Filters, Window
from mlobs_cli.results import BackendError

T = TypeVar("T")
NUMBERS = (TOTAL_LATENCY, *PHASES, "output_score", SAMPLE_RATE)
JSON_COLUMNS = ("input_features", "output")
FEATURE_MAP = "MAP(VARCHAR, DOUBLE)"
MAX_LINES_NAMED = 5
WRITE_OPTIONS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER", "json": "FORMAT json"}


def open_store(url: str, settings: Settings) -> FileStore:
    if url.lower().startswith("file://"):
        parts = urlsplit(url)
        url = unquote(parts.netloc + parts.path)
    return FileStore(url, Sampling.from_settings(settings))


class FileStore(SqlLogStore):
    name = "files"
    relation = "logs"
    float_array = "?::DOUBLE[]"
    exact_distinct = False

    def __init__(self, pattern: str, sampling: Sampling = Sampling()) -> None:
        super().__init__(sampling)
        self.source = pattern
        self.files = samples.expand(pattern, "--source")
        formats = {samples.file_format(f, "--source") for f in self.files}
        if len(formats) > 1:
            raise InputError(f"--source {pattern} mixes formats ({', '.join(sorted(formats))})")
        self._format = formats.pop()
        self._skip_bad_lines = False
        self._con = connect()
        self._retrying(self._open)

    def inputs(self) -> tuple[str, ...]:
        return tuple(self.files)

    # -- reading ------------------------------------------------------------------------------------------------

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run `action`; on a malformed JSON line, find every such line, report them, and run it again skipping
        them. Any other DuckDB error is an InputError naming the source."""
        try:
            return action()
        except duckdb.InvalidInputException as e:
            if self._format != "json" or self._skip_bad_lines or "Malformed JSON" not in str(e):
                raise InputError(f"{self.source}: {samples.error_line(e)}") from e
            self._warnings.extend(malformed_lines(self.files) or [BackendError("files", f"{self.source}: "
                                  f"{samples.error_line(e)}; such lines skipped, the rest was read")])
            self._skip_bad_lines = True

            def reopened() -> T:
                self._open()
                return action()

            return self._retrying(reopened)  # once: the lines are skipped from now on
        except duckdb.Error as e:
            raise InputError(f"{self.source}: {samples.error_line(e)}") from e

    def _raw(self) -> duckdb.DuckDBPyRelation:
        if self._format == "parquet":
            return self._con.read_parquet(self.files, union_by_name=True)
        if self._format == "csv":
            return self._con.read_csv(self.files, union_by_name=True)
        fmt = {"format": "newline_delimited", "ignore_errors": self._skip_bad_lines}
        detected = self._con.read_json(self.files, **fmt)
        # the feature map would be inferred as a STRUCT of the keys seen in the sample DuckDB reads first
        types = {name: str(t) for name, t in zip(detected.columns, detected.types)}
        types.update({c: "JSON" for c in JSON_COLUMNS if c in types})
        if FEATURES in types:
            types[FEATURES] = FEATURE_MAP
        return self._con.read_json(self.files, columns=types, **fmt)

    def _open(self) -> None:
        raw = self._raw()
        raw.create_view("raw_logs", replace=True)
        self.columns = {name.lower(): str(t).upper() for name, t in zip(raw.columns, raw.types)}
        replace = [f"{expr} AS {quote(name)}" for name, expr in self._normalised().items()]
        select = f"* REPLACE ({', '.join(replace)})" if replace else "*"
        self._con.execute(f"CREATE OR REPLACE TEMP VIEW logs AS SELECT {select} FROM raw_logs")

    def _normalised(self) -> dict[str, str]:
        """column -> the expression that reads it as the queries expect, for columns that need one."""
        out = {}
        ts = self.columns.get(TIMESTAMP)
        if ts is not None and ts != "TIMESTAMP WITH TIME ZONE":
            if ts.startswith(samples.NUMERIC_TYPES):
                raise InputError(f"{self.source}: column {TIMESTAMP} has type {ts}; expected a timestamp or "
                                 "RFC 3339 text")
            out[TIMESTAMP] = f"TRY_CAST({quote(TIMESTAMP)} AS TIMESTAMPTZ)"  # naive times are UTC
        fv = self.columns.get(FEATURES)
        if fv is not None and fv != FEATURE_MAP:
            if fv.startswith("STRUCT"):
                out[FEATURES] = f"TRY_CAST(to_json({quote(FEATURES)}) AS {FEATURE_MAP})"
            elif fv.startswith("MAP"):
                out[FEATURES] = f"TRY_CAST({quote(FEATURES)} AS {FEATURE_MAP})"
            else:
                out[FEATURES] = f"TRY_CAST(TRY_CAST({quote(FEATURES)} AS JSON) AS {FEATURE_MAP})"
        for col in NUMBERS:
            typ = self.columns.get(col)
            if typ is not None and not typ.startswith(samples.NUMERIC_TYPES):
                out[col] = f"TRY_CAST({quote(col)} AS DOUBLE)"
        for col in JSON_COLUMNS:
            typ = self.columns.get(col)
            if typ is not None and typ.startswith(("STRUCT", "MAP", "LIST")):
                out[col] = f"to_json({quote(col)})"
        return out

    # -- the SqlLogStore pieces ---------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        return self._retrying(lambda: self._con.execute(sql, list(params)).fetchall())

    def fetch_arrays(self, sql: str, params: Sequence[object]) -> list[object]:
        # DuckDB hands columns to numpy without a Python object per value
        return list(self._retrying(lambda: self._con.execute(sql, list(params)).fetchnumpy()).values())

    def attach(self, view: str, files: list[str], fmt: str) -> dict[str, str]:
        """A view over other files (labels) in this connection, so that queries join them to the logs; returns
        its column -> type, names lower-case."""
        readers = {"parquet": self._con.read_parquet, "csv": self._con.read_csv}
        try:
            rel = readers[fmt](files, union_by_name=True) if fmt in readers else self._con.read_json(
                files, format="newline_delimited")
            rel.create_view(view, replace=True)
        except duckdb.Error as e:
            raise InputError(f"--labels {files[0]}: {samples.error_line(e)}") from e
        return {name.lower(): str(t).upper() for name, t in zip(rel.columns, rel.types)}

    def feature_pairs(self, where: str, weight: str) -> str:
        return (f"SELECT k, v, w FROM (SELECT unnest(map_keys({FEATURES})) AS k, unnest(map_values({FEATURES})) "
                f"AS v, {weight} AS w FROM logs WHERE {where}) u WHERE isfinite(v)")

    def epoch(self, column: str) -> str:
        return f"epoch({column})"

    def distinct_count(self, column: str) -> str:
        return f"approx_count_distinct({column})"

    def export(self, window: Window, filters: Filters, features: Sequence[str], path: str, fmt: str) -> int:
        sql, params, names = self.export_select(window, filters, features, f"{FEATURES}[?]")
        return self._retrying(lambda: write(self._con, self._con.sql(sql, params=params), names,
                                            feature_aliases(names, features), path, fmt))

    def close(self) -> None:
        self._con.close()


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC, without the progress bar it would print into stdout on a long query."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def feature_aliases(names: list[str], features: Sequence[str]) -> list[str]:
    """f_0, f_1... back to the feature names."""
    return [features[int(n[2:])] if n.startswith("f_") and n[2:].isdigit() else n for n in names]


def write(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, names: list[str], aliases: list[str],
          path: str, fmt: str) -> int:
    """Write `rel`, its columns renamed, to `path` as parquet, csv or json (lines); return the row count."""
    out = rel.project(*(duckdb.ColumnExpression(n).alias(a) for n, a in zip(names, aliases)))
    out.create_view("mlobs_export", replace=True)
    (count,) = con.execute(f"COPY mlobs_export TO ? ({WRITE_OPTIONS[fmt]})", [path]).fetchone()
    return int(count)


def malformed_lines(files: list[str]) -> list[BackendError]:
    """One warning per file with malformed JSON lines, naming the first few line numbers."""
    out = []
    for path in files:
        opener = gzip.open if path.lower().endswith(".gz") else open
        bad = []
        with opener(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        json.loads(line)  # like DuckDB, it reads NaN and Infinity
                    except ValueError:
                        bad.append(number)
        if bad:
            named = ", ".join(map(str, bad[:MAX_LINES_NAMED]))
            more = f" and {len(bad) - MAX_LINES_NAMED} more" if len(bad) > MAX_LINES_NAMED else ""
            word = "line" if len(bad) == 1 else "lines"
            out.append(BackendError("files", f"{path}: malformed JSON on {word} {named}{more}; "
                                             "skipped, the rest was read"))
    return out
