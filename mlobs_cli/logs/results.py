"""Typed answers of `mlobs logs`: one result class per command, drawn by `mlobs_cli/render/logs.py`.

Rates and shares are fractions (0.05, not "5%"), latencies milliseconds, times RFC 3339 UTC in JSON.

On sampled logs (`weighted`) every count is the estimate of the population, a float (the sum of the rows'
weights), and the rows as logged come beside it under a `logged` name; on unsampled logs the two are the same
and only the one is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlobs_cli import timeparse
from mlobs_cli.logs.query import PERCENTILES, PHASES, TOTAL_LATENCY, Window
from mlobs_cli.results import BackendError, Finding


def pct_label(q: float) -> str:
    return f"p{q * 100:g}"


@dataclass(frozen=True, slots=True)
class _Base:
    source: str
    errors: tuple[BackendError, ...] = field(default=(), kw_only=True)
    findings: tuple[Finding, ...] = field(default=(), kw_only=True)
    weighted: bool = field(default=False, kw_only=True)  # counts are estimates from sampled logs

    @property
    def complete(self) -> bool:
        return not self.errors


# -- latency ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LatencyGroup:
    key: tuple[str | None, ...]  # values of the --by columns
    requests: float | int  # estimated on sampled logs
    # column (total_latency_ms and each phase) -> its value at each of PERCENTILES; None: no value (or no column)
    values: dict[str, tuple[float | None, ...]]
    logged: int = 0

    def slowest_phase(self, i: int) -> str | None:
        known = [(self.values[p][i], p) for p in PHASES if self.values[p][i] is not None]
        return max(known)[1] if known else None


@dataclass(frozen=True, slots=True)
class LatencyResult(_Base):
    window: Window
    by: tuple[str, ...]
    groups: tuple[LatencyGroup, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.by, "requests", *(("logged",) if self.weighted else ()), "percentile", TOTAL_LATENCY,
                *PHASES, "slowest_phase")

    def rows(self) -> list[list[Any]]:
        return [[*g.key, g.requests, *((g.logged,) if self.weighted else ()), pct_label(q),
                 g.values[TOTAL_LATENCY][i], *(g.values[p][i] for p in PHASES), g.slowest_phase(i)]
                for g in self.groups for i, q in enumerate(PERCENTILES)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "window": self.window.to_dict(), "by": list(self.by),
            **({"weighted": True} if self.weighted else {}),
            "groups": [{
                "group": dict(zip(self.by, g.key)), "requests": g.requests,
                **({"logged": g.logged} if self.weighted else {}),
                **{pct_label(q): {**{col: vals[i] for col, vals in g.values.items()},
                                  "slowest_phase": g.slowest_phase(i)} for i, q in enumerate(PERCENTILES)},
            } for g in self.groups],
        }


# -- errors -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Requests, errors and timeouts of one model version: estimates of the population on sampled logs, and
    the rows as logged."""

    model_id: str | None
    model_version: str | None
    requests: float | int
    errors: float | int
    timeouts: float | int
    logged_requests: int
    logged_errors: int
    logged_timeouts: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests

    @property
    def timeout_rate(self) -> float:
        return self.timeouts / self.requests

    @property
    def logged_error_rate(self) -> float:
        """The share of logged rows that failed: biased on sampled logs, which keep every error."""
        return self.logged_errors / self.logged_requests

    @property
    def logged_timeout_rate(self) -> float:
        return self.logged_timeouts / self.logged_requests


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    model_id: str | None
    model_version: str | None
    status: str
    message: str | None
    count: float | int
    logged: int = 0


@dataclass(frozen=True, slots=True)
class ErrorsResult(_Base):
    window: Window
    min_requests: int
    groups: tuple[ErrorGroup, ...]
    hidden_groups: int  # groups with fewer than min_requests requests
    messages: tuple[ErrorMessage, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        if self.weighted:
            return ("model_id", "model_version", "requests", "logged_requests", "errors", "logged_errors",
                    "error_rate", "logged_error_rate", "timeouts", "logged_timeouts", "timeout_rate",
                    "logged_timeout_rate")
        return ("model_id", "model_version", "requests", "errors", "error_rate", "timeouts", "timeout_rate")

    def rows(self) -> list[list[Any]]:
        return [[getattr(g, c) for c in self.columns] for g in self.groups]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "window": self.window.to_dict(), "min_requests": self.min_requests,
            **({"weighted": True} if self.weighted else {}),
            "groups": [dict(zip(self.columns, row)) for row in self.rows()],
            "hidden_groups": self.hidden_groups,
            "top_messages": [{"model_id": m.model_id, "model_version": m.model_version, "status": m.status,
                              "message": m.message, "count": m.count, **({"logged": m.logged} if self.weighted
                                                                         else {})} for m in self.messages],
        }


# -- search -------------------------------------------------------------------------------------------------------

TABLE_SEARCH_COLUMNS = ("timestamp", "model_id", "model_version", "status", "total_latency_ms", "request_id",
                        "trace_id", "user_id", "client_ip_hash", "error_message")


