"""Feature samples in CSV, Parquet and JSONL files (and globs of them), read through DuckDB.

Parquet is queried in place, one column at a time. CSV and JSON are parsed once into a temporary on-disk DuckDB
database, so every later column read is cheap and a file larger than memory spills to disk instead of failing.
A prediction-log export (the seed's PredictionLog) keeps its features in a `feature_values` map or object column:
each key becomes a column of its own.
"""

from __future__ import annotations

import csv
import glob
import gzip
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from mlobs_cli.errors import InputError

if TYPE_CHECKING:  # numpy loads with the drift engine, not for `mlobs logs`, which shares this module's helpers
    import numpy as np

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
COMPRESSED = (".gz", ".zst")
FEATURE_MAP = "feature_values"

# DuckDB type names (their prefix) that mlobs compares as numbers, as categories, or not at all.
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN", "ENUM")
TIME_TYPES = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql: str  # expression that reads it from the `sample` relation
    type: str  # DuckDB type

    @property
    def family(self) -> str:
        """numerical, categorical, time, null (no value at all, so no type) or other."""
        upper = self.type.upper().strip('"')
        if upper == "NULL":
            return "null"
        if upper.startswith(NUMERIC_TYPES):
            return "numerical"
        if upper.startswith(CATEGORICAL_TYPES):
            return "categorical"
        if upper.startswith(TIME_TYPES):
            return "time"
        return "other"


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    categories: list[str]
    counts: np.ndarray
    missing: int


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def expand(pattern: str, role: str) -> list[str]:
    """The files a path or glob names, sorted; InputError when there are none or they are unusable."""
    if any(c in pattern for c in "*?["):
        files = sorted(f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f))
        if not files:
            raise InputError(f"{role}: no file matches {pattern}")
    else:
        if os.path.isdir(pattern):
            raise InputError(f"{role}: {pattern} is a directory; give a file or a glob such as {pattern}/*.parquet")
        if not os.path.exists(pattern):
            raise InputError(f"{role}: no such file: {pattern}")
        files = [pattern]
    for f in files:
        if not os.access(f, os.R_OK):
            raise InputError(f"{role}: cannot read {f}: permission denied")
        if os.path.getsize(f) == 0:
            raise InputError(f"{role}: {f} is empty")
    return files


def file_format(path: str, role: str) -> str:
    name = path.lower()
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    fmt = FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise InputError(f"{role}: {path}: unknown format (expected .csv, .tsv, .parquet, .jsonl or .json)")
    return fmt


class Sample:
    """One sample (reference or current) open for column reads."""

    def __init__(self, con: duckdb.DuckDBPyConnection, relation: str, role: str, source: str, files: list[str],
                 numbers_as_text: frozenset[str] = frozenset()):
        self._con = con
        self._relation = relation
        self.role = role
        self.source = source
        self.files = files
        self.columns = self._columns(numbers_as_text)
        self.rows = self._query(f"SELECT count(*) FROM {relation}").fetchone()[0]

    def _query(self, sql: str) -> duckdb.DuckDBPyConnection:
        """Run one query; a file DuckDB cannot parse (bad rows show up only when read) is an InputError."""
        try:
            return self._con.execute(sql)
        except duckdb.Error as e:
            raise InputError(f"{self.role}: {error_line(e)}") from e

    def _columns(self, numbers_as_text: frozenset[str]) -> dict[str, Column]:
        described = self._query(f"DESCRIBE SELECT * FROM {self._relation}").fetchall()
        columns = {name: _column(name, typ) for name, typ, *_ in described}
        for name in numbers_as_text:  # read as DOUBLE: inf, -inf and nan keep their meaning
            columns[name] = Column(name, f"TRY_CAST(CAST({_quote(name)} AS VARCHAR) AS DOUBLE)", "DOUBLE")
        fv = columns.pop(FEATURE_MAP, None)
        if fv is not None:
            columns.update(self._flatten(fv))
        return columns

    def _flatten(self, fv: Column) -> dict[str, Column]:
        """One column per key of the feature map: MAP (Parquet), STRUCT (JSON read by DuckDB), or JSON text."""
        typ = fv.type.upper()
        if typ.startswith("STRUCT"):
            fields = self._query(f"DESCRIBE SELECT {fv.sql}.* FROM {self._relation}").fetchall()
            return {n: Column(n, f"{fv.sql}.{_quote(n)}", t) for n, t, *_ in fields}
        if typ.startswith("MAP"):
            expr = fv.sql
        elif typ in ("VARCHAR", "JSON"):
            expr = f"TRY_CAST({fv.sql}::JSON AS MAP(VARCHAR, DOUBLE))"
        else:
            raise InputError(f"{self.role}: column {FEATURE_MAP} has type {fv.type}; expected a map or object")
        keys = self._query(
            f"SELECT DISTINCT unnest(map_keys({expr})) AS k FROM {self._relation} ORDER BY k"
        ).fetchall()
        value_type = "DOUBLE" if not typ.startswith("MAP") else typ[typ.index(",") + 1 : -1].strip()
        return {k: Column(k, f"{expr}[{_literal(k)}]", value_type) for (k,) in keys if k is not None}

    def numbers(self, column: Column) -> np.ndarray:
        """The column as float64; null, and text that is not a number, become NaN."""
        sql = f"SELECT coalesce(TRY_CAST({column.sql} AS DOUBLE), 'NaN'::DOUBLE) AS v FROM {self._relation}"
        return self._query(sql).fetchnumpy()["v"]

    def category_counts(self, column: Column) -> CategoryCounts:
        import numpy as np

        sql = f"SELECT CAST({column.sql} AS VARCHAR) AS v, count(*) AS n FROM {self._relation} GROUP BY 1"
        result = self._query(sql).fetchnumpy()
        values, counts = list(result["v"]), np.asarray(result["n"], dtype=np.int64)
        present = [i for i, v in enumerate(values) if v is not None and v is not np.ma.masked]
        missing = int(counts.sum() - counts[present].sum())
        return CategoryCounts([values[i] for i in present], counts[present], missing)


