"""Reading an experiment's counts: the counters from Prometheus, the guardrails from Prometheus or the logs.

Counts are the counters' `increase` over the window ending at `--at`, so a counter that resets (a restarted
pod) is counted as Prometheus counts it. Each counter is read by the name client libraries expose
(`experiment_samples_total`) or, where a store has only that, by the catalogue's bare name (`experiment_samples`);
`or` keeps the `_total` series where both exist, so nothing is counted twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient, Sample
from mlobs_cli.errors import BackendUnavailable
from mlobs_cli.experiment.results import Look, VariantCounts
from mlobs_cli.metrics.common import ask
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import prometheus_duration

COUNTERS = {"samples": "experiment_samples", "conversions": "experiment_conversion", "revenue": "experiment_revenue"}
P99 = 0.99


def _range(window: timedelta) -> str:
    return prometheus_duration(window)


def counter(name: str, window: timedelta, by: str, matcher: str = "") -> str:
    """The increase of counter `name` (its `_total` name, else its bare one) summed by `by`."""
    return " or ".join(f"sum by ({by}) (increase({n}{{{matcher}}}[{_range(window)}]))"
                       for n in (f"{name}_total", name))


def _matcher(experiment: str) -> str:
    return f"experiment={json.dumps(experiment)}"  # a PromQL string: JSON's escapes are Go's


def _by(samples: list[Sample] | None, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in samples or ():
        if label in s.labels and math.isfinite(s.value):
            out[s.labels[label]] = out.get(s.labels[label], 0.0) + s.value
    return out


def experiments(client: PrometheusClient, at: datetime, window: timedelta) -> dict[str, dict[str, float]]:
    """experiment -> variant -> samples over the window."""
    samples = client.query(counter(COUNTERS["samples"], window, "experiment, variant"), at)
    out: dict[str, dict[str, float]] = {}
    for s in samples:
        if "experiment" in s.labels and "variant" in s.labels and math.isfinite(s.value):
            out.setdefault(s.labels["experiment"], {})[s.labels["variant"]] = s.value
    return out


def first_seen(client: PrometheusClient, at: datetime, lookback: timedelta, step: timedelta
               ) -> dict[str, datetime]:
    """experiment -> the earliest sample of its counter within `lookback` before `at`, found to `step`: a
    subquery sees a series only at multiples of its step, so a step longer than an experiment's life could miss
    it (the caller makes it a fraction of the window listed)."""
    expr = " or ".join(f"min by (experiment) (min_over_time(timestamp({n})[{_range(lookback)}:{_range(step)}]))"
                       for n in ("experiment_samples_total", "experiment_samples"))
    return {s.labels["experiment"]: datetime.fromtimestamp(s.value, UTC)
            for s in client.query(expr, at) if "experiment" in s.labels and math.isfinite(s.value)}


def prometheus_counts(client: PrometheusClient, experiment: str, at: datetime, window: timedelta, *,
                      guardrails: bool = True
                      ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]], tuple[BackendError, ...],
                                 tuple[str, ...]]:
    """Per variant: samples, conversions, revenue (counters) and, with `guardrails`, p99 latency and error rate
    from the serving metrics of the version each variant is named after, where there are any.

    Returns:
        (counts: kind -> variant -> value, guardrails: kind -> variant -> value, errors, warnings)

    Raises:
        BackendUnavailable: the samples or conversions could not be read.
    """
    m = _matcher(experiment)
    calls: dict[str, Any] = {kind: partial(client.query, counter(name, window, "variant", m), at)
                             for kind, name in COUNTERS.items()}
    answers = ask(client, calls)
    if answers.get("samples") is None or answers.get("conversions") is None:
        # without either count there is no test to run: not "no such experiment", and not a partial result
        raise BackendUnavailable(answers.errors[0].message if answers.errors else "prometheus: no answer")
    counts = {kind: _by(answers.get(kind), "variant") for kind in COUNTERS}
    errors, warnings = answers.errors, answers.warnings
    guard: dict[str, dict[str, float]] = {"p99": {}, "errors": {}}
    if guardrails and counts["samples"]:
        try:
            more = ask(client, _guardrail_calls(client, sorted(counts["samples"]), at, window))
        except BackendUnavailable as e:  # the counts stand without their guardrails; the result is incomplete
            return counts, guard, errors + (BackendError(client.name, str(e)),), warnings
        guard = {kind: _by(more.get(kind), "version") for kind in guard}
        errors, warnings = errors + more.errors, warnings + more.warnings
    return counts, guard, errors, warnings


def looks(client: PrometheusClient, experiment: str, at: datetime, window: timedelta, count: int
          ) -> tuple[list[Look], tuple[BackendError, ...]]:
    """The samples and conversions per variant at `count - 1` moments evenly spaced in the window before `at`,
    each the increase from the window's start (the last look, at `at`, is the status itself). A look whose
    queries failed is left out, which only makes the always-valid p-value larger (conservative), and is reported.
    """
    start, m = at - window, _matcher(experiment)
    moments = [start + window * k / count for k in range(1, count)]
    calls: dict[Any, Any] = {}
    for i, t in enumerate(moments):
        for kind in ("samples", "conversions"):
            calls[(i, kind)] = partial(client.query, counter(COUNTERS[kind], t - start, "variant", m), t)
    try:
        answers = ask(client, calls)
    except BackendUnavailable as e:
        return [], (BackendError(client.name, f"earlier looks: {e}"),)
    out = []
    for i, t in enumerate(moments):
        samples, conversions = answers.get((i, "samples")), answers.get((i, "conversions"))
        if samples is None or conversions is None:
            continue
        n, c = _by(samples, "variant"), _by(conversions, "variant")
        out.append(Look(t, {v: (round(n[v]), round(c.get(v, 0.0))) for v in n}))
    return out, answers.errors


def _guardrail_calls(client: PrometheusClient, variants: list[str], at: datetime, window: timedelta
                     ) -> dict[str, Any]:
    versions = json.dumps("|".join(_regex(v) for v in variants))
    rng = _range(window)
    requests = f"sum by (version) (increase(inference_requests_total{{version=~{versions}}}[{rng}]))"
    failed = (f"sum by (version) (increase(inference_requests_total{{version=~{versions}, "
              f"status=~\"5..|error|ERROR\"}}[{rng}]))")
    return {
        "p99": partial(client.query, f"histogram_quantile({P99}, sum by (le, version) "
                       f"(rate(inference_latency_seconds_bucket{{version=~{versions}}}[{rng}])))", at),
        # a version without a failed request has no 5xx series: its rate is 0, not unknown
        "errors": partial(client.query, f"({failed} or {requests} * 0) / {requests}", at),
    }


def _regex(value: str) -> str:
    """`value` matched literally inside a PromQL (RE2) regular expression."""
    return "".join("\\" + c if c in r"\.+*?()|[]{}^$" else c for c in value)


def log_guardrails(store: Any, experiment: str, start: datetime, end: datetime) -> dict[str, tuple[int, int,
                                                                                                   float | None]]:
    """variant -> (rows, ERROR or TIMEOUT rows, p99 total_latency_ms) from the prediction logs."""
    from mlobs_cli.logs.query import Window

    store.require(("experiment_id", "variant_id", "status"), "experiment status")
    return {str(v): (n, err, p99) for _, v, n, err, p99 in store.variant_stats(Window(start, end), experiment, P99)}


def variant_counts(counts: Mapping[str, Mapping[str, float]], guard: Mapping[str, Mapping[str, float]],
                   logs: Mapping[str, tuple[int, int, float | None]] | None) -> list[VariantCounts]:
    """One VariantCounts per variant with samples: the logs' guardrails where given, else Prometheus'.

    An increase is extrapolated to the window's edges (Prometheus' own rule), so it is rounded to a count."""
    out = []
    for name in sorted(counts["samples"]):
        revenue = counts["revenue"].get(name)
        if logs is not None:
            rows, errs, p99_ms = logs.get(name, (0, 0, None))
            p99 = None if p99_ms is None else p99_ms / 1000
            error_rate = errs / rows if rows else None
            source = "logs" if rows else None
        else:
            p99, error_rate = guard.get("p99", {}).get(name), guard.get("errors", {}).get(name)
            source = "prometheus" if p99 is not None or error_rate is not None else None
        out.append(VariantCounts(name, round(counts["samples"][name]), round(counts["conversions"].get(name, 0.0)),
                                 revenue, p99, error_rate, source))
    return out
