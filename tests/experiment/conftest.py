"""A real Prometheus backfilled with planted experiments, one per verdict and one per bad input: every counter is
sampled every 15 s over the 2 h before the scenario's end, so a 1 h increase at the end spans 240 steps."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import backfilled_prometheus
from tests.logs.conftest import logs, postgres  # noqa: F401 (the session's PostgreSQL, shared with tests/logs)

STEP = 15.0
STEPS = 480  # 2 h
WINDOW_STEPS = 240  # --since 1h


@dataclass(frozen=True)
class Arm:
    """Per 15 s step: samples and conversions added; `reset_at`: the step the counters restart from 0."""

    samples: float
    conversions: float
    reset_at: int | None = None
    revenue: float | None = None
    fade_at: int | None = None  # from this step on, `late_conversions` a step instead
    late_conversions: float | None = None

    def converted(self, n: int) -> float:
        """The conversion counter's value at step n."""
        if self.fade_at is None or n <= self.fade_at:
            return value(self.conversions, n, self.reset_at)
        return self.conversions * self.fade_at + (self.late_conversions or 0.0) * (n - self.fade_at)


@dataclass(frozen=True)
class Planted:
    arms: dict[str, Arm]
    bare: bool = False  # the catalogue's names (experiment_samples), as some stores keep them
    extra: dict[str, str] = field(default_factory=dict)


# name -> planted experiment
EXPERIMENTS = {
    # 90/10 observed against a configured 95/5
    "srm": Planted({"control": Arm(900, 45), "treatment": Arm(100, 5)}),
    # conversion equal; the treatment's p99 latency is over 100 ms (histogram below, by version)
    "guardrail": Planted({"v2.1.0": Arm(950, 47.5), "v2.2.0": Arm(50, 2.5)}),
    # 5% vs 7%, the treatment's counters reset two thirds of the way through (a restarted pod)
    "winner": Planted({"control": Arm(500, 25, revenue=50.0), "treatment": Arm(500, 35, reset_at=400, revenue=80.0)}),
    # 6.4% against 5% over the first half of the window, then as good as the control: the evidence peaks at the
    # half-way look, and the always-valid p-value keeps that minimum
    "faded": Planted({"control": Arm(500, 25), "treatment": Arm(500, 32, fade_at=360, late_conversions=25)}),
    "loser": Planted({"control": Arm(500, 25), "treatment": Arm(500, 17.5)}),
    # 5% vs 5.1% at 95/5: nowhere near enough samples
    "underpowered": Planted({"control": Arm(950, 47.5), "treatment": Arm(50, 2.55)}),
    # each of two treatments against the control, Bonferroni at 0.025
    "three-arms": Planted({"control": Arm(400, 20), "a": Arm(400, 20.4), "b": Arm(400, 30)}),
    "bare-names": Planted({"control": Arm(500, 25), "treatment": Arm(500, 35)}, bare=True),
    # bad input: a variant whose counter never moves, and no conversions anywhere
    # serving metrics with no failed request at all: error rate 0, not unknown
    "clean-canary": Planted({"v3.0.0": Arm(500, 25), "v3.1.0": Arm(500, 25)}),
    # conversion even; the prediction logs (below) show the canary failing 2.4% of its requests
    "errors-canary": Planted({"control": Arm(500, 25), "canary": Arm(500, 25.5)}),
    "stalled": Planted({"control": Arm(500, 25), "treatment": Arm(0, 0)}),
    "no-conversions": Planted({"control": Arm(500, 0), "treatment": Arm(500, 0)}),
}
# the guardrail experiment's variants are the versions of the serving metrics: (le -> share of requests)
LATENCY = {"v2.1.0": {"0.05": 0.97, "0.1": 1.0, "0.25": 1.0, "+Inf": 1.0},
           "v2.2.0": {"0.05": 0.5, "0.1": 0.9, "0.25": 1.0, "+Inf": 1.0},
           "v3.0.0": {"0.05": 1.0, "0.1": 1.0, "0.25": 1.0, "+Inf": 1.0},
           "v3.1.0": {"0.05": 1.0, "0.1": 1.0, "0.25": 1.0, "+Inf": 1.0}}
REQUESTS = {"v2.1.0": 1000.0, "v2.2.0": 50.0, "v3.0.0": 500.0, "v3.1.0": 500.0}  # per step
FAILED = {"v2.1.0": 0.0002, "v2.2.0": 0.0002}  # share of 500s; the others have no 500 series


def value(arm_rate: float, n: int, reset_at: int | None) -> float:
    return arm_rate * (n - reset_at if reset_at is not None and n >= reset_at else n)


