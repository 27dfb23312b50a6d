"""Which metrics explain an empty answer (not collected here), by PromQL's semantics of each operator."""

from __future__ import annotations

import pytest

from mlobs_cli.runbook.collected import absent_metrics, exporter

HAVE = frozenset({"up", "inference_requests_total"})


@pytest.mark.parametrize(("query", "absent"), [
    ("up", ()),
    ("DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", ("DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED")),
    ("up / x", ("x",)),  # arithmetic needs both sides
    ("up or x", ()),  # `or` answers with either side
    ("y or x", ("x", "y")),
    ("up unless x", ()),  # `unless` keeps the left side
    ("x unless up", ("x",)),
    ("absent(x)", ()),  # answers precisely because x is absent
    ("vector(0)", ()),
    ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))", ("x_bucket",)),
    ("topk(8, sum by (pod) (rate(container_cpu_usage_seconds_total[5m])))", ("container_cpu_usage_seconds_total",)),
    ("0 * x", ("x",)),
])
def test_absent_metrics(query, absent):
    assert absent_metrics(query, HAVE) == absent


def test_exporters():
    assert exporter("DCGM_FI_DEV_FB_USED").startswith("dcgm-exporter")
    assert exporter("kube_pod_info") == "kube-state-metrics"
    assert exporter("node_netstat_Tcp_RetransSegs") == "node_exporter"
    assert "model server" in exporter("gpu_utilization_percent")  # a metric of the seed's catalogue
