"""A deterministic serving history for the metrics views, written as OpenMetrics: a plain module, so any test or
benchmark can build it (`Scenario(end).openmetrics()`) and read back the exact samples it wrote (`select`).

Every series is sampled every STEP seconds on a grid that ends exactly at `end`, so a rate over a window of whole
steps ending at a grid time has a sample at both edges: Prometheus then extrapolates nothing and VictoriaMetrics
uses the same two samples, and rate = (v(t) - v(t - w)) / w exactly on both.

What happens (times relative to `end`):
- five model versions on four models, requests following a daily curve over the last 26 h;
- a latency incident on llm-7b v2.1.0 in the last 20 min (p99 ~0.49 s instead of ~0.098 s), its queue at 150 and
  its GPUs at 97% utilization;
- an error spike on fraud-det in the last 15 min (8% of requests fail instead of 0.05%);
- GPU memory saturation on gpu-3 (fraud-det): from 60% an hour ago to 95% in the last 30 min; one of fraud-det's
  two replicas down for the last 30 min;
- embedding's GPU share at 20% utilization, cv-resnet batching 3 requests a batch; a canary llm-7b v2.2.0 that
  started loading only in the last hour; llm-7b loads take 75 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

STEP = 30  # seconds between samples
LONG = 26 * 3600  # inference_requests_total covers [end - 26h, end]: a 24 h sparkline and its first 5m rate
SHORT = 3 * 3600  # everything else covers [end - 3h, end]: now and an hour earlier, with 1 h load windows
INCIDENT = 20 * 60  # the latency incident: the last 20 minutes
SPIKE = 15 * 60  # the error spike: the last 15 minutes
OUTAGE = 30 * 60  # a replica down, GPU memory saturated: the last 30 minutes
LOAD_EVERY = 15 * 60  # a model (re)loads every 15 minutes

LATENCY_LE = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)
NORMAL_LATENCY = (0.30, 0.80, 0.998, 1.0, 1.0, 1.0, 1.0, 1.0)  # cumulative shares by LATENCY_LE
FAST_LATENCY = (0.60, 0.95, 0.999, 1.0, 1.0, 1.0, 1.0, 1.0)
INCIDENT_LATENCY = (0.05, 0.20, 0.60, 0.90, 0.995, 1.0, 1.0, 1.0)
BATCH_LE = (1, 2, 4, 8, 16, 32, math.inf)
WAIT_LE = (0.005, 0.01, 0.025, 0.05, 0.1, math.inf)
NORMAL_WAIT = (0.40, 0.80, 0.97, 0.995, 1.0, 1.0)
INCIDENT_WAIT = (0.05, 0.20, 0.50, 0.90, 0.995, 1.0)
LOAD_LE = (5, 15, 30, 60, 120, 300, math.inf)
GIB = 2**30
GPU_TOTAL = 80 * GIB


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    rps: float  # requests per second at the daily mean
    replicas: int
    latency: tuple[float, ...] = NORMAL_LATENCY
    load_seconds: float = 12.0
    loads_since: float = SHORT  # seconds before `end` the model started loading


@dataclass(frozen=True)
class ModelSpec:
    name: str
    batch_avg: float
    gpus: tuple[str, ...]
    utilization: float  # percent, on each of its GPUs
    queue: float
    error_ratio: float = 0.0005


@dataclass(frozen=True)
class Gpu:
    gpu_id: str
    instance: str
    used: float  # share of memory used
    saturates: bool = False  # up to 95% over the last hour, reached OUTAGE ago


VERSIONS = (
    Version("llm-7b", "v2.1.0", 120.0, 4, load_seconds=75.0),
    Version("llm-7b", "v2.2.0", 12.0, 1, load_seconds=75.0, loads_since=3600 - STEP),
    Version("cv-resnet", "v1.5.2", 60.0, 2, FAST_LATENCY),
    Version("embedding", "v3.0.0", 25.0, 2, FAST_LATENCY),
    Version("fraud-det", "v2.2.0", 2.0, 2),
)
MODELS = (
    ModelSpec("llm-7b", 8.0, ("gpu-0", "gpu-1"), 72.0, 20.0),
    ModelSpec("cv-resnet", 3.0, ("gpu-2",), 65.0, 4.0),
    ModelSpec("embedding", 16.0, ("gpu-2",), 20.0, 2.0),
    ModelSpec("fraud-det", 6.0, ("gpu-3",), 40.0, 1.0),
)
GPUS = (Gpu("gpu-0", "node-a", 0.72), Gpu("gpu-1", "node-a", 0.85), Gpu("gpu-2", "node-a", 0.58),
        Gpu("gpu-3", "node-b", 0.60, saturates=True))


def daily(age: np.ndarray) -> np.ndarray:
    """Traffic over the day, by seconds before `end` (not the clock, so every run tells the same story): 1.4 x the
    mean 6 h before the end, 0.6 x 18 h before, and falling at the end (about 10% below an hour earlier)."""
    return 1.0 + 0.4 * np.sin(2 * np.pi * age / 86400)


def synthetic(n: int) -> tuple[tuple[Version, ...], tuple[ModelSpec, ...], tuple[Gpu, ...]]:
    """n healthy models of one version each, one GPU each: the benchmark's fleet."""
    versions = tuple(Version(f"model-{i:02d}", "v1", 10.0 + i, 2) for i in range(n))
    models = tuple(ModelSpec(f"model-{i:02d}", 8.0, (f"gpu-{i}",), 60.0, 5.0) for i in range(n))
    gpus = tuple(Gpu(f"gpu-{i}", "node-a", 0.5) for i in range(n))
    return versions, models, gpus


