"""Late ground truth joined to the logs by prediction_id, where the logs are: a labels file read by the same
DuckDB as log files, or a `labels` table in the same PostgreSQL as the `prediction_logs` table.

Every number is an aggregate the store computes (counts per window, class and label; the median delay), apart
from the output scores of the periods, which come back as one numpy array for the calibration and the bins.
Duplicate labels keep the one with the latest `labeled_at` (without one, the last row read).

The deduplicated labels, and their join to the logs, are each computed once into a temporary table of the
store's session where it may write one (DuckDB): every later aggregate reads the labelled rows (about as many as
there are labels) rather than joining millions of log rows again. PostgreSQL's session is read-only, so there the
same joins stay subqueries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mlobs_cli.backends import samples
from mlobs_cli.backends.logstore.sql import SqlLogStore, quote
from mlobs_cli.config import mask_secret
from mlobs_cli.errors import InputError
from mlobs_cli.logs.query import TIMESTAMP, TOTAL_LATENCY, Filters, Window

ID, LABEL, LABELED_AT = "prediction_id", "label", "labeled_at"
DEFAULT_TABLE = "labels"
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "double precision", "real", "numeric")
MAX_LABEL_VALUES = 1000
LATEST, LABELLED = "mlobs_latest_labels", "mlobs_labelled"
# log columns a filter of `SqlLogStore.where` may read: the labelled rows keep those the logs have
FILTER_COLUMNS = ("model_id", "model_version", "status", "trace_id", "request_id", TOTAL_LATENCY)


@dataclass(frozen=True, slots=True)
class LabelIssues:
    """What was wrong with the label rows, counted, so the user sees what the verdict rests on."""

    rows: int  # label rows read
    unusable: int  # without a prediction_id or a label
    duplicated_ids: int  # prediction ids labelled more than once
    dropped_duplicates: int  # rows set aside for a later label of the same prediction
    conflicting_ids: int  # duplicated ids whose labels differ
    unknown_ids: int  # labelled prediction ids that are in no log row
    has_labeled_at: bool


class Labels:
    """The label rows of one source, normalised and deduplicated, as SQL the log store runs."""

    def __init__(self, store: SqlLogStore, spec: str, log_source: str) -> None:
        self.store = store
        if "://" in spec and not spec.lower().startswith("file://"):
            relation, columns, self.source = _table(store, spec, log_source)
        else:
            relation, columns, self.source = _files(store, spec)
        missing = [c for c in (ID, LABEL) if c not in columns]
        if missing:
            raise InputError(f"--labels {self.source}: no column {', '.join(missing)}; expected prediction_id, "
                             f"label[, labeled_at]; it has: {', '.join(columns) or 'no columns'}")
        self.label_type = columns[LABEL]
        self.has_labeled_at = LABELED_AT in columns
        label = quote(LABEL)
        if self.label_type.startswith(FLOAT_TYPES):
            # a class coded 0/1 and read as a float (a CSV, pandas): 1.0 is class "1"
            label = f"CAST(CAST({label} AS BIGINT) AS VARCHAR)"
        else:
            label = f"CAST({label} AS VARCHAR)"
        at = f"CAST({quote(LABELED_AT)} AS TIMESTAMP WITH TIME ZONE)" if self.has_labeled_at else "NULL"
        self.rows = (f"(SELECT CAST({quote(ID)} AS VARCHAR) AS prediction_id, {label} AS label, {at} AS labeled_at, "
                     f"{quote(LABEL)} AS raw_label, row_number() OVER () AS ord FROM {relation}) lin")
        if self.label_type.startswith(FLOAT_TYPES):
            bad = store.execute(f"SELECT raw_label FROM {self.rows} WHERE raw_label <> floor(raw_label) LIMIT 1", [])
            if bad:
                raise InputError(f"--labels {self.source}: label {bad[0][0]} is not a class (the label column is "
                                 f"{self.label_type}); labels are the true classes, as output_class holds them")
        self.latest = store.materialize(LATEST, (
            "SELECT prediction_id, label, labeled_at FROM (SELECT prediction_id, label, labeled_at, "
            "row_number() OVER (PARTITION BY prediction_id ORDER BY labeled_at DESC NULLS LAST, ord DESC) "
            f"AS rn FROM {self.rows} WHERE prediction_id IS NOT NULL AND label IS NOT NULL) d WHERE rn = 1"))
        kept = [quote(c) for c in (TIMESTAMP, "output_class", "output_score", *FILTER_COLUMNS) if store.has(c)]
        self.labelled = store.materialize(LABELLED, (
            f"SELECT {', '.join('x.' + c for c in kept)}, l.prediction_id AS labelled_id, l.label, l.labeled_at "
            f"FROM {store.relation} x JOIN {self.latest} l ON CAST(x.{quote(ID)} AS VARCHAR) = l.prediction_id"))

    def issues(self) -> LabelIssues:
        ((rows, unusable),) = self.store.execute(
            f"SELECT count(*), count(*) FILTER (WHERE prediction_id IS NULL OR label IS NULL) FROM {self.rows}", [])
        ((ids, dropped, conflicting),) = self.store.execute(
            "SELECT count(*), coalesce(sum(n - 1), 0), count(*) FILTER (WHERE kinds > 1) FROM (SELECT prediction_id, "
            f"count(*) AS n, count(DISTINCT label) AS kinds FROM {self.rows} WHERE prediction_id IS NOT NULL AND "
            "label IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d", [])
        ((unknown,),) = self.store.execute(
            f"SELECT (SELECT count(*) FROM {self.latest} l) - "
            f"(SELECT count(DISTINCT labelled_id) FROM {self.labelled} x)", [])
        return LabelIssues(int(rows), int(unusable), int(ids), int(dropped), int(conflicting), int(unknown),
                           self.has_labeled_at)

    def values(self) -> list[str]:
        return sorted(v for (v,) in self.store.execute(
            f"SELECT DISTINCT label FROM {self.latest} l LIMIT {MAX_LABEL_VALUES}", []))

    def _join(self) -> str:
        """The labelled log rows: the log columns a window and filters read, with `label` and `labeled_at`."""
        return f"{self.labelled} x"

    def confusion(self, window: Window, filters: Filters, bucket: tuple[str, list[Any]]) -> list[tuple[int, str, str, int]]:
        """(window index, predicted class, label, count) of the labelled predictions."""
        where, params = self.store.where(window, filters)
        sql = (f"SELECT {bucket[0]}, CAST(x.output_class AS VARCHAR), x.label, count(*) FROM {self._join()} "
               f"WHERE {where} GROUP BY 1, 2, 3")
        return [(int(w), str(p), str(t), int(n)) for w, p, t, n in self.store.execute(sql, [*bucket[1], *params])]

    def median_delay(self, window: Window, filters: Filters) -> float | None:
        """Median seconds from prediction to label, of the labelled predictions with a labeled_at."""
        if not self.has_labeled_at:
            return None
        where, params = self.store.where(window, filters, ["x.labeled_at IS NOT NULL"])
        ep = self.store.epoch
        ((delay,),) = self.store.execute(
            f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {ep('x.labeled_at')} - {ep('x.' + quote(TIMESTAMP))}) "
            f"FROM {self._join()} WHERE {where}", params)
        return None if delay is None else float(delay)

    def score_hits(self, window: Window, filters: Filters) -> list[Any]:
        """Per distinct output_score of the labelled predictions: (score, count, correct), scores ascending."""
        where, params = self.store.where(window, filters, ["x.output_score IS NOT NULL"])
        return self.store.fetch_arrays(
            "SELECT x.output_score, count(*), count(*) FILTER (WHERE CAST(x.output_class AS VARCHAR) = x.label) "
            f"FROM {self._join()} WHERE {where} GROUP BY 1 ORDER BY 1", params)


def _files(store: SqlLogStore, spec: str) -> tuple[str, dict[str, str], str]:
    from mlobs_cli.backends.logstore.files import FileStore

    path = urlsplit(spec).path if spec.lower().startswith("file://") else spec
    files = samples.expand(path, "--labels")
    formats = {samples.file_format(f, "--labels") for f in files}
    if len(formats) > 1:
        raise InputError(f"--labels {spec} mixes formats ({', '.join(sorted(formats))})")
    if not isinstance(store, FileStore):
        raise InputError(f"--labels {spec}: a labels file joins logs in files; with logs in {store.name}, put the "
                         f"labels in a table of the same database and give its URL")
    return "mlobs_labels", store.attach("mlobs_labels", files, formats.pop()), spec


def _table(store: SqlLogStore, spec: str, log_source: str) -> tuple[str, dict[str, str], str]:
    shown = mask_secret(spec)
    parts, logs = urlsplit(spec), urlsplit(log_source)
    if store.name != "postgresql" or parts.scheme.lower() not in ("postgresql", "postgres"):
        raise InputError(f"--labels {shown}: a labels table must be in the PostgreSQL of the logs; labels for logs "
                         "in files are a CSV, Parquet or JSONL file")
    if (parts.hostname, parts.port, parts.path) != (logs.hostname, logs.port, logs.path):
        raise InputError(f"--labels {shown}: not the database of the logs ({store.source}); the join runs in it")
    table = dict(parse_qsl(parts.query)).get("table", DEFAULT_TABLE)
    schema, _, name = table.rpartition(".")
    if not all(p.replace("_", "a").isalnum() for p in filter(None, (schema, name))):
        raise InputError(f"--labels {shown}: table {table!r}: expected NAME or SCHEMA.NAME")
    columns = dict(store.execute(
        "SELECT lower(column_name), data_type FROM information_schema.columns WHERE table_name = ? AND "
        "table_schema = coalesce(?, current_schema()) ORDER BY ordinal_position", [name, schema or None]))
    if not columns:
        raise InputError(f"--labels {shown}: no table {table} (name another with ?table=SCHEMA.NAME)")
    return ".".join(quote(p) for p in (schema, name) if p), columns, shown


def bucket(window: Window, seconds: float, epoch: Any) -> tuple[str, list[Any]]:
    """The SQL of a row's window index within `window`, windows of `seconds` from its start, and its parameters."""
    assert window.start is not None
    return (f"CAST(floor(({epoch('x.' + quote(TIMESTAMP))} - ?) / ?) AS INTEGER)",
            [window.start.timestamp(), float(seconds)])


def scores(store: SqlLogStore, window: Window, filters: Filters, index: tuple[str, list[Any]]) -> list[Any]:
    """(window index, output_score) of every prediction with a score in the window, as numpy arrays."""
    where, params = store.where(window, filters, ["output_score IS NOT NULL"])
    return store.fetch_arrays(f"SELECT {index[0]}, x.output_score FROM {store.relation} x WHERE {where}",
                              [*index[1], *params])


def class_counts(store: SqlLogStore, window: Window, filters: Filters) -> list[tuple[str | None, int]]:
    where, params = store.where(window, filters)
    return [(None if c is None else str(c), int(n)) for c, n in store.execute(
        f"SELECT CAST(output_class AS VARCHAR), count(*) FROM {store.relation} x WHERE {where} GROUP BY 1", params)]


def predictions(store: SqlLogStore, window: Window, filters: Filters, index: tuple[str, list[Any]]) -> list[tuple[int, int]]:
    where, params = store.where(window, filters)
    return [(int(w), int(n)) for w, n in store.execute(
        f"SELECT {index[0]}, count(*) FROM {store.relation} x WHERE {where} GROUP BY 1", [*index[1], *params])]


