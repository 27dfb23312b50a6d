"""`mlobs logs`: each command's query, run by the store the source names, turned into its result.

Numbers come from the store (percentiles, counts, histograms, PSI bin counts); what is left here is small: rates,
the PSI sum over the bins (drift.stats.psi, the same function `drift compare` uses), empty time buckets, sorting,
and PII redaction for display.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlobs_cli import timeparse
from mlobs_cli.backends.logstore import open_store
from mlobs_cli.backends.logstore.base import LogStore
from mlobs_cli.config import Settings
from mlobs_cli.errors import InputError
from mlobs_cli.logs import pii, query
from mlobs_cli.logs.query import FEATURES, PERCENTILES, PHASES, TIMESTAMP, TOTAL_LATENCY, Filters, Window
from mlobs_cli.logs.results import (
    ConfidenceBucket,
    ConfidenceResult,
    ErrorGroup,
    ErrorMessage,
    ErrorsResult,
    ExportResult,
    FeatureShift,
    FeatureShiftResult,
    LatencyGroup,
    LatencyResult,
    SearchResult,
)

MAX_BUCKETS = 10_000
HISTOGRAM_BINS = 10
EXPORT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "json", ".ndjson": "json"}


@dataclass(frozen=True, slots=True)
class Scope:
    """The options every `logs` command shares: where the logs are, which period, which model."""

    source: str | None = None
    since: str | None = None
    start: str | None = None
    end: str | None = None
    model: str | None = None
    version: str | None = None

    def window(self, default: str | None) -> Window:
        return query.window(self.since, self.start, self.end, default)

    def filters(self, **more: Any) -> Filters:
        return Filters(model=self.model, version=self.version, **more)


@contextmanager
def _open(scope: Scope, settings: Settings, command: str, columns: Sequence[str]) -> Iterator[LogStore]:
    store = open_store(scope.source, settings)
    try:
        store.require(columns, command)
        yield store
    finally:
        store.close()


def _key(values: Sequence[Any]) -> tuple[Any, ...]:
    """Sort None last, and any value as text, so groups sort the same whatever the backend."""
    return tuple((v is None, "" if v is None else str(v)) for v in values)


def latency(scope: Scope, settings: Settings, by: Sequence[str]) -> LatencyResult:
    """Count, p50, p95 and p99 of total_latency_ms and of each phase, per group of `by` (model, version...)."""
    window, group = scope.window("1h"), query.group_columns(tuple(by))
    filters = scope.filters()
    with _open(scope, settings, "latency", [TIMESTAMP, TOTAL_LATENCY, *group, *filters.columns()]) as store:
        rows = store.latency(window, filters, group, [TOTAL_LATENCY, *PHASES], PERCENTILES)
        groups = [LatencyGroup(key, estimate, {col: tuple(v) if v else (None,) * len(PERCENTILES)
                                               for col, v in zip([TOTAL_LATENCY, *PHASES], values)}, logged)
                  for key, logged, estimate, values in rows]
        return LatencyResult(store.source, window=window, by=group, groups=tuple(sorted(groups, key=lambda g: _key(
            g.key))), errors=tuple(store.warnings), weighted=store.weighted)


def errors(scope: Scope, settings: Settings, min_requests: int, top: int) -> ErrorsResult:
    """Error and timeout rates per model and version with at least `min_requests` requests, worst first, and the
    `top` most frequent error messages."""
    window, filters = scope.window("24h"), scope.filters()
    with _open(scope, settings, "errors", [TIMESTAMP, "model_id", "model_version", "status"]) as store:
        counts = [ErrorGroup(*row) for row in store.status_counts(window, filters)]
        messages = [ErrorMessage(model, version, status, pii.scrub(message), count, logged)
                    for model, version, status, message, count, logged in store.top_errors(window, filters, top)] \
            if store.has("error_message") and top else []
        shown = sorted((g for g in counts if g.requests >= min_requests),
                       key=lambda g: (-g.error_rate - g.timeout_rate, _key([g.model_id, g.model_version])))
        return ErrorsResult(store.source, window=window, min_requests=min_requests, groups=tuple(shown),
                            hidden_groups=len(counts) - len(shown), messages=tuple(messages),
                            errors=tuple(store.warnings), weighted=store.weighted)


def search(scope: Scope, settings: Settings, *, status: str | None, trace_id: str | None, request_id: str | None,
           min_latency_ms: float | None, limit: int) -> SearchResult:
    """The newest `limit` records that match, identifiers hashed and PII fields redacted."""
    window = scope.window(None)
    filters = scope.filters(status=query.status(status), trace_id=trace_id, request_id=request_id,
                            min_latency_ms=min_latency_ms)
    with _open(scope, settings, "search", [TIMESTAMP, *filters.columns()]) as store:
        records = store.search(window, filters, query.SEARCH_COLUMNS, limit)
        shown = tuple(pii.shown(r, settings["log.pii_fields"]) for r in records)
        return SearchResult(store.source, window=window, limit=limit, records=shown, errors=tuple(store.warnings))


def feature_shift(scope: Scope, settings: Settings, baseline: str, current: str,
                  features: Sequence[str]) -> FeatureShiftResult:
    """Per feature: quartiles of both periods, the seed's median shift, and PSI on the baseline's quantile bins
    (drift.bins of them, drift.psi_epsilon floor), equal to `drift compare` on the same rows.

    Raises:
        InputError: a feature the logs do not have in either period, or a malformed name or period.
    """
    periods = {"baseline": query.period(baseline, "--baseline"), "current": query.period(current, "--current")}
    names = [query.check_feature_name(f) for f in features] or None
    cfg = settings.drift
    bins = cfg.bins
    fractions = [i / bins for i in range(1, bins)] + [0.25, 0.5, 0.75]  # as np.arange(1, bins) / bins
    filters = scope.filters()
    with _open(scope, settings, "feature-shift", [TIMESTAMP, FEATURES, *filters.columns()]) as store:
        stats = {(s.period, s.name): s for s in
                 store.feature_stats(periods, filters, names, fractions, distinct_limit=bins)}
        found = sorted({name for _, name in stats})
        unknown = [n for n in names or () if n not in found]
        if unknown:
            have = store.feature_names(list(periods.values()), filters)
            raise InputError(f"unknown feature {', '.join(unknown)}; the logs have in these periods: "
                             f"{', '.join(have) or 'no features'}")
        edges: dict[str, list[float]] = {}
        discrete: list[str] = []
        for name in found:
            ref, cur = stats.get(("baseline", name)), stats.get(("current", name))
            if ref is not None and cur is not None:
                if ref.few_values:
                    discrete.append(name)
                else:
                    edges[name] = sorted(set(ref.quantiles[: bins - 1]))  # np.unique of the edges
        counts = _bin_counts(store.bin_counts(periods, filters, edges), edges)
        counts.update(_value_counts(store.value_counts(periods, filters, discrete)))
        shifts = [_shift(name, stats.get(("baseline", name)), stats.get(("current", name)), counts.get(name),
                         settings, bins) for name in found]
        shifts.sort(key=lambda f: (f.psi is None, -(f.psi or 0.0), f.name))
        return FeatureShiftResult(store.source, baseline=periods["baseline"], current=periods["current"],
                                  bins=bins, features=tuple(shifts), errors=tuple(store.warnings),
                                  weighted=store.weighted)


def _bin_counts(rows: list[tuple[str, str, int, float]], edges: dict[str, list[float]]
                ) -> dict[str, tuple[list, list]]:
    out = {name: ([0] * (len(e) + 1), [0] * (len(e) + 1)) for name, e in edges.items()}
    for period, name, b, n in rows:
        out[name][0 if period == "baseline" else 1][b] += n
    return out


def _value_counts(rows: list[tuple[str, str, float, float]]) -> dict[str, tuple[list, list]]:
    """One bin per value of either period, in value order, as drift.stats.quantile_bins does."""
    by_name: dict[str, dict[float, list[int]]] = {}
    for period, name, value, n in rows:
        by_name.setdefault(name, {}).setdefault(value, [0, 0])[0 if period == "baseline" else 1] += n
    return {name: ([values[v][0] for v in sorted(values)], [values[v][1] for v in sorted(values)])
            for name, values in by_name.items()}


def _shift(name: str, ref: Any, cur: Any, counts: tuple[list, list] | None, settings: Settings,
           bins: int) -> FeatureShift:
    def quartiles(s: Any) -> tuple[float, float, float] | None:
        return None if s is None else tuple(s.quantiles[bins - 1:])

    psi = status = note = None
    if counts is not None:
        import numpy as np

        from mlobs_cli.drift import stats

        cfg = settings.drift
        psi = stats.psi(np.asarray(counts[0], dtype=np.float64), np.asarray(counts[1], dtype=np.float64),
                        cfg.psi_epsilon)
        status = "alert" if psi > cfg.psi_alert else "watch" if psi >= cfg.psi_watch else "ok"
        if ref.few_values:
            note = f"at most {bins} distinct values in the baseline: one bin per value"
    else:
        note = f"no value in the {'baseline' if ref is None else 'current'} period"
    return FeatureShift(name, ref.count if ref else 0, cur.count if cur else 0, quartiles(ref), quartiles(cur),
                        psi, status, note, ref.logged if ref else 0, cur.logged if cur else 0)


def confidence(scope: Scope, settings: Settings, bucket: str) -> ConfidenceResult:
    """Per time bucket: predictions, how many scored under log.confidence_threshold, and their share; and the
    distribution of scores over the window in tenths."""
    window, filters = scope.window("24h"), scope.filters()
    threshold = settings["log.confidence_threshold"]
    size = timeparse.parse_duration(bucket, "--bucket").total_seconds()
    assert window.start is not None and window.end is not None  # a default window has both ends
    first, last = math.floor(window.start.timestamp() / size), math.ceil(window.end.timestamp() / size)
    if last - first > MAX_BUCKETS:
        raise InputError(f"--bucket {bucket}: {last - first:,} buckets in the window; at most {MAX_BUCKETS:,}, "
                         "give a longer bucket or a shorter window")
    with _open(scope, settings, "confidence", [TIMESTAMP, "output_score", *filters.columns()]) as store:
        rows, hist = store.confidence(window, filters, threshold, size, HISTOGRAM_BINS)
        by_index = {r[0]: r for r in rows}
        buckets = tuple(ConfidenceBucket(datetime.fromtimestamp(i * size, UTC),
                                         *by_index.get(i, (i, 0, 0, None, None, 0))[1:])
                        for i in range(first, last))
        histogram = [0] * HISTOGRAM_BINS
        for b, n in hist:
            histogram[b] = n
        return ConfidenceResult(store.source, window=window, threshold=threshold, bucket_seconds=size,
                                buckets=buckets, histogram=tuple(histogram), errors=tuple(store.warnings),
                                weighted=store.weighted)


def export_format(path: str) -> str:
    fmt = EXPORT_FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InputError(f"--output {path}: expected a file ending in {', '.join(EXPORT_FORMATS)}")
    return fmt


def export(scope: Scope, settings: Settings, path: str, features: Sequence[str], force: bool) -> ExportResult:
    """Write the period's timestamp, model, feature values (one column each), output class and score to `path`,
    a file `drift compare` reads. An existing file is replaced only with `force`, and never one of the inputs.

    Raises:
        InputError: no --since or --from, an unknown suffix, an existing file without force, an unknown feature.
    """
    if scope.since is None and scope.start is None:
        raise InputError("give the period to export with --since or --from")
    window, filters = scope.window(None), scope.filters()
    fmt = export_format(path)
    names = [query.check_feature_name(f) for f in features]
    if os.path.exists(path) and not force:
        raise InputError(f"{path} exists; give --force to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"--output {path}: no such directory {parent}")
    with _open(scope, settings, "export", [TIMESTAMP, FEATURES, *filters.columns()]) as store:
        if os.path.realpath(path) in {os.path.realpath(f) for f in store.inputs()}:
            raise InputError(f"--output {path} is one of the logs read; choose another file")
        have = store.feature_names([window], filters)
        unknown = [n for n in names if n not in have]
        if unknown:
            raise InputError(f"unknown feature {', '.join(unknown)}; the logs have in this period: "
                             f"{', '.join(have) or 'no features'}")
        chosen = names or have
        clash = sorted(set(chosen) & {*query.EXPORT_COLUMNS, *query.EXPORT_OUTPUT_COLUMNS})
        if clash:
            raise InputError(f"feature {clash[0]!r} has the name of a log column; export it with --features "
                             "leaving it out")
        rows = _write_new(path, force, lambda tmp: store.export(window, filters, chosen, tmp, fmt))
        return ExportResult(store.source, window=window, path=path, format=fmt, rows_written=rows,
                            features=tuple(chosen), errors=tuple(store.warnings))


def _write_new(path: str, force: bool, write: Any) -> int:
    """Write through a temporary file beside `path`, then put it in place: a failed or interrupted export leaves
    no partial file, and without `force` an existing file (even one created meanwhile) is never replaced."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".mlobs-export-",
                               suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        rows = write(tmp)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path exists, atomically
            except FileExistsError:
                raise InputError(f"{path} exists; give --force to replace it") from None
        return rows
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
