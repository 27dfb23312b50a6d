"""The incidents of the high-latency runbook as Prometheus history: one scenario per cause, and a healthy one.

Each scenario is 2.5 hours of samples (every 30 s) ending at its own time `at`; the scenarios sit a day apart in
one backfilled Prometheus, so a walk picks one with `--at`. Two models serve: `resnet50` (SLO 100 ms) and `llm-7b`
(an LLM: SLO 200 ms, with `runbook.llm_models: [llm-7b]`). Every number is chosen so that exactly one cause is the
first diagnosis:

| scenario | what happens | the diagnosis mlobs must reach first |
|---|---|---|
| gpu_memory | resnet50's GPU fills to 97 % memory 25 min before `at`; its queue grows; p99 ~200 ms | gpu_memory_saturation@resnet50 |
| batch_at_max | resnet50's batches sit at the maximum (32) and its queue grows | batch_at_max@resnet50 |
| batch_wait | resnet50's batches average 2 requests and wait ~100 ms | batch_wait_too_long@resnet50 |
| bad_deploy | llm-7b v2 is loaded and serves from 20 min before `at`; p99 ~500 ms | bad_deploy@llm-7b |
| data_drift | llm-7b's `prompt_length` drifts (PSI 0.35) 40 min before `at`, as p99 jumps | data_drift@llm-7b |
| healthy | nothing | no finding, exit 0 |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

STEP = 30.0
SPAN = 2.5 * 3600
BASE = datetime(2026, 11, 2, 3, 0, tzinfo=UTC).timestamp()  # `at` of the first scenario
SCENARIOS = ("gpu_memory", "batch_at_max", "batch_wait", "bad_deploy", "data_drift", "healthy")
EXPECTED = {
    "gpu_memory": "gpu_memory_saturation@resnet50",
    "batch_at_max": "batch_at_max@resnet50",
    "batch_wait": "batch_wait_too_long@resnet50",
    "bad_deploy": "bad_deploy@llm-7b",
    "data_drift": "data_drift@llm-7b",
    "healthy": None,
}
MODELS = ("resnet50", "llm-7b")
GPU = {"resnet50": "0", "llm-7b": "1"}
LATENCY_LE = (0.025, 0.05, 0.1, 0.2, 0.5, 1.0)
BATCH_LE = (1, 2, 4, 8, 16, 32, 64)
WAIT_LE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
FEATURES = ("prompt_length", "age", "country")
GIB = 2**30

Curve = Callable[[float], float]  # seconds relative to `at` (negative: before) -> value


def const(v: float) -> Curve:
    return lambda t: v


def step_at(when: float, before: float, after: float) -> Curve:
    return lambda t: after if t >= when else before


def ramp(start: float, end: float, before: float, after: float) -> Curve:
    """`before` until `start`, then linearly to `after` at `end` (and after it)."""
    def curve(t: float) -> float:
        if t <= start:
            return before
        if t >= end:
            return after
        return before + (after - before) * (t - start) / (end - start)
    return curve


@dataclass
class Model:
    latency: Curve  # the latency of every request (p99 lands at the top of its bucket)
    versions: tuple[tuple[str, float | None], ...] = (("v1", None),)  # (version, serving from; None: always)
    rps: float = 40.0
    queue: Curve = field(default_factory=lambda: const(8))
    gpu_util: Curve = field(default_factory=lambda: const(60))
    gpu_mem: Curve = field(default_factory=lambda: const(0.6))
    batch: Curve = field(default_factory=lambda: const(12))
    wait: Curve = field(default_factory=lambda: const(0.008))
    psi: dict[str, Curve] = field(default_factory=dict)
    loads: tuple[tuple[str, float], ...] = ()  # (version, when loaded)
    replicas: int = 4


def healthy(model: str) -> Model:
    return Model(latency=const(0.04 if model == "resnet50" else 0.15))  # llm-7b: 199 ms, under its SLO of 200


def models(scenario: str) -> dict[str, Model]:
    m = {name: healthy(name) for name in MODELS}
    minute = 60.0
    if scenario == "gpu_memory":
        m["resnet50"] = Model(latency=step_at(-25 * minute, 0.04, 0.15), gpu_mem=ramp(-35 * minute, -25 * minute, 0.7,
                              0.97), queue=ramp(-25 * minute, 0, 10, 400), gpu_util=const(88))
    elif scenario == "batch_at_max":
        m["resnet50"] = Model(latency=step_at(-30 * minute, 0.04, 0.15), batch=step_at(-35 * minute, 12, 32),
                              queue=ramp(-30 * minute, 0, 20, 250), gpu_util=const(90), gpu_mem=const(0.75))
    elif scenario == "batch_wait":
        m["resnet50"] = Model(latency=step_at(-30 * minute, 0.04, 0.15), batch=step_at(-32 * minute, 12, 2),
                              wait=step_at(-32 * minute, 0.008, 0.09), queue=const(5), gpu_util=const(20),
                              gpu_mem=const(0.5))
    elif scenario == "bad_deploy":
        m["llm-7b"] = Model(latency=step_at(-20 * minute, 0.08, 0.4), versions=(("v1", None), ("v2", -20 * minute)),
                            loads=(("v2", -21 * minute),))
    elif scenario == "data_drift":
        m["llm-7b"] = Model(latency=step_at(-40 * minute, 0.08, 0.4),
                            psi={"prompt_length": step_at(-41 * minute, 0.05, 0.35)})
    elif scenario != "healthy":
        raise ValueError(scenario)
    return m


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def samples(scenario: str, at: float) -> dict[str, list[tuple[float, float]]]:
    """Every series of one scenario: name{labels} -> [(time, value)] in increasing time."""
    out: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, labels: str, t: float, value: float) -> None:
        out.setdefault(f"{name}{{{labels}}}", []).append((t, value))

    counters: dict[str, float] = {}

    def bump(key: str, by: float) -> float:
        counters[key] = counters.get(key, 0.0) + by
        return counters[key]

    steps = int(SPAN / STEP)
    for name, model in models(scenario).items():
        gpu = GPU[name]
        for n in range(steps + 1):
            rel = -SPAN + n * STEP
            t = at + rel
            latency = model.latency(rel)
            serving = [v for v, since in model.versions if since is None or rel >= since]
            current = serving[-1]
            for version, since in model.versions:
                if since is not None and rel < since:
                    continue
                share = 1.0 if version == current else 0.0
                done = model.rps * STEP * share
                for le in (*LATENCY_LE, "+Inf"):
                    inside = le == "+Inf" or latency <= le
                    add("inference_latency_seconds_bucket", _labels(model=name, version=version, le=str(le)), t,
                        bump(f"{name}lat{version}{le}", done if inside else 0.0))
                add("inference_latency_seconds_count", _labels(model=name, version=version), t,
                    bump(f"{name}latc{version}", done))
                add("inference_latency_seconds_sum", _labels(model=name, version=version), t,
                    bump(f"{name}lats{version}", done * latency))
                add("inference_requests_total", _labels(model=name, version=version, status="200"), t,
                    bump(f"{name}req{version}", done))
            add("request_queue_depth", _labels(model=name), t, round(model.queue(rel)))
            add("gpu_utilization_percent", _labels(gpu_id=gpu, model=name), t, model.gpu_util(rel))
            add("gpu_memory_total_bytes", _labels(gpu_id=gpu), t, 80 * GIB)
            add("gpu_memory_used_bytes", _labels(gpu_id=gpu), t, round(model.gpu_mem(rel) * 80 * GIB))
            add("gpu_memory_allocated_bytes", _labels(gpu_id=gpu, model=name), t, round(model.gpu_mem(rel) * 76 * GIB))
            size, wait = model.batch(rel), model.wait(rel)
            batches = model.rps * STEP / size
            for le in (*BATCH_LE, "+Inf"):
                add("batch_size_bucket", _labels(model=name, le=str(le)), t,
                    bump(f"{name}bs{le}", batches if le == "+Inf" or size <= le else 0.0))
            add("batch_size_sum", _labels(model=name), t, bump(f"{name}bss", batches * size))
            add("batch_size_count", _labels(model=name), t, bump(f"{name}bsc", batches))
            for le in (*WAIT_LE, "+Inf"):
                add("batch_wait_seconds_bucket", _labels(model=name, le=str(le)), t,
                    bump(f"{name}bw{le}", batches if le == "+Inf" or wait <= le else 0.0))
            add("batch_wait_seconds_sum", _labels(model=name), t, bump(f"{name}bws", batches * wait))
            add("batch_wait_seconds_count", _labels(model=name), t, bump(f"{name}bwc", batches))
            for feature in FEATURES:
                add("feature_psi", _labels(model=name, feature=feature), t, model.psi.get(feature, const(0.04))(rel))
            add("healthy_replicas", _labels(model=name), t, model.replicas)
            for version, _ in model.versions[:1]:
                add("model_load_seconds_count", _labels(model=name, version=version), t, 2)
                add("model_load_seconds_sum", _labels(model=name, version=version), t, 70)
            for version, when in model.loads:
                if rel >= when:
                    add("model_load_seconds_count", _labels(model=name, version=version), t, 2)
                    add("model_load_seconds_sum", _labels(model=name, version=version), t, 84)
                elif rel >= when - 10 * 60:  # the series exists, at 0, before the load
                    add("model_load_seconds_count", _labels(model=name, version=version), t, 0)
                    add("model_load_seconds_sum", _labels(model=name, version=version), t, 0)
            over = latency > (0.2 if name == "llm-7b" else 0.1)
            if over and model.latency(rel - 300) == latency:  # over for 5 minutes: the alert fires
                add("ALERTS", _labels(alertname="high_latency_p99", alertstate="firing", model=name,
                                      severity="warning"), t, 1)
    return out


def at_of(scenario: str) -> float:
    return BASE + SCENARIOS.index(scenario) * 86400


def openmetrics() -> str:
    """All scenarios, each series written whole in increasing time, then `# EOF`."""
    series: dict[str, list[tuple[float, float]]] = {}
    for scenario in SCENARIOS:
        for key, points in samples(scenario, at_of(scenario)).items():
            series.setdefault(key, []).extend(points)
    lines = [f"{key} {value} {t:.3f}" for key, points in series.items() for t, value in sorted(points)]
    return "\n".join(lines) + "\n# EOF\n"
