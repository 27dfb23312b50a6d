"""The high-latency runbook's "where the time goes" step: `trace breakdown` over the incident window, its finding
supporting the causes of the stage that dominates the slowest requests."""

from __future__ import annotations

import numpy as np

from tests.runbook import scenarios
from tests.trace import otlp


def traces_before(at: float, path, queue_ms, forward_ms):
    """200 requests of llm-7b in the 20 minutes before `at`, with these stage times (ms, one per request)."""
    first_ms = (at - 20 * 60 - otlp.T0 / 1e9) * 1000
    documents = [otlp.document(otlp.request(f"{i + 1:x}", first_ms + i * 5000, q, f))
                 for i, (q, f) in enumerate(zip(queue_ms, forward_ms, strict=True))]
    return otlp.write(path, documents)


def walk(cli, server, config, source, expect):
    return cli.json("runbook", "latency", "--no-input", "--at", server.at("healthy"), "--prometheus", server.url,
                    "--config", config, "--model", "llm-7b", "--set", f"trace_source={source}", expect=expect)


def step(report, name):
    return next(s for s in report["steps"] if s["step"] == name)


def test_queue_wait_dominating_the_slowest_requests_points_at_saturation_or_batching(cli, scenario_server,
                                                                                      walk_config, tmp_path):
    rng = np.random.default_rng(3)
    queue = rng.uniform(1, 10, 200)
    queue[-5:] = 400.0  # the slowest requests wait in the queue
    source = traces_before(scenarios.at_of("healthy"), tmp_path / "traces.jsonl", queue, rng.uniform(20, 30, 200))
    report = walk(cli, scenario_server, walk_config, source, expect=1)
    breakdown = step(report, "time_breakdown")
    assert breakdown["verdict"] == "ALERT"
    (finding,) = breakdown["findings"]
    assert "waiting in the queue" in finding["message"] and "saturation or batching" in finding["message"]
    evidence = breakdown["evidence"][0]
    slowest = {r["labels"]["stage"]: r for r in evidence["rows"] if r["labels"]["group"] == "slowest"}
    assert slowest["server.queue_wait"]["labels"]["dominant"] == "yes"
    # the finding supports the causes of a queue, never the model's own (bad_deploy)
    assert {c["cause"] for c in report["causes"]} == {"gpu_saturation", "batch_at_max", "batch_wait_too_long"}


def test_forward_pass_dominating_points_at_the_model_or_its_gpu(cli, scenario_server, walk_config, tmp_path):
    rng = np.random.default_rng(4)
    forward = rng.uniform(20, 30, 200)
    forward[-5:] = 600.0
    source = traces_before(scenarios.at_of("healthy"), tmp_path / "traces.jsonl", rng.uniform(1, 5, 200), forward)
    report = walk(cli, scenario_server, walk_config, source, expect=1)
    (finding,) = step(report, "time_breakdown")["findings"]
    assert "forward pass" in finding["message"] and "the model or its GPU" in finding["message"]
    assert "bad_deploy" in {c["cause"] for c in report["causes"]}


def test_without_a_trace_source_the_step_is_unknown_and_the_walk_still_complete(cli, scenario_server, walk_config):
    report = cli.json("runbook", "latency", "--no-input", "--at", scenario_server.at("healthy"), "--prometheus",
                      scenario_server.url, "--config", walk_config, expect=0)
    breakdown = step(report, "time_breakdown")
    assert breakdown["verdict"] == "UNKNOWN"
    assert "no trace source" in breakdown["evidence"][0]["digest"]
