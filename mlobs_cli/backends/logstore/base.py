"""The interface every prediction-log store implements, and the plain rows it answers with.

Each method is one aggregation that the store computes where the logs are (DuckDB over the files, the database
server): percentiles, counts and histograms come back, never the rows they were computed from. Only `search`
returns records, and `export` writes them to a file without passing them through Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mlobs_cli.logs.query import Filters, Window
from mlobs_cli.results import BackendError

# A per-row keep rate that a writer may log: it wins over the log.sampling.* rule for that row.
SAMPLE_RATE = "sample_rate"


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the logs were sampled (the design's `prediction_logs.sampling`, keys log.sampling.*): the share of
    rows kept of each kind. A row's weight is 1 / its keep rate: its `sample_rate` column where that is in (0, 1];
    else error_rate for an ERROR or TIMEOUT row, else low_confidence_rate for an output_score under
    low_confidence_threshold, else default_rate. All rates 1 (the defaults) and no `sample_rate` column: every
    weight is 1 and the store answers as unsampled logs."""

    default_rate: float = 1.0
    error_rate: float = 1.0
    low_confidence_rate: float = 1.0
    low_confidence_threshold: float = 0.6

    @classmethod
    def from_settings(cls, settings: Any) -> Sampling:
        return cls(*(settings[f"log.sampling.{f.name}"] for f in dataclasses.fields(cls)))

    @property
    def configured(self) -> bool:
        return any(rate != 1.0 for rate in (self.default_rate, self.error_rate, self.low_confidence_rate))


@dataclass(frozen=True, slots=True)
class FeatureStats:
    """One feature in one period: count of finite values, its quantiles at the asked fractions, and whether
    it has at most `distinct_limit` distinct values (then PSI bins are values, not quantiles)."""

    period: str
    name: str
    count: float  # the estimate: the sum of the values' weights (the logged count when unweighted)
    quantiles: tuple[float, ...]
    few_values: bool
    logged: int = 0


class LogStore(Protocol):
    name: str  # "files", "postgresql": names the backend in errors
    source: str  # the source as it may be shown: any password masked
    sampling: Sampling

    @property
    def weighted(self) -> bool:
        """Whether rows carry weights other than 1 (sampling configured, or a sample_rate column): then every
        count below is the estimate of the population (a float, the sum of weights) and every percentile the
        weighted one; the logged count comes beside it."""

    @property
    def warnings(self) -> list[BackendError]:
        """What was skipped while reading (malformed lines): the result is incomplete."""

    def require(self, columns: Iterable[str], command: str) -> None:
        """InputError naming the first of `columns` the logs lack."""

    def has(self, column: str) -> bool: ...

    def inputs(self) -> tuple[str, ...]:
        """The files the store reads (none for a database): `logs export` never writes over one of them."""

    def latency(self, window: Window, filters: Filters, by: Sequence[str], columns: Sequence[str],
                percentiles: Sequence[float]
                ) -> list[tuple[tuple[Any, ...], int, float, list[list[float | None] | None]]]:
        """Per group of `by`: (key, logged rows, estimated requests, per column its values at `percentiles`, None
        where it has none)."""

    def status_counts(self, window: Window, filters: Filters
                      ) -> list[tuple[Any, Any, float, float, float, int, int, int]]:
        """Per model_id, model_version: (model_id, model_version, requests, errors, timeouts, and the same three
        as logged rows); the first three are estimates (see `weighted`)."""

    def variant_stats(self, window: Window, experiment: str | None, percentile: float
                      ) -> list[tuple[Any, Any, int, int, float | None]]:
        """Per experiment_id, variant_id: (experiment, variant, rows, ERROR or TIMEOUT rows, total_latency_ms at
        `percentile`, None without that column). Not weighted on sampled logs: the experiment's tests take
        these as counts of independent rows, which an estimate (a sum of weights) is not."""

    def top_errors(self, window: Window, filters: Filters, limit: int) -> list[tuple[Any, Any, str, Any, float, int]]:
        """The most frequent (model_id, model_version, status, error_message, estimated count, logged count) of
        ERROR and TIMEOUT rows, by the estimate."""

    def search(self, window: Window, filters: Filters, columns: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Matching records, newest first, at most `limit`."""

    def feature_names(self, windows: Sequence[Window], filters: Filters) -> list[str]:
        """Names of the features with a numeric value in any of the windows, sorted."""

    def feature_stats(self, periods: Mapping[str, Window], filters: Filters, features: Sequence[str] | None,
                      fractions: Sequence[float], distinct_limit: int) -> list[FeatureStats]:
        """Per period and feature (all features when None): see FeatureStats; weighted quantiles and estimated
        counts when `weighted`."""

    def bin_counts(self, periods: Mapping[str, Window], filters: Filters,
                   edges: Mapping[str, Sequence[float]]) -> list[tuple[str, str, int, float]]:
        """(period, feature, bin, count) where bin i holds values in (edges[i-1], edges[i]] (open ends); the
        count is the estimate (sum of weights)."""

    def value_counts(self, periods: Mapping[str, Window], filters: Filters,
                     features: Sequence[str]) -> list[tuple[str, str, float, float]]:
        """(period, feature, value, estimated count) for each distinct value."""

    def confidence(self, window: Window, filters: Filters, threshold: float, bucket_seconds: float,
                   hist_bins: int) -> tuple[list[tuple[int, float, float, float | None, float | None, int]],
                                            list[tuple[int, float]]]:
        """Per bucket index floor(epoch / bucket_seconds): (index, predictions, under threshold, mean score,
        mean score under threshold, logged predictions); and the histogram: (bin index, count), scores in
        [i/n, (i+1)/n). Counts and means are estimates (weighted) when `weighted`."""

    def export(self, window: Window, filters: Filters, features: Sequence[str], path: str, fmt: str) -> int:
        """Write timestamp, model, one column per feature, output class and score to `path` (which the caller
        owns: it may be replaced) as `fmt` (parquet, csv or json lines); return the number of rows."""

    def close(self) -> None: ...
