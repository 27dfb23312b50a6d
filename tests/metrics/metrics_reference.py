"""The numbers the metrics views must show, computed here from the scenario's own samples with numpy: never
through PromQL, and never through mlobs' code.

- A rate over a window of whole STEPs ending at a grid time is (v(t) - v(t - w)) / w: the scenario puts a sample
  at both edges, where Prometheus extrapolates nothing and VictoriaMetrics uses the same two samples.
- A gauge at t is its last sample at or before t.
- A quantile of a histogram is Prometheus' `bucketQuantile` (promql/quantile.go, v2.42), written out below.
Tolerances (TOLERANCE, relative): Prometheus stores float64 as written and prints 17 digits: 1e-9, for summing in
another order. VictoriaMetrics stores a value as a decimal of about 12 significant digits, and a rate subtracts two
counters ~1e3 times larger than their difference: 1e-6. Both are far below any digit a view shows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from scenario import Scenario

TOLERANCE = {"prometheus": 1e-9, "victoriametrics": 1e-6}


def gauge_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    i = int(np.searchsorted(times, t, side="right")) - 1
    assert i >= 0 and t - times[i] <= 300, "no sample within the 5 minute lookback"
    return float(values[i])


def increase(times: np.ndarray, values: np.ndarray, t: float, window: float) -> float:
    return gauge_at(times, values, t) - gauge_at(times, values, t - window)


def rates(sc: Scenario, name: str, t: float, window: float, by: tuple[str, ...], **matchers: str
          ) -> dict[tuple[str, ...], float]:
    """sum by (by) (rate(name{matchers}[window])) at t."""
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for labels, times, values in sc.select(name, **matchers):
        out[tuple(labels.get(b, "") for b in by)] += increase(times, values, t, window) / window
    return dict(out)


def gauges(sc: Scenario, name: str, t: float, **matchers: str) -> list[tuple[dict[str, str], float]]:
    return [(labels, gauge_at(times, values, t)) for labels, times, values in sc.select(name, **matchers)]


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """Prometheus' interpolation within the bucket holding rank q * count; NaN without observations."""
    b = sorted(buckets)
    assert b and math.isinf(b[-1][0])
    total = b[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    i = next(i for i, (_, count) in enumerate(b) if count >= rank or i == len(b) - 1)
    if i == len(b) - 1:
        return b[-2][0]
    start, below = (b[i - 1][0], b[i - 1][1]) if i > 0 else (0.0, 0.0)
    return start + (b[i][0] - start) * (rank - below) / (b[i][1] - below)


def quantiles(sc: Scenario, q: float, family: str, t: float, window: float, by: tuple[str, ...],
              **matchers: str) -> dict[tuple[str, ...], float]:
    """histogram_quantile(q, sum by (le, by) (rate(family_bucket{matchers}[window]))) at t."""
    per = rates(sc, f"{family}_bucket", t, window, (*by, "le"), **matchers)
    groups: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    for key, rate in per.items():
        groups[key[:-1]].append((float(key[-1]), rate))
    return {k: bucket_quantile(q, v) for k, v in groups.items()}


def close(actual: float | None, expected: float, server: str = "prometheus") -> bool:
    """Whether a view's number is the reference's: None where the reference is NaN (no observations)."""
    if math.isnan(expected):
        return actual is None
    return actual is not None and math.isclose(actual, expected, rel_tol=TOLERANCE[server], abs_tol=1e-12)
