"""The metrics catalogue against the seed's table, typed out here by hand as the independent reference."""

from __future__ import annotations

import pytest

from mlobs_cli import catalogue

# The seed's "Core Metrics Catalog": name, type, labels (with the seed's `quantile` removed from histograms).
SEED = {
    "inference_requests_total": ("counter", ("model", "version", "status")),
    "inference_requests_rate": ("gauge", ("model", "version")),
    "inference_latency_seconds": ("histogram", ("model", "version")),
    "batch_wait_seconds": ("histogram", ("model",)),
    "inference_errors_total": ("counter", ("model", "error_type")),
    "gpu_utilization_percent": ("gauge", ("gpu_id", "model")),
    "gpu_memory_used_bytes": ("gauge", ("gpu_id",)),
    "gpu_memory_allocated_bytes": ("gauge", ("gpu_id", "model")),
    "batch_size": ("histogram", ("model",)),
    "request_queue_depth": ("gauge", ("model",)),
    "model_load_seconds": ("histogram", ("model", "version")),
    "feature_psi": ("gauge", ("model", "feature")),
    "prediction_distribution": ("histogram", ("model", "class")),
    "experiment_samples": ("counter", ("experiment", "variant")),
    "experiment_conversion": ("counter", ("experiment", "variant")),
}


def test_every_seed_metric_with_its_type_and_labels():
    cat = catalogue.load()
    for name, (typ, labels) in SEED.items():
        metric = cat.get(name)
        assert (metric.type, metric.labels) == (typ, labels), name
    # the one addition: the denominator of the seed's GPU memory threshold and alert
    assert {m.name for m in cat.metrics} - set(SEED) == {"gpu_memory_total_bytes"}


@pytest.mark.parametrize("name", [n for n, (t, _) in SEED.items() if t == "histogram"])
def test_histograms_have_le_on_buckets_and_no_quantile(name):
    metric = catalogue.load().get(name)
    assert "quantile" not in metric.labels
    assert metric.series_labels(f"{name}_bucket")[-1] == "le"
    assert "le" not in metric.series_labels(f"{name}_count")
    assert catalogue.load().get(f"{name}_sum") is metric


@pytest.mark.parametrize(
    ("name", "observed", "crossed"),
    [
        pytest.param("inference_latency_seconds", 0.1, False, id="p99 100ms is not over"),
        pytest.param("inference_latency_seconds", 0.1001, True, id="p99 over 100ms"),
        pytest.param("batch_wait_seconds", 0.051, True, id="batch wait over 50ms"),
        pytest.param("request_queue_depth", 101, True, id="queue over 100"),
        pytest.param("feature_psi", 0.2, False, id="psi 0.2 is not over"),
        pytest.param("model_load_seconds", 61, True, id="load over 60s"),
        pytest.param("batch_size", 3.9, True, id="average batch under 4"),
    ],
)
def test_thresholds(name, observed, crossed):
    (threshold,) = catalogue.load().get(name).thresholds
    assert threshold.crossed(observed) is crossed


def test_gpu_utilization_has_both_bounds():
    low, high = catalogue.load().get("gpu_utilization_percent").thresholds
    assert (low.op, low.value, low.level) == ("<", 30, "warn")
    assert (high.op, high.value, high.level) == (">", 95, "alert")


def test_unknown_metric():
    assert catalogue.load().get("nope_total") is None
