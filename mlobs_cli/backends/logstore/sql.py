"""The queries of `mlobs logs` in SQL, shared by the SQL backends; each backend supplies its dialect's pieces.

The text is standard SQL that DuckDB and PostgreSQL both run (`percentile_cont(ARRAY) WITHIN GROUP`, `FILTER`,
`VALUES`): a backend says how to reach its rows (`relation`), how to turn the feature map into (name, value)
rows (`feature_pairs`), and how to run a statement. Placeholders are `?`; a backend that binds `%s` translates.
Every identifier below is a constant of `mlobs_cli.logs.query`; every value the user typed is a parameter.

Sampled logs (see `base.Sampling`) are answered with inverse-probability weights: `weight` is the one
expression of a row's weight, and every count is the sum of the weights of its rows, every mean weighted, every
percentile the weighted one (`weighted_quantiles`). Unweighted logs keep count(*) and percentile_cont.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlobs_cli.backends.logstore.base import SAMPLE_RATE, FeatureStats, Sampling
from mlobs_cli.errors import InputError
from mlobs_cli.logs.query import EXPORT_COLUMNS, EXPORT_OUTPUT_COLUMNS, TIMESTAMP, TOTAL_LATENCY, Filters, Window
from mlobs_cli.results import BackendError

# DuckDB's approx_count_distinct is a HyperLogLog: exact enough to rule out a feature with thousands of values,
# not to tell 10 from 11. Features it puts under this many get an exact count.
DISTINCT_SCREEN = 1000
# The rows `logs errors` counts as failed: their keep rate is log.sampling.error_rate.
FAILED = "upper(status) IN ('ERROR', 'TIMEOUT')"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: float) -> str:
    """A number from the validated config (a weight, a fraction) as a SQL double. Written into the statement
    rather than bound, so that every query's placeholders keep their order whichever expression holds them."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return f"CAST({float(value)!r} AS float8)"


