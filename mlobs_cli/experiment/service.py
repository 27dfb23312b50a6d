"""`mlobs experiment status` and `list` as functions: what the commands call, and what a dashboard's experiment
panel calls (`status(...)` returns the ExperimentStatus it draws)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.errors import InputError
from mlobs_cli.experiment import analysis, read
from mlobs_cli.experiment.results import ExperimentList, ExperimentSeen, ExperimentStatus
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat, prometheus_duration

# The always-valid p-value is the running minimum over this many looks at the window, evenly spaced (hourly
# over the default 24h): what an engineer checking every hour would have seen, on a grid fixed in advance.
LOOKS = 24
FIRST_SEEN_LOOKBACK = timedelta(days=30)
FIRST_SEEN_STEPS = 12  # first seen is found to 1/12 of the window listed


def status(client: PrometheusClient, experiment: str, at: datetime, since: timedelta, *, store: Any = None,
           control: str | None = None, split: Any = None, mde: float | None = None) -> ExperimentStatus:
    """The status of `experiment` over [at - since, at).

    Args:
        store: a LogStore for the p99 latency and error rate per variant; None: Prometheus' serving metrics.
        control, split, mde: see analysis.analyse.

    Raises:
        InputError: an unknown experiment (the known ones listed), or counts no test can use.
        BackendUnavailable: Prometheus cannot be reached.
    """
    counts, guard, errors, warnings = read.prometheus_counts(client, experiment, at, since,
                                                             guardrails=store is None)
    if not counts["samples"]:
        known = sorted(read.experiments(client, at, since))
        raise InputError(f"no experiment {experiment!r} in experiment_samples over the {_ago(since)} before "
                         f"{_iso(at)}; experiments: {', '.join(known) or 'none'}")
    start = at - since
    earlier, look_errors = read.looks(client, experiment, at, since, LOOKS)
    errors = errors + look_errors
    logs = read.log_guardrails(store, experiment, start, at) if store is not None else None
    if store is not None:
        errors = errors + tuple(store.warnings)
    return analysis.analyse(experiment, read.variant_counts(counts, guard, logs), start, at, control=control,
                            split=split, mde=mde, looks=earlier, errors=errors, warnings=warnings,
                            source="prometheus" if store is None else f"prometheus+{store.name}")


def listing(client: PrometheusClient | None, at: datetime, since: timedelta, store: Any = None) -> ExperimentList:
    """The experiments seen in Prometheus (and in the logs, when `store` is given) over [at - since, at)."""
    seen: dict[str, ExperimentSeen] = {}
    errors: list[BackendError] = []
    if client is not None:
        by_experiment = read.experiments(client, at, since)
        step = max(since / FIRST_SEEN_STEPS, timedelta(seconds=15))
        firsts = read.first_seen(client, at, FIRST_SEEN_LOOKBACK, step) if by_experiment else {}
        for name, variants in by_experiment.items():
            seen[name] = ExperimentSeen(name, _ranked({v: round(n) for v, n in variants.items()}),
                                        firsts.get(name), "prometheus")
        errors += [BackendError(client.name, m) for m in client.incomplete]
    if store is not None:
        from mlobs_cli.logs.query import Window

        store.require(("experiment_id", "variant_id"), "experiment list")
        rows: dict[str, dict[str, int]] = {}
        for e, v, n, _, _ in store.variant_stats(Window(at - since, at), None, read.P99):
            rows.setdefault(str(e), {})[str(v)] = n
        for name, variants in rows.items():
            if name not in seen:
                seen[name] = ExperimentSeen(name, _ranked(variants), None, store.name)
        errors += store.warnings
    return ExperimentList(at - since, at, tuple(seen[k] for k in sorted(seen)), tuple(errors))


def _ranked(variants: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(variants.items(), key=lambda kv: (-kv[1], kv[0])))


def _ago(since: timedelta) -> str:
    return prometheus_duration(since)


def _iso(at: datetime) -> str:
    return isoformat(at)
