"""The interface every prediction-log store implements, and the plain rows it answers with.

Each method is one aggregation that the store computes where the logs are (DuckDB over the files, the database
server): percentiles, counts and histograms come back, never the rows they were computed from. Only `search`
returns records, and `export` writes them to a file without passing them through Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mlobs_cli.logs.query import Filters, Window
from mlobs_cli.results import BackendError


@dataclass(frozen=True, slots=True)
class FeatureStats:
    """One feature in one period: count of finite values, its quantiles at the asked fractions, and whether
    it has at most `distinct_limit` distinct values (then PSI bins are values, not quantiles)."""

    period: str
    name: str
    count: int
    quantiles: tuple[float, ...]
    few_values: bool


class LogStore(Protocol):
    name: str  # "files", "postgresql": names the backend in errors
    source: str  # the source as it may be shown: any password masked

    @property
    def warnings(self) -> list[BackendError]:
        """What was skipped while reading (malformed lines): the result is incomplete."""

    def require(self, columns: Iterable[str], command: str) -> None:
        """InputError naming the first of `columns` the logs lack."""

    def has(self, column: str) -> bool: ...

    def inputs(self) -> tuple[str, ...]:
        """The files the store reads (none for a database): `logs export` never writes over one of them."""

    def latency(self, window: Window, filters: Filters, by: Sequence[str], columns: Sequence[str],
                percentiles: Sequence[float]) -> list[tuple[tuple[Any, ...], int, list[list[float | None] | None]]]:
        """Per group of `by`: (key, rows, per column its values at `percentiles`, None where it has none)."""

    def status_counts(self, window: Window, filters: Filters) -> list[tuple[Any, Any, int, int, int]]:
        """Per model_id, model_version: (model_id, model_version, requests, errors, timeouts)."""

    def variant_stats(self, window: Window, experiment: str | None, percentile: float
                      ) -> list[tuple[Any, Any, int, int, float | None]]:
        """Per experiment_id, variant_id: (experiment, variant, rows, ERROR or TIMEOUT rows, total_latency_ms at
        `percentile`, None without that column)."""

    def top_errors(self, window: Window, filters: Filters, limit: int) -> list[tuple[Any, Any, str, Any, int]]:
        """The most frequent (model_id, model_version, status, error_message, count) of ERROR and TIMEOUT rows."""

    def search(self, window: Window, filters: Filters, columns: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Matching records, newest first, at most `limit`."""

    def feature_names(self, windows: Sequence[Window], filters: Filters) -> list[str]:
        """Names of the features with a numeric value in any of the windows, sorted."""

    def feature_stats(self, periods: Mapping[str, Window], filters: Filters, features: Sequence[str] | None,
                      fractions: Sequence[float], distinct_limit: int) -> list[FeatureStats]:
        """Per period and feature (all features when None): see FeatureStats."""

    def bin_counts(self, periods: Mapping[str, Window], filters: Filters,
                   edges: Mapping[str, Sequence[float]]) -> list[tuple[str, str, int, int]]:
        """(period, feature, bin, count) where bin i holds values in (edges[i-1], edges[i]] (open ends)."""

    def value_counts(self, periods: Mapping[str, Window], filters: Filters,
                     features: Sequence[str]) -> list[tuple[str, str, float, int]]:
        """(period, feature, value, count) for each distinct value."""

    def confidence(self, window: Window, filters: Filters, threshold: float, bucket_seconds: float,
                   hist_bins: int) -> tuple[list[tuple[int, int, int, float | None, float | None]],
                                            list[tuple[int, int]]]:
        """Per bucket index floor(epoch / bucket_seconds): (index, predictions, under threshold, mean score,
        mean score under threshold); and the histogram: (bin index, count), scores in [i/n, (i+1)/n)."""

    def export(self, window: Window, filters: Filters, features: Sequence[str], path: str, fmt: str) -> int:
        """Write timestamp, model, one column per feature, output class and score to `path` (which the caller
        owns: it may be replaced) as `fmt` (parquet, csv or json lines); return the number of rows."""

    def close(self) -> None: ...