class SqlLogStore(ABC):
    """A LogStore whose aggregations are SQL statements run by the store."""

    name: str
    source: str
    relation: str  # FROM target of the log rows, quoted
    float_array: str  # a placeholder for a list of floats, cast: "?::DOUBLE[]"
    exact_distinct: bool  # whether `distinct_count` is exact

    def __init__(self, sampling: Sampling = Sampling()) -> None:
        self.columns: dict[str, str] = {}  # column -> type, lower-case names as the store has them
        self._warnings: list[BackendError] = []
        self.sampling = sampling

    # -- what a backend provides --------------------------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement with `?` placeholders; errors become mlobs errors."""

    @abstractmethod
    def feature_pairs(self, where: str, weight: str) -> str:
        """A subquery of (k, v, w): each finite numeric feature value of the rows matching `where`, with its
        row's `weight` (an expression over the row's columns)."""

    @abstractmethod
    def epoch(self, column: str) -> str:
        """Seconds since the Unix epoch of a timestamp column, as a double."""

    @abstractmethod
    def distinct_count(self, column: str) -> str:
        """An aggregate counting distinct values (exact when `exact_distinct`)."""

    def materialize(self, name: str, select: str) -> str:
        """A relation (to give an alias in FROM) holding `select`'s rows, for queries that read them more than once:
        a temporary table of this session where the store may write one, else the subquery itself."""
        self.execute(f"CREATE TEMP TABLE {quote(name)} AS {select}", [])
        return quote(name)

    def fetch_arrays(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One statement's result as one numpy array per column, for results of millions of rows."""
        import numpy as np

        rows = self.execute(sql, params)
        width = len(rows[0]) if rows else sql.count(",", 0, sql.upper().index(" FROM ")) + 1
        return [np.asarray([r[i] for r in rows]) for i in range(width)]

    def percentiles(self, column: str) -> str:
        """An aggregate of `column`'s values at the fractions bound to its one placeholder, as a list, with
        linear interpolation (numpy's default): standard SQL's ordered-set aggregate, which DuckDB and PostgreSQL
        both have. A store without it (ClickHouse: quantilesExactInclusive) overrides this."""
        return f"percentile_cont({self.float_array}) WITHIN GROUP (ORDER BY {column})"

    # -- weights of sampled logs ---------------------------------------------------------------------------------

    @property
    def weighted(self) -> bool:
        return self.sampling.configured or self.has(SAMPLE_RATE)

    def weight(self) -> str:
        """The inverse-probability weight of a row, 1 / its keep rate: its sample_rate where that is in (0, 1],
        else by the log.sampling.* rule (a failed row, else a score under the threshold, else any row)."""
        s = self.sampling
        if not self.weighted:
            return literal(1.0)
        rules = []
        if self.has("status"):
            rules.append(f"WHEN {FAILED} THEN {literal(1 / s.error_rate)}")
        if self.has("output_score"):
            rules.append(f"WHEN output_score < {literal(s.low_confidence_threshold)} "
                         f"THEN {literal(1 / s.low_confidence_rate)}")
        rule = f"CASE {' '.join(rules)} ELSE {literal(1 / s.default_rate)} END" if rules else literal(
            1 / s.default_rate)
        if not self.has(SAMPLE_RATE):
            return rule
        rate = f"CAST({quote(SAMPLE_RATE)} AS float8)"
        return f"CASE WHEN {rate} > 0 AND {rate} <= 1 THEN 1 / {rate} ELSE {rule} END"

    def count(self, condition: str | None = None) -> str:
        """The estimated number of rows (those matching `condition`): the sum of their weights, 0 for none;
        count(*) when unweighted."""
        only = f" FILTER (WHERE {condition})" if condition else ""
        return f"coalesce(sum({self.weight()}){only}, 0)" if self.weighted else f"count(*){only}"

    def estimate(self, value: Any) -> float | int:
        """A count from the store: the weighted estimate is a float, a logged count an int."""
        return float(value or 0) if self.weighted else int(value)

    def weighted_quantiles(self, rows: str, keys: Sequence[str], fractions: Sequence[float]) -> str:
        """Per group of `keys` of `rows` (a subquery of the keys, v and w): at each fraction q the smallest v
        whose cumulative weight share (its own and every smaller value's weight over the group's) is at least q;
        numpy.percentile(v, 100 * q, weights=w, method="inverted_cdf"). NULL values are left out."""
        part = f"PARTITION BY {', '.join(keys)}" if keys else ""
        share = (f"sum(w) OVER ({part} ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / "
                 f"sum(w) OVER ({part})")
        # the share of the largest value is 1 up to rounding: max(v) stands in for a fraction rounding left over
        picks = [f"coalesce(min(v) FILTER (WHERE share >= {literal(q)}), max(v))" for q in fractions]
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        return (f"SELECT {', '.join([*keys, *picks])} FROM (SELECT {', '.join([*keys, 'v'])}, {share} AS share "
                f"FROM ({rows}) r WHERE v IS NOT NULL) c{group}")

    # -- the interface ------------------------------------------------------------------------------------------

    @property
    def warnings(self) -> list[BackendError]:
        return self._warnings

    def has(self, column: str) -> bool:
        return column in self.columns

    def require(self, columns: Iterable[str], command: str) -> None:
        missing = [c for c in dict.fromkeys(columns) if c not in self.columns]
        if missing:
            raise InputError(f"{self.source}: no column {', '.join(missing)} (needed by `mlobs logs {command}`); "
                             f"the logs have: {', '.join(self.columns) or 'no columns'}")

    def where(self, window: Window, filters: Filters, extra: Sequence[str] = ()) -> tuple[str, list[Any]]:
        """The WHERE condition of a window and filters, and its parameters."""
        ts = quote(TIMESTAMP)
        conds: list[str] = [f"{ts} IS NOT NULL"]
        params: list[Any] = []
        if window.start is not None:
            conds.append(f"{ts} >= ?")
            params.append(window.start)
        if window.end is not None:
            conds.append(f"{ts} < ?")
            params.append(window.end)
        for value, cond in ((filters.model, "model_id = ?"), (filters.version, "model_version = ?"),
                            (filters.status, "upper(status) = ?"), (filters.trace_id, "trace_id = ?"),
                            (filters.request_id, "request_id = ?"), (filters.min_latency_ms, "total_latency_ms >= ?")):
            if value is not None:
                conds.append(cond)
                params.append(value)
        return " AND ".join([*conds, *extra]), params

    def latency(self, window: Window, filters: Filters, by: Sequence[str], columns: Sequence[str],
                percentiles: Sequence[float]
                ) -> list[tuple[tuple[Any, ...], int, float | int, list[list[float | None] | None]]]:
        present = [c for c in columns if self.has(c)]
        where, params = self.where(window, filters)
        keys = [quote(b) for b in by]
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(by)))}" if by else ""
        if not self.weighted:
            aggregates = [self.percentiles(quote(c)) for c in present]
            sql = f"SELECT {', '.join([*keys, 'count(*)', *aggregates])} FROM {self.relation} WHERE {where}{group}"
            out = []
            for row in self.execute(sql, [*([list(percentiles)] * len(present)), *params]):
                key, count, values = tuple(row[: len(by)]), int(row[len(by)]), iter(row[len(by) + 1:])
                if count:
                    out.append((key, count, count, [_floats(next(values)) if c in present else None
                                                    for c in columns]))
            return out
        counts = self.execute(f"SELECT {', '.join([*keys, 'count(*)', self.count()])} FROM {self.relation} "
                              f"WHERE {where}{group}", params)
        found: dict[tuple[Any, ...], dict[int, list[float | None]]] = {}
        if present:
            # one long table of (keys, column index, value, weight), so one statement ranks every column
            rows = " UNION ALL ".join(
                f"SELECT {', '.join([*keys, f'{i} AS mlobs_column', f'{quote(c)} AS v', f'{self.weight()} AS w'])} "
                f"FROM {self.relation} WHERE {where}" for i, c in enumerate(present))
            sql = self.weighted_quantiles(rows, [*keys, "mlobs_column"], percentiles)
            for row in self.execute(sql, params * len(present)):
                key, column = tuple(row[: len(by)]), int(row[len(by)])
                found.setdefault(key, {})[column] = _floats(row[len(by) + 1:])
        out = []
        for row in counts:
            key, count, estimate = tuple(row[: len(by)]), int(row[len(by)]), float(row[len(by) + 1])
            values = found.get(key, {})
            if count:
                out.append((key, count, estimate, [values.get(present.index(c), []) if c in present else None
                                                   for c in columns]))
        return out

    def status_counts(self, window: Window, filters: Filters
                      ) -> list[tuple[Any, Any, float | int, float | int, float | int, int, int, int]]:
        where, params = self.where(window, filters)
        error, timeout = "upper(status) = 'ERROR'", "upper(status) = 'TIMEOUT'"
        sql = (f"SELECT model_id, model_version, {self.count()}, {self.count(error)}, {self.count(timeout)}, "
               f"count(*), count(*) FILTER (WHERE {error}), count(*) FILTER (WHERE {timeout}) "
               f"FROM {self.relation} WHERE {where} GROUP BY 1, 2")
        return [(m, v, self.estimate(n), self.estimate(e), self.estimate(t), int(ln), int(le), int(lt))
                for m, v, n, e, t, ln, le, lt in self.execute(sql, params)]

    def variant_stats(self, window: Window, experiment: str | None, percentile: float
                      ) -> list[tuple[Any, Any, int, int, float | None]]:
        """Per experiment_id, variant_id (of one experiment, or all when None): (experiment, variant, rows, rows
        with status ERROR or TIMEOUT, total_latency_ms at `percentile`)."""
        extra = ["experiment_id IS NOT NULL", "variant_id IS NOT NULL"]
        where, params = self.where(window, Filters(), [*extra, *(["experiment_id = ?"] if experiment else [])])
        latency = (f"percentile_cont(?) WITHIN GROUP (ORDER BY {quote(TOTAL_LATENCY)})"
                   if self.has(TOTAL_LATENCY) else "NULL")
        sql = (f"SELECT experiment_id, variant_id, count(*), count(*) FILTER (WHERE upper(status) IN "
               f"('ERROR', 'TIMEOUT')), {latency} FROM {self.relation} WHERE {where} GROUP BY 1, 2")
        rows = self.execute(sql, [*([percentile] if self.has(TOTAL_LATENCY) else []), *params,
                                  *([experiment] if experiment else [])])
        return [(e, v, int(n), int(err), None if p is None else float(p)) for e, v, n, err, p in rows]

    def top_errors(self, window: Window, filters: Filters, limit: int
                   ) -> list[tuple[Any, Any, str, Any, float | int, int]]:
        where, params = self.where(window, filters, [FAILED])
        sql = (f"SELECT model_id, model_version, upper(status), error_message, {self.count()}, count(*) "
               f"FROM {self.relation} WHERE {where} GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 NULLS LAST "
               "LIMIT ?")
        return [(m, v, s, msg, self.estimate(n), int(ln)) for m, v, s, msg, n, ln in
                self.execute(sql, [*params, limit])]

    def search(self, window: Window, filters: Filters, columns: Sequence[str], limit: int) -> list[dict[str, Any]]:
        shown = [c for c in columns if self.has(c)]
        ties = [quote(c) for c in ("prediction_id", "request_id") if self.has(c)]
        where, params = self.where(window, filters)
        sql = (f"SELECT {', '.join(map(quote, shown))} FROM {self.relation} WHERE {where} "
               f"ORDER BY {', '.join([quote(TIMESTAMP) + ' DESC', *ties])} LIMIT ?")
        return [dict(zip(shown, row)) for row in self.execute(sql, [*params, limit])]

    # -- features -----------------------------------------------------------------------------------------------

    def _periods(self, periods: Mapping[str, Window], filters: Filters,
                 features: Sequence[str] | None) -> tuple[str, list[Any]]:
        """(period, k, v, w) of every period's rows, as one UNION ALL."""
        parts, params = [], []
        for label, window in periods.items():
            where, p = self.where(window, filters)
            keep = f" WHERE k IN ({', '.join('?' * len(features))})" if features else ""
            parts.append(f"SELECT ? AS period, k, v, w FROM ({self.feature_pairs(where, self.weight())}) p{keep}")
            params += [label, *p, *(features or ())]
        return " UNION ALL ".join(parts), params

    def feature_names(self, windows: Sequence[Window], filters: Filters) -> list[str]:
        union, params = self._periods({str(i): w for i, w in enumerate(windows)}, filters, None)
        return sorted(k for (k,) in self.execute(f"SELECT DISTINCT k FROM ({union}) x", params))

    def feature_stats(self, periods: Mapping[str, Window], filters: Filters, features: Sequence[str] | None,
                      fractions: Sequence[float], distinct_limit: int) -> list[FeatureStats]:
        union, params = self._periods(periods, filters, features)
        if self.weighted:
            rows = self.execute(f"SELECT period, k, count(*), sum(w), {self.distinct_count('v')} FROM ({union}) x "
                                "GROUP BY 1, 2", params)
            quantiles = {(p, k): _floats(q) for p, k, *q in
                         self.execute(self.weighted_quantiles(union, ["period", "k"], fractions), params)}
            rows = [(p, k, n, est, quantiles[(p, k)], d) for p, k, n, est, d in rows]
        else:
            rows = [(p, k, n, n, q, d) for p, k, n, q, d in self.execute(
                f"SELECT period, k, count(*), {self.percentiles('v')}, {self.distinct_count('v')} "
                f"FROM ({union}) x GROUP BY 1, 2", [list(fractions), *params])]
        limit = distinct_limit if self.exact_distinct else max(DISTINCT_SCREEN, 4 * distinct_limit)
        candidates = {(p, k) for p, k, _, _, _, d in rows if d <= limit}
        exact = self._exact_distinct(periods, filters, candidates) if not self.exact_distinct else {}
        return [FeatureStats(p, k, self.estimate(est), tuple(_floats(q)), exact.get((p, k), d) <= distinct_limit,
                             int(n)) for p, k, n, est, q, d in rows]

    def _exact_distinct(self, periods: Mapping[str, Window], filters: Filters,
                        candidates: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not candidates:
            return {}
        union, params = self._periods(periods, filters, sorted({k for _, k in candidates}))
        sql = f"SELECT period, k, count(DISTINCT v) FROM ({union}) x GROUP BY 1, 2"
        return {(p, k): int(d) for p, k, d in self.execute(sql, params)}

    def bin_counts(self, periods: Mapping[str, Window], filters: Filters,
                   edges: Mapping[str, Sequence[float]]) -> list[tuple[str, str, int, float | int]]:
        if not edges:
            return []
        width = max(len(e) for e in edges.values())
        # bin = how many edges lie below the value; an edge list shorter than the widest is padded with +inf,
        # which no value exceeds
        names = ["k", *(f"e{i}" for i in range(width))]
        values = ", ".join(f"({', '.join('?' * len(names))})" for _ in edges)
        edge_params = [x for k, e in edges.items() for x in (k, *e, *[float("inf")] * (width - len(e)))]
        union, params = self._periods(periods, filters, list(edges))
        binned = " + ".join(f"CAST(x.v > e.e{i} AS INTEGER)" for i in range(width))
        sql = (f"WITH e({', '.join(names)}) AS (VALUES {values}) "
               f"SELECT x.period, x.k, {binned}, {self._pairs_count()} FROM ({union}) x JOIN e ON x.k = e.k "
               "GROUP BY 1, 2, 3")
        return [(p, k, int(b), self.estimate(n)) for p, k, b, n in self.execute(sql, [*edge_params, *params])]

    def _pairs_count(self) -> str:
        """The estimated count of (k, v, w) rows of `_periods`, aliased x."""
        return "sum(x.w)" if self.weighted else "count(*)"

    def value_counts(self, periods: Mapping[str, Window], filters: Filters,
                     features: Sequence[str]) -> list[tuple[str, str, float, float | int]]:
        if not features:
            return []
        union, params = self._periods(periods, filters, features)
        return [(p, k, float(v), self.estimate(n)) for p, k, v, n in self.execute(
            f"SELECT period, k, v, {self._pairs_count()} FROM ({union}) x GROUP BY 1, 2, 3", params)]

    # -- confidence ---------------------------------------------------------------------------------------------

    def confidence(self, window: Window, filters: Filters, threshold: float, bucket_seconds: float,
                   hist_bins: int) -> tuple[list[tuple[int, float | int, float | int, float | None, float | None,
                                                       int]], list[tuple[int, float | int]]]:
        where, params = self.where(window, filters, ["output_score IS NOT NULL"])
        under = f"output_score < {literal(threshold)}"
        low = f"FILTER (WHERE {under})"
        if self.weighted:
            w = self.weight()
            mean, mean_low = (f"sum({w} * output_score) / sum({w})",
                              f"sum({w} * output_score) {low} / sum({w}) {low}")
        else:
            mean, mean_low = "avg(output_score)", f"avg(output_score) {low}"
        buckets = self.execute(
            f"SELECT floor({self.epoch(quote(TIMESTAMP))} / ?), {self.count()}, {self.count(under)}, {mean}, "
            f"{mean_low}, count(*) FROM {self.relation} WHERE {where} GROUP BY 1", [float(bucket_seconds), *params])
        hist = self.execute(
            f"SELECT least(greatest(floor(output_score * ?), 0), ?), {self.count()} FROM {self.relation} "
            f"WHERE {where} GROUP BY 1", [float(hist_bins), float(hist_bins - 1), *params])
        return ([(int(b), self.estimate(n), self.estimate(lo), _float(m), _float(ml), int(ln))
                 for b, n, lo, m, ml, ln in buckets], [(int(b), self.estimate(n)) for b, n in hist])

    def export_select(self, window: Window, filters: Filters, features: Sequence[str],
                      value: str) -> tuple[str, list[Any], list[str]]:
        """SELECT of the export: fixed columns, then `value` (one feature, with a `?` for its name) as f_0, f_1...
        Returns the statement, its parameters and the column names."""
        head = [c for c in EXPORT_COLUMNS if self.has(c)]
        tail = [c for c in EXPORT_OUTPUT_COLUMNS if self.has(c)]
        where, params = self.where(window, filters)
        select = [*map(quote, head), *(f"{value} AS f_{i}" for i in range(len(features))), *map(quote, tail)]
        sql = (f"SELECT {', '.join(select)} FROM {self.relation} WHERE {where} "
               f"ORDER BY {quote(TIMESTAMP)}")
        return sql, [*features, *params], [*head, *(f"f_{i}" for i in range(len(features))), *tail]

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _floats(values: Any) -> list[float | None]:
    return [] if values is None else [_float(v) for v in values]