def _column(name: str, typ: str) -> Column:
    if typ.upper() == "JSON":
        # JSON lines whose values mix numbers and strings: compare the values as text, unquoted
        return Column(name, f"({_quote(name)} ->> '$')", "VARCHAR")
    return Column(name, _quote(name), typ)


def error_line(error: Exception) -> str:
    """The first line of a DuckDB error: the rest is its context dump."""
    return str(error).strip().splitlines()[0]


def _reader(fmt: str, files: list[str]) -> str:
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    if fmt == "parquet":
        return f"read_parquet({listed}, union_by_name = true)"
    if fmt == "csv":
        return f"read_csv({listed}, union_by_name = true)"
    return f"read_json_auto({listed}, union_by_name = true)"


@contextmanager
def open_samples(reference: str, current: str) -> Iterator[tuple[Sample, Sample]]:
    """Open both samples in one temporary DuckDB database, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="mlobs-") as tmp:
        con = duckdb.connect(os.path.join(tmp, "samples.duckdb"))
        try:
            con.execute(f"SET temp_directory = {_literal(tmp)}")
            yield _open(con, reference, "reference", "ref"), _open(con, current, "current", "cur")
        finally:
            con.close()


def _open(con: duckdb.DuckDBPyConnection, pattern: str, role: str, name: str) -> Sample:
    files = expand(pattern, role)
    formats = {file_format(f, role) for f in files}
    if len(formats) > 1:
        raise InputError(f"{role}: {pattern} mixes formats ({', '.join(sorted(formats))})")
    fmt = formats.pop()
    kind = "VIEW" if fmt == "parquet" else "TABLE"  # text is parsed once, then read column by column
    try:
        con.execute(f"CREATE {kind} {name} AS SELECT * FROM {_reader(fmt, files)}")
    except duckdb.Error as e:
        twin = _DUPLICATE_KEY.search(str(e))
        if twin:  # keys of a JSON object (feature_values) that differ only in case
            raise InputError(f"{role}: {pattern}: two keys named {twin.group(1)!r} in different case; DuckDB, "
                             "which reads the samples, cannot tell them apart: rename one") from e
        raise InputError(f"{role}: cannot read {pattern}: {error_line(e)}") from e
    if fmt != "parquet":
        _refuse_case_twins(con, name, role, files, fmt)
    if fmt != "csv":
        return Sample(con, name, role, pattern, files)
    _refuse_ragged(con, name, role, files)
    return Sample(con, name, role, pattern, files, _numbers_as_text(con, name))


def _numbers_as_text(con: duckdb.DuckDBPyConnection, relation: str) -> frozenset[str]:
    """The CSV columns DuckDB did not type as numbers although every value is one. Its sniffer takes `inf` and
    `-inf` for the dates `infinity` and `-infinity` (a column of them becomes a DATE, and is then left out as a
    time column), and a column that mixes them, or `nan`, with other numbers for text."""
    candidates = [n for n, t, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
                  if t.upper().startswith(("DATE", "TIMESTAMP", "VARCHAR"))]
    if not candidates:
        return frozenset()
    tests = [f"count({_quote(n)}) > 0 AND count({_quote(n)}) = count(TRY_CAST(CAST({_quote(n)} AS VARCHAR) AS DOUBLE))"
             for n in candidates]
    answers = con.execute(f"SELECT {', '.join(tests)} FROM {relation}").fetchone()
    return frozenset(n for n, numeric in zip(candidates, answers, strict=True) if numeric)


_DUPLICATE_KEY = re.compile(r'Duplicate name "([^"]*)" in struct')
_RENAMED = re.compile(r"(.+)_\d+")  # DuckDB's name for the second of two names that differ only in case


def _refuse_case_twins(con: duckdb.DuckDBPyConnection, relation: str, role: str, files: list[str], fmt: str) -> None:
    """InputError when a file has two columns (JSON keys, CSV header names) that differ only in case: DuckDB's
    names are case-insensitive, so it renames the second (`amount` -> `amount_1`), a feature the user never
    named, and compares it with whatever has that name in the other sample; across the files of a glob it
    keeps both. The files are read again only when a column has such a name."""
    names = [n for n, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    lowered = {n.lower() for n in names}
    if not any((m := _RENAMED.fullmatch(n)) and m.group(1).lower() in lowered for n in names):
        return
    seen: dict[str, tuple[str, str]] = {}  # lower-case name -> (name, first file that has it)
    for path in files:
        if fmt == "json":
            keys = con.execute("SELECT list_distinct(flatten(list(json_keys(json)))) FROM read_json_objects(?)",
                               [path]).fetchone()[0] or []
        else:
            header = con.execute("SELECT * FROM read_csv(?, header = false, all_varchar = true) LIMIT 1",
                                 [path]).fetchone()
            keys = [k for k in header or () if k is not None]
        for key in keys:
            other, where = seen.setdefault(key.lower(), (key, path))
            if other != key:
                place = path if where == path else f"{where} and {path}"
                raise InputError(f"{role}: {place}: columns {other!r} and {key!r} differ only in case; DuckDB, "
                                 "which reads the samples, cannot tell them apart: rename one")


# What a CSV file may be delimited by. When its rows do not all have the header's number of fields, DuckDB's
# sniffer finds no delimiter that fits every row and reads each whole line as one text column, named after the
# whole header ("a,b"): the comparison of those lines would then say OK.
DELIMITERS = (",", "\t", ";", "|")


def _refuse_ragged(con: duckdb.DuckDBPyConnection, relation: str, role: str, files: list[str]) -> None:
    """InputError naming the first line whose number of fields differs from its header's, in the first such file.
    Looked for only when a column's name holds a delimiter, the mark of that fallback."""
    names = [n for n, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    if not any(d in n for n in names for d in DELIMITERS):
        return
    for path in files:
        found = _first_ragged_line(path)
        if found is not None:
            line, fields, expected = found
            raise InputError(f"{role}: {path} line {line}: {fields} field{'s' if fields != 1 else ''}, but the "
                             f"header has {expected}; every row needs one value per column")


def _first_ragged_line(path: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row of `path` that has more or fewer fields than its header,
    read with the delimiter its header uses most; None when every row fits (a quoted header name "a,b")."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            header_text = f.readline()
            delimiter = max(DELIMITERS, key=header_text.count)
            if header_text.count(delimiter) == 0:
                return None
            f.seek(0)
            rows = csv.reader(f, delimiter=delimiter)
            expected = len(next(rows))
            for row in rows:
                if row and len(row) != expected:
                    return rows.line_num, len(row), expected
    except (OSError, csv.Error, EOFError):  # a file DuckDB read but Python cannot (.zst): say what is known
        raise InputError(f"{path}: rows with more or fewer fields than the header (a ragged CSV); every row needs "
                         "one value per column") from None
    return None
