"""Write examples/experiments.om: the experiment counters and serving metrics of one day (OpenMetrics text, as
`promtool tsdb create-blocks-from openmetrics` reads it), for `mlobs experiment` (the README starts a Prometheus
over it).

- ranker-canary: the design's experiment panel. Control v2.1.0 at 95% (142,567 samples, 5.23% conversion) against
  treatment v2.2.0 at 5% (7,503 samples, 5.41%), with revenue per variant, and the latency histogram and request
  counter of each version (p99 about 78 and 82 ms, errors 0.02% and 0.03%).
- search-rerank: a 50/50 test whose router sent 51.5% of the traffic to the control: a sample-ratio mismatch.

Every series is sampled every 5 minutes from 2025-01-08T00:00Z to 2025-01-09T00:00Z. Deterministic: rerunning
rewrites the same file.
    python examples/make_experiment.py
"""

from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2025, 1, 8, tzinfo=UTC).timestamp()
STEP = 300
STEPS = 288  # one day

# experiment -> variant -> (samples, conversions, revenue) over the day
EXPERIMENTS = {
    "ranker-canary": {"v2.1.0": (142_567, 7_456, 1_183_306.1), "v2.2.0": (7_503, 406, 63_775.5)},
    "search-rerank": {"control": (51_500, 2_575, None), "rerank": (48_500, 2_474, None)},
}
# version -> share of requests under each `le` (p99 interpolates between 50 and 100 ms), share of 500s
LATENCY = {"v2.1.0": ({"0.05": 0.9785, "0.1": 0.999, "0.25": 1.0, "+Inf": 1.0}, 0.0002),
           "v2.2.0": ({"0.05": 0.974, "0.1": 0.999, "0.25": 1.0, "+Inf": 1.0}, 0.0003)}


def main() -> None:
    lines = []

    def series(name: str, labels: str, total: float, integer: bool = True) -> None:
        for n in range(STEPS + 1):
            value = total * n / STEPS
            lines.append(f"{name}{{{labels}}} {round(value) if integer else round(value, 2)} {START + n * STEP:.0f}")

    for experiment, variants in EXPERIMENTS.items():
        for variant, (samples, conversions, revenue) in variants.items():
            labels = f'experiment="{experiment}",variant="{variant}"'
            series("experiment_samples_total", labels, samples)
            series("experiment_conversion_total", labels, conversions)
            if revenue is not None:
                series("experiment_revenue_total", labels, revenue, integer=False)
    for version, (buckets, errors) in LATENCY.items():
        requests = EXPERIMENTS["ranker-canary"][version][0]
        for le, share in buckets.items():
            series("inference_latency_seconds_bucket", f'model="ranker",version="{version}",le="{le}"',
                   requests * share)
        series("inference_requests_total", f'model="ranker",version="{version}",status="200"',
               requests * (1 - errors))
        series("inference_requests_total", f'model="ranker",version="{version}",status="500"', requests * errors)
    (HERE / "experiments.om").write_text("\n".join(lines) + "\n# EOF\n", encoding="utf-8")


if __name__ == "__main__":
    main()
