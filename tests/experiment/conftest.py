"""A real Prometheus backfilled with planted experiments, one per verdict and one per bad input: every counter is
sampled every 15 s over the 2 h before the scenario's end, so a 1 h increase at the end spans 240 steps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import backfilled_prometheus

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
    "loser": Planted({"control": Arm(500, 25), "treatment": Arm(500, 17.5)}),
    # 5% vs 5.1% at 95/5: nowhere near enough samples
    "underpowered": Planted({"control": Arm(950, 47.5), "treatment": Arm(50, 2.55)}),
    # each of two treatments against the control, Bonferroni at 0.025
    "three-arms": Planted({"control": Arm(400, 20), "a": Arm(400, 20.4), "b": Arm(400, 30)}),
    "bare-names": Planted({"control": Arm(500, 25), "treatment": Arm(500, 35)}, bare=True),
    # bad input: a variant whose counter never moves, and no conversions anywhere
    "stalled": Planted({"control": Arm(500, 25), "treatment": Arm(0, 0)}),
    "no-conversions": Planted({"control": Arm(500, 0), "treatment": Arm(500, 0)}),
}
# the guardrail experiment's variants are the versions of the serving metrics: (le -> share of requests)
LATENCY = {"v2.1.0": {"0.05": 0.97, "0.1": 1.0, "0.25": 1.0, "+Inf": 1.0},
           "v2.2.0": {"0.05": 0.5, "0.1": 0.9, "0.25": 1.0, "+Inf": 1.0}}
REQUESTS = {"v2.1.0": 1000.0, "v2.2.0": 50.0}  # per step; 0.02% of them 500s


def value(arm_rate: float, n: int, reset_at: int | None) -> float:
    return arm_rate * (n - reset_at if reset_at is not None and n >= reset_at else n)


def openmetrics(end: float) -> str:
    lines = []

    def series(name: str, labels: str, per_step: float, reset_at: int | None = None) -> None:
        for n in range(STEPS + 1):
            lines.append(f"{name}{{{labels}}} {value(per_step, n, reset_at)} {end - (STEPS - n) * STEP:.3f}")

    for exp, planted in EXPERIMENTS.items():
        suffix = "" if planted.bare else "_total"
        for variant, arm in planted.arms.items():
            labels = f'experiment="{exp}",variant="{variant}"'
            series(f"experiment_samples{suffix}", labels, arm.samples, arm.reset_at)
            series(f"experiment_conversion{suffix}", labels, arm.conversions, arm.reset_at)
            if arm.revenue is not None:
                series(f"experiment_revenue{suffix}", labels, arm.revenue, arm.reset_at)
    for version, buckets in LATENCY.items():
        for le, share in buckets.items():
            series("inference_latency_seconds_bucket", f'model="ranker",version="{version}",le="{le}"',
                   REQUESTS[version] * share)
        series("inference_requests_total", f'model="ranker",version="{version}",status="200"',
               REQUESTS[version] * 0.9998)
        series("inference_requests_total", f'model="ranker",version="{version}",status="500"',
               REQUESTS[version] * 0.0002)
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