@dataclass(frozen=True, slots=True)
class SearchResult(_Base):
    window: Window
    limit: int
    records: tuple[dict[str, Any], ...]  # newest first, PII already hashed or redacted

    @property
    def columns(self) -> tuple[str, ...]:
        present = set().union(*self.records) if self.records else set(TABLE_SEARCH_COLUMNS)
        return tuple(c for c in TABLE_SEARCH_COLUMNS if c in present)

    def rows(self) -> list[list[Any]]:
        return [[_plain_time(r.get(c)) for c in self.columns] for r in self.records]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "window": self.window.to_dict(), "limit": self.limit,
                "records": [{k: _plain_time(v) for k, v in r.items()} for r in self.records]}


def _plain_time(value: Any) -> Any:
    return timeparse.isoformat(value) if isinstance(value, datetime) else value


# -- feature-shift ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FeatureShift:
    name: str
    n_baseline: float | int  # estimated on sampled logs
    n_current: float | int
    baseline: tuple[float, float, float] | None  # q1, median, q3
    current: tuple[float, float, float] | None
    psi: float | None
    status: str | None  # ok | watch | alert, by the drift.psi_* thresholds
    note: str | None = None
    logged_baseline: int = 0
    logged_current: int = 0

    @property
    def median_shift(self) -> float | None:
        """The seed's |current median - baseline median| / |baseline median|; None when the baseline's is 0."""
        if self.baseline is None or self.current is None or self.baseline[1] == 0:
            return None
        return abs(self.current[1] - self.baseline[1]) / abs(self.baseline[1])


@dataclass(frozen=True, slots=True)
class FeatureShiftResult(_Base):
    baseline: Window
    current: Window
    bins: int
    features: tuple[FeatureShift, ...]

    columns = ("feature", "n_baseline", "n_current", "baseline_q1", "baseline_median", "baseline_q3", "current_q1",
               "current_median", "current_q3", "median_shift", "psi", "status")

    def rows(self) -> list[list[Any]]:
        none3 = (None, None, None)
        return [[f.name, f.n_baseline, f.n_current, *(f.baseline or none3), *(f.current or none3), f.median_shift,
                 f.psi, f.status] for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "baseline": self.baseline.to_dict(), "current": self.current.to_dict(),
                "bins": self.bins,
                **({"weighted": True} if self.weighted else {}),
                "features": [{**dict(zip(self.columns, row)), "note": f.note,
                              **({"logged_baseline": f.logged_baseline, "logged_current": f.logged_current}
                                 if self.weighted else {})} for f, row in zip(self.features, self.rows())]}


# -- confidence ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConfidenceBucket:
    start: datetime
    predictions: float | int  # estimated on sampled logs, as `low` and the means
    low: float | int
    mean_score: float | None
    mean_low_score: float | None
    logged: int = 0

    @property
    def low_share(self) -> float | None:
        return self.low / self.predictions if self.predictions else None


@dataclass(frozen=True, slots=True)
class ConfidenceResult(_Base):
    window: Window
    threshold: float
    bucket_seconds: float
    buckets: tuple[ConfidenceBucket, ...]
    histogram: tuple[float | int, ...]  # counts of scores in [i/n, (i+1)/n); the last bin also holds 1.0 and up

    @property
    def columns(self) -> tuple[str, ...]:
        return ("bucket_start", "predictions", *(("logged",) if self.weighted else ()), "low_confidence",
                "low_share", "mean_score", "mean_low_score")

    @property
    def predictions(self) -> float | int:
        return sum(b.predictions for b in self.buckets)

    @property
    def logged(self) -> int:
        return sum(b.logged for b in self.buckets)

    @property
    def low(self) -> float | int:
        return sum(b.low for b in self.buckets)

    @property
    def mean_score(self) -> float | None:
        total = sum(b.mean_score * b.predictions for b in self.buckets if b.predictions)
        return total / self.predictions if self.predictions else None

    def rows(self) -> list[list[Any]]:
        return [[timeparse.isoformat(b.start), b.predictions, *((b.logged,) if self.weighted else ()), b.low,
                 b.low_share, b.mean_score, b.mean_low_score] for b in self.buckets]

    def to_dict(self) -> dict[str, Any]:
        n = len(self.histogram)
        return {
            "source": self.source, "window": self.window.to_dict(), "threshold": self.threshold,
            "bucket_seconds": self.bucket_seconds, "predictions": self.predictions,
            **({"weighted": True, "logged": self.logged} if self.weighted else {}), "low_confidence": self.low,
            "low_share": self.low / self.predictions if self.predictions else None, "mean_score": self.mean_score,
            "buckets": [dict(zip(self.columns, row)) for row in self.rows()],
            "distribution": [{"from": i / n, "to": (i + 1) / n, "count": c} for i, c in enumerate(self.histogram)],
        }


# -- export -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExportResult(_Base):
    window: Window
    path: str
    format: str
    rows_written: int
    features: tuple[str, ...]

    columns = ("path", "format", "rows", "features")

    def rows(self) -> list[list[Any]]:
        return [[self.path, self.format, self.rows_written, len(self.features)]]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "window": self.window.to_dict(), "path": self.path, "format": self.format,
                "rows": self.rows_written, "features": list(self.features)}