Labels = tuple[tuple[str, str], ...]


@dataclass
class Scenario:
    """The samples of every series, generated for `end` (Unix seconds; a multiple of STEP is not needed)."""

    end: float
    versions: tuple[Version, ...] = VERSIONS
    models: tuple[ModelSpec, ...] = MODELS
    gpus: tuple[Gpu, ...] = GPUS
    series: dict[tuple[str, Labels], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._generate()

    # -- reading back -------------------------------------------------------------------------------------------

    def select(self, name: str, **matchers: str) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """(labels, times, values) of every series `name` whose labels equal `matchers`."""
        for (n, labels), (t, v) in self.series.items():
            d = dict(labels)
            if n == name and all(d.get(k) == val for k, val in matchers.items()):
                yield d, t, v

    def openmetrics(self) -> str:
        """Every series whole, in increasing time, seconds (not ms), then `# EOF`: what promtool and
        VictoriaMetrics both import."""
        lines = []
        for (name, labels), (times, values) in self.series.items():
            head = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
            lines.extend(f"{head} {v!r} {t:.3f}" for t, v in zip(times.tolist(), values.tolist(), strict=True))
        return "\n".join(lines) + "\n# EOF\n"

    # -- generating ---------------------------------------------------------------------------------------------

    def _grid(self, span: float) -> np.ndarray:
        return self.end - STEP * np.arange(int(span // STEP), -1, -1, dtype=np.float64)

    def _add(self, name: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray) -> None:
        self.series[name, tuple(sorted(labels.items()))] = (times, np.asarray(values, dtype=np.float64))

    def _counter(self, name: str, labels: dict[str, str], times: np.ndarray, increments: np.ndarray) -> None:
        # the first sample is the counter before this history: 1000 of everything, never a reset
        self._add(name, labels, times, 1000.0 + np.concatenate([[0.0], np.cumsum(increments[1:])]))

    def _histogram(self, name: str, labels: dict[str, str], le: tuple[float, ...], times: np.ndarray,
                   counts: np.ndarray, cdf: np.ndarray, mean: np.ndarray) -> None:
        """`counts` observations a step, their cumulative shares by `le` a step (steps x buckets)."""
        for i, bound in enumerate(le):
            text = "+Inf" if math.isinf(bound) else repr(float(bound))
            self._counter(f"{name}_bucket", {**labels, "le": text}, times, counts * cdf[:, i])
        self._counter(f"{name}_count", labels, times, counts)
        self._counter(f"{name}_sum", labels, times, counts * mean)

    def _generate(self) -> None:
        long, short = self._grid(LONG), self._grid(SHORT)
        age_long, age = self.end - long, self.end - short  # seconds before end
        errors: dict[str, np.ndarray] = {}
        requests_by_model: dict[str, np.ndarray] = {}
        for v in self.versions:
            spec = next(m for m in self.models if m.name == v.model)
            labels = {"model": v.model, "version": v.version}
            spiking = spec.name == "fraud-det"

            def ratio(age_: np.ndarray, spec: ModelSpec = spec, spiking: bool = spiking) -> np.ndarray:
                return np.where(spiking & (age_ < SPIKE), 0.08, spec.error_ratio)

            total = v.rps * daily(age_long) * STEP
            self._counter("inference_requests_total", {**labels, "status": "500"}, long, total * ratio(age_long))
            self._counter("inference_requests_total", {**labels, "status": "200"}, long,
                          total * (1 - ratio(age_long)))
            count = v.rps * daily(age) * STEP
            requests_by_model[v.model] = requests_by_model.get(v.model, 0) + count
            errors[v.model] = errors.get(v.model, 0) + count * ratio(age)
            incident = (v.model, v.version) == ("llm-7b", "v2.1.0")
            cdf = np.where((incident & (age < INCIDENT))[:, None], INCIDENT_LATENCY, v.latency)
            self._histogram("inference_latency_seconds", labels, LATENCY_LE, short, count, cdf,
                            np.where(incident & (age < INCIDENT), 0.2, 0.045))
            loads = ((np.round(age) % LOAD_EVERY) == 0) & (age < v.loads_since)
            self._histogram("model_load_seconds", labels, LOAD_LE, short, loads.astype(float),
                            np.tile([float(v.load_seconds <= b) for b in LOAD_LE], (len(short), 1)),
                            np.full(len(short), v.load_seconds))
            for r in range(v.replicas):
                down = spiking and r == 1
                self._add("up", {**labels, "job": "model-server", "instance": f"{v.model}-{v.version}-{r}"}, short,
                          np.where(down & (age < OUTAGE), 0.0, 1.0))
        for m in self.models:
            incident = m.name == "llm-7b"
            hot = incident & (age < INCIDENT)
            for share, error_type in ((0.7, "timeout"), (0.3, "internal")):
                self._counter("inference_errors_total", {"model": m.name, "error_type": error_type}, short,
                              errors[m.name] * share)
            batches = requests_by_model[m.name] / m.batch_avg
            self._histogram("batch_size", {"model": m.name}, BATCH_LE, short, batches,
                            np.tile([float(m.batch_avg <= b) for b in BATCH_LE], (len(short), 1)),
                            np.full(len(short), m.batch_avg))
            self._histogram("batch_wait_seconds", {"model": m.name}, WAIT_LE, short, batches,
                            np.where(hot[:, None], INCIDENT_WAIT, NORMAL_WAIT), np.where(hot, 0.03, 0.008))
            self._add("request_queue_depth", {"model": m.name}, short,
                      np.where(hot, 150.0, m.queue + np.round(3 * np.sin(age / 600))))
            for gpu_id in m.gpus:
                gpu = next(g for g in self.gpus if g.gpu_id == gpu_id)
                self._add("gpu_utilization_percent", {"gpu_id": gpu_id, "instance": gpu.instance, "model": m.name},
                          short, np.where(hot, 97.0, m.utilization))
        for gpu in self.gpus:
            labels = {"gpu_id": gpu.gpu_id, "instance": gpu.instance}
            used = np.full(len(short), gpu.used)
            if gpu.saturates:
                used = np.clip(gpu.used + (0.95 - gpu.used) * (3600 - age) / (3600 - OUTAGE), gpu.used, 0.95)
            self._add("gpu_memory_total_bytes", labels, short, np.full(len(short), float(GPU_TOTAL)))
            self._add("gpu_memory_used_bytes", labels, short, np.round(used * GPU_TOTAL))
            tenants = [m.name for m in self.models if gpu.gpu_id in m.gpus]
            for name in tenants:
                self._add("gpu_memory_allocated_bytes", {**labels, "model": name}, short,
                          np.round(used * GPU_TOTAL / len(tenants)))