def openmetrics(end: float) -> str:
    lines = []

    def series(name: str, labels: str, per_step: float, reset_at: int | None = None, at_step: Any = None) -> None:
        for n in range(STEPS + 1):
            v = at_step(n) if at_step else value(per_step, n, reset_at)
            lines.append(f"{name}{{{labels}}} {v} {end - (STEPS - n) * STEP:.3f}")

    for exp, planted in EXPERIMENTS.items():
        suffix = "" if planted.bare else "_total"
        for variant, arm in planted.arms.items():
            labels = f'experiment="{exp}",variant="{variant}"'
            series(f"experiment_samples{suffix}", labels, arm.samples, arm.reset_at)
            series(f"experiment_conversion{suffix}", labels, arm.conversions, at_step=arm.converted)
            if arm.revenue is not None:
                series(f"experiment_revenue{suffix}", labels, arm.revenue, arm.reset_at)
    for version, buckets in LATENCY.items():
        for le, share in buckets.items():
            series("inference_latency_seconds_bucket", f'model="ranker",version="{version}",le="{le}"',
                   REQUESTS[version] * share)
        failed = FAILED.get(version)
        series("inference_requests_total", f'model="ranker",version="{version}",status="200"',
               REQUESTS[version] * (1 - (failed or 0)))
        if failed is not None:
            series("inference_requests_total", f'model="ranker",version="{version}",status="500"',
                   REQUESTS[version] * failed)
    return "\n".join(lines) + "\n# EOF\n"


@dataclass(frozen=True)
class Server:
    url: str
    end: float


@pytest.fixture(scope="session")
def experiments_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    end = float(int((time.time() - 120) // STEP) * STEP)
    with backfilled_prometheus(tmp_path_factory.mktemp("experiments"), openmetrics(end)) as url:
        yield Server(url, end)


# -- the prediction logs of `errors-canary`: per variant, rows in the window and errors among them --------------

LOG_ARMS = {"control": (2000, 1), "canary": (500, 12)}  # (rows, ERROR or TIMEOUT rows)


@dataclass(frozen=True)
class ExperimentLogs:
    rows: list[dict[str, Any]]
    jsonl: Path
    latencies: dict[str, np.ndarray]  # variant -> total_latency_ms of its rows in the window


def log_rows(end: float) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(14)
    at = datetime.fromtimestamp(end, UTC)
    rows, latencies = [], {}
    for variant, (n, errors) in LOG_ARMS.items():
        lat = rng.lognormal(np.log(30 if variant == "control" else 35), 0.4, n)
        latencies[variant] = lat
        offsets = rng.uniform(1, 3599, n)
        for i in range(n):
            status = "SUCCESS" if i >= errors else ("TIMEOUT" if i % 5 == 4 else "ERROR")
            rows.append({"timestamp": (at - timedelta(seconds=float(offsets[i]))).isoformat(),
                         "experiment_id": "errors-canary", "variant_id": variant, "model_id": "ranker",
                         "model_version": "v2", "status": status, "total_latency_ms": float(lat[i])})
    # outside the window, and another experiment: neither may count
    rows.append({"timestamp": (at - timedelta(hours=2)).isoformat(), "experiment_id": "errors-canary",
                 "variant_id": "canary", "model_id": "ranker", "model_version": "v2", "status": "ERROR",
                 "total_latency_ms": 9999.0})
    rows.append({"timestamp": (at - timedelta(minutes=5)).isoformat(), "experiment_id": "logs-only",
                 "variant_id": "a", "model_id": "ranker", "model_version": "v2", "status": "ERROR",
                 "total_latency_ms": 9999.0})
    return rows, latencies


@pytest.fixture(scope="session")
def experiment_logs(experiments_prometheus: Server, tmp_path_factory: pytest.TempPathFactory) -> ExperimentLogs:
    rows, latencies = log_rows(experiments_prometheus.end)
    path = tmp_path_factory.mktemp("experiment-logs") / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ExperimentLogs(rows, path, latencies)


@pytest.fixture(scope="session")
def experiment_postgres(postgres: Any, experiment_logs: ExperimentLogs) -> str:  # noqa: F811
    """The same rows in a table of the session's PostgreSQL; the URL names it with ?table=."""
    columns = ("timestamp", "experiment_id", "variant_id", "model_id", "model_version", "status",
               "total_latency_ms")
    with postgres.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS experiment_rows")
        conn.execute('CREATE TABLE experiment_rows ("timestamp" timestamptz NOT NULL, experiment_id text, '
                     "variant_id text, model_id text, model_version text, status text, "
                     "total_latency_ms double precision)")
        quoted = ", ".join(f'"{c}"' for c in columns)
        with conn.cursor() as cur, cur.copy(f"COPY experiment_rows ({quoted}) FROM STDIN") as copy:
            for r in experiment_logs.rows:
                copy.write_row([r[c] for c in columns])
    return postgres.url + "?table=experiment_rows"
