"""`mlobs runbook latency --no-input` against a real Prometheus: each scenario's first diagnosis, and the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.runbook import scenarios

FAULTS = [s for s in scenarios.SCENARIOS if s != "healthy"]


def walk(cli, server, scenario, config, *args, expect=None):
    return cli.json("runbook", "latency", "--no-input", "--at", server.at(scenario), "--prometheus", server.url,
                    "--config", config, *args, expect=expect)


@pytest.mark.parametrize("scenario", FAULTS)
def test_each_cause_is_the_first_diagnosis_of_its_scenario(cli, scenario_server, walk_config, scenario):
    report = walk(cli, scenario_server, scenario, walk_config, expect=1)
    first = report["causes"][0]
    assert f"{first['cause']}@{first['model']}" == scenarios.EXPECTED[scenario]
    assert report["active_problem"] is True
    assert report["steps"][0]["verdict"] == "ALERT"  # the symptom: p99 over the SLO
    # the best mitigation is one made for the first cause, resolved for its model
    assert report["mitigations"][0]["cause"] == first["cause"]
    assert report["mitigations"][0]["model"] == first["model"]
    # each supporting step is named, and the escalation rule of the seed applies (the incident is 20+ minutes old)
    assert first["steps"] and set(first["steps"]) <= {s["step"] for s in report["steps"]}
    assert report["escalation"]["due"] is True
    assert "page the ML Platform on-call" in report["escalation"]["message"]


def test_exit_zero(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "batch_wait", walk_config, "--exit-zero", expect=0)
    assert report["active_problem"] is True


def test_a_healthy_system_has_no_finding_and_exits_0(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "healthy", walk_config, expect=0)
    assert report["findings"] == [] and report["causes"] == [] and report["mitigations"] == []
    # every step OK but where the time goes: no trace source is configured, so it cannot say (and is optional)
    assert {s["step"]: s["verdict"] for s in report["steps"] if s["verdict"] != "OK"} == {"time_breakdown": "UNKNOWN"}
    assert report["escalation"]["due"] is False
    # no latency alert firing (the healthy day has no ALERTS series): OK, "none firing"
    alerts = next(e for e in report["steps"][0]["evidence"] if e["check"] == "latency_alerts")
    assert alerts["state"] == "ok" and alerts["rows"] == [] and alerts["digest"] == "none firing"
    # metrics this Prometheus has no series of (cAdvisor, node exporter, DCGM) are not collected, never OK,
    # listed with what to install, and not counted against the walk (exit 0)
    saturation = next(s for s in report["steps"] if s["step"] == "saturation")
    states = {e["check"]: e["state"] for e in saturation["evidence"]}
    assert states["pod_cpu"] == "not_collected" and states["gpu_memory"] == "ok"
    missing = {u["metric"]: u for u in report["not_collected"]}
    assert set(missing) == {"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "container_cpu_usage_seconds_total",
                            "container_memory_working_set_bytes", "node_netstat_Tcp_RetransSegs"}
    assert missing["DCGM_FI_DEV_FB_USED"]["install"].startswith("dcgm-exporter")
    assert missing["DCGM_FI_DEV_FB_USED"]["checks"] == ["saturation/dcgm_memory"]
    assert report["complete"] is True


def test_a_healthy_system_lists_what_is_not_collected_in_the_table(cli, scenario_server, walk_config):
    result = cli("runbook", "latency", "--no-input", "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config)
    assert result.exit_code == 0, result.stderr
    assert "Latency alerts firing: OK: none firing" in result.stdout
    assert "Not collected here" in result.stdout and "node_exporter" in result.stdout


def test_a_required_check_without_data_exits_3(cli, scenario_server, walk_config):
    # narrowed to a model that serves nothing: p99 (required) has no data though its metric exists
    report = walk(cli, scenario_server, "healthy", walk_config, "--model", "nosuchmodel", expect=3)
    p99 = next(e for e in report["steps"][0]["evidence"] if e["check"] == "p99")
    assert p99["state"] == "no_data" and p99["required"] is True
    assert report["steps"][0]["verdict"] == "UNKNOWN"


def test_an_unreachable_prometheus_exits_3(cli, walk_config):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli("runbook", "latency", "--no-input", "--prometheus", f"http://127.0.0.1:{port}", "--config",
                 walk_config, "-o", "json")
    assert result.exit_code == 3, result.stderr


def test_the_slo_of_an_llm_comes_from_the_config(cli, scenario_server, walk_config, tmp_path):
    # llm-7b at ~100 ms: within its LLM SLO of 200 ms; over 100 ms if it were not listed as an LLM
    listed = walk(cli, scenario_server, "healthy", walk_config, expect=0)
    p99 = next(e for e in listed["steps"][0]["evidence"] if e["check"] == "p99")
    assert {r["labels"]["model"] for r in p99["rows"]} == {"resnet50", "llm-7b"}
    other = tmp_path / "no-llm.yaml"
    other.write_text(f"runbook:\n  state_dir: {tmp_path / 'w'}\n", encoding="utf-8")
    unlisted = walk(cli, scenario_server, "healthy", other, expect=1)
    assert [f["subject"] for f in unlisted["findings"] if f["check"] == "runbook/symptoms/p99"] == ["llm-7b"]


def test_models_over_the_slo_are_listed_first(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "gpu_memory", walk_config, expect=1)
    p99 = next(e for e in report["steps"][0]["evidence"] if e["check"] == "p99")
    assert [r["labels"]["model"] for r in p99["rows"]] == ["resnet50", "llm-7b"]


def test_model_narrows_every_query(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "gpu_memory", walk_config, "--model", "llm-7b", expect=0)
    models = {r["labels"].get("model") for s in report["steps"] for e in s["evidence"] for r in e["rows"]}
    assert models <= {"llm-7b", None}
    assert report["inputs"]["model"] == "llm-7b"


def test_scope_finds_when_it_started_and_the_deployment(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "bad_deploy", walk_config, expect=1)
    scope = next(s for s in report["steps"] if s["step"] == "scope")
    history = next(e for e in scope["evidence"] if e["check"] == "p99_history")
    row = next(r for r in history["rows"] if r["labels"]["model"] == "llm-7b")
    assert scenarios.at_of("bad_deploy") - 21 * 60 <= row["values"]["crossed_at"] <= scenarios.at_of("bad_deploy")
    messages = [f["message"] for f in scope["findings"]]
    assert any("version v2 first served" in m for m in messages)
    assert any("was loaded at" in m for m in messages)
    assert report["mitigations"][0]["command"] == "kubectl -n ml-serving rollout undo deployment/llm-7b"


def test_scale_out_replicas_come_from_queue_depth_and_throughput(cli, scenario_server, walk_config):
    report = walk(cli, scenario_server, "gpu_memory", walk_config, "--set", "drain_seconds=10", expect=1)
    plan = next(p for p in report["mitigations"] if p["mitigation"] == "scale_out")
    # 4 replicas serve 40 req/s; 400 queued to drain in 10 s: ceil(4 * (40 + 40) / 40) = 8
    assert plan["command"] == "kubectl -n ml-serving scale deployment/resnet50 --replicas=8"
    assert plan["undo"] == "kubectl -n ml-serving scale deployment/resnet50 --replicas=4"
    assert plan["executable"] is True and plan["unresolved"] == []


def test_an_unreachable_prometheus_is_unknown_and_exits_3(cli, walk_config, closed_port):
    result = cli("runbook", "latency", "--no-input", "--prometheus", f"http://127.0.0.1:{closed_port}",
                 "--config", walk_config, "-o", "json")
    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    assert {s["verdict"] for s in report["steps"]} == {"UNKNOWN"}
    assert report["causes"] == [] and report["complete"] is False
    assert "cannot reach prometheus" in result.stderr


def test_the_report_is_a_markdown_timeline(cli, scenario_server, walk_config, tmp_path):
    path = tmp_path / "incident.md"
    result = cli("runbook", "latency", "--no-input", "--at", scenario_server.at("batch_wait"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--report", path)
    assert result.exit_code == 1, result.stderr
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Incident timeline: High latency investigation")
    assert "| time | event | step | detail |" in text and "| conclusion |" in text
    assert "rate(batch_wait_seconds_bucket{ model!=\"\" }[5m])" in text  # each query, resolved
    assert "### 6. Step 3 - batching behaviour — ALERT" in text
    assert "Reduce the batch wait time" in text and "set the batch wait of resnet50 to 50 ms" in text
    assert "shown to run: `kubectl top pods -n ml-serving`" in text


def test_markdown_output(cli, scenario_server, walk_config):
    result = cli("runbook", "latency", "--no-input", "--at", scenario_server.at("data_drift"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "-o", "markdown")
    assert result.exit_code == 1
    assert result.stdout.startswith("# High latency investigation")
    assert "| drift | done | ALERT |" in result.stdout and "## Likely causes" in result.stdout


def test_the_table_shows_evidence_verdicts_causes_and_mitigations(cli, scenario_server, walk_config):
    result = cli("runbook", "latency", "--no-input", "--at", scenario_server.at("gpu_memory"), "--prometheus",
                 scenario_server.url, "--config", walk_config, env={"COLUMNS": "120"})
    assert result.exit_code == 1
    out = result.stdout
    assert "4. Step 2 - resource saturation" in out and "[ALERT]" in out
    assert "GPU 0 serving resnet50 has 97% of its memory in use" in out
    assert "Likely causes" in out and "GPU memory saturation" in out
    assert "command: kubectl -n ml-serving scale deployment/resnet50 --replicas=" in out
    assert "run yourself: nvidia-smi --query-gpu=memory.used,memory.total --format=csv" in out
    assert "\x1b[" not in out  # NO_COLOR and no TTY: plain text


def test_from_alert_fills_the_model(cli, scenario_server, walk_config, tmp_path):
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps({"alerts": [{"labels": {"alertname": "critical_latency_p99", "model_id": "llm-7b"},
                                             "startsAt": "2026-11-05T02:45:00Z"}]}), encoding="utf-8")
    report = walk(cli, scenario_server, "bad_deploy", walk_config, "--from-alert", alert, expect=1)
    assert report["inputs"]["model"] == "llm-7b"
    assert report["causes"][0]["cause"] == "bad_deploy"


def test_drift_compare_runs_when_samples_are_given(cli, scenario_server, walk_config, sample):
    import numpy as np

    rng = np.random.default_rng(7)
    reference = sample("reference.parquet", {"prompt_length": rng.normal(200, 30, 2000),
                                             "temperature": rng.normal(0.7, 0.1, 2000)})
    current = sample("current.parquet", {"prompt_length": rng.normal(420, 60, 2000),
                                         "temperature": rng.normal(0.7, 0.1, 2000)})
    report = walk(cli, scenario_server, "data_drift", walk_config, "--model", "llm-7b", "--set",
                  f"reference={reference}", "--set", f"current={current}", expect=1)
    drift = next(s for s in report["steps"] if s["step"] == "drift")
    compared = next(e for e in drift["evidence"] if e["check"] == "drift_compare")
    assert compared["state"] == "ok" and {r["labels"]["feature"] for r in compared["rows"]} == {
        "prompt_length", "temperature"}
    messages = [f["message"] for f in drift["findings"] if f["check"] == "drift_compare"]
    assert len(messages) == 1 and messages[0].startswith("drift compare: feature prompt_length drifted")
    assert report["causes"][0]["cause"] == "data_drift" and report["causes"][0]["model"] == "llm-7b"
    without = walk(cli, scenario_server, "data_drift", walk_config, expect=1)
    drift = next(s for s in without["steps"] if s["step"] == "drift")
    assert next(e for e in drift["evidence"] if e["check"] == "drift_compare")["state"] == "not_applicable"


def test_a_check_past_its_timeout_is_unknown(cli, walk_config, tmp_path):
    import socket

    from tests.runbook.test_model import GOOD

    runbook = tmp_path / "slow.yaml"
    runbook.write_text(GOOD.replace("        labels: [model]\n", "        labels: [model]\n        timeout: 1s\n", 1),
                       encoding="utf-8")
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        result = cli("runbook", "walk", runbook, "--no-input", "--prometheus", f"http://127.0.0.1:{port}",
                     "--config", walk_config, "-o", "json", env={"MLOBS_PROMETHEUS_TIMEOUT": "3"})
    assert result.exit_code == 3
    evidence = json.loads(result.stdout)["steps"][0]["evidence"][0]
    assert evidence["state"] == "error" and evidence["error"] == "no answer within the check's timeout (1 s)"


def test_the_prediction_logs_and_nvml_add_their_evidence(cli, scenario_server, walk_config, tmp_path):
    """--source reads the log store (latency and its slowest phase, errors, feature shift) and --nvml a recording
    of this node's GPUs (the shared H200 recording under load), through the `logs` and `gpu` domains."""
    import numpy as np

    at = scenarios.at_of("data_drift")
    rng = np.random.default_rng(3)
    lines = []
    for i, t in enumerate(np.sort(rng.uniform(at - 3 * 3600, at - 1, 6000))):
        drifted = t >= at - 40 * 60
        latency = float(rng.normal(420 if drifted else 80, 10))
        record = {"timestamp": datetime.fromtimestamp(t, UTC).isoformat(), "model_id": "llm-7b",
                  "model_version": "v1", "status": "TIMEOUT" if drifted and i % 20 == 0 else "SUCCESS",
                  "total_latency_ms": latency, "inference_ms": latency * 0.8, "queue_wait_ms": latency * 0.1,
                  "feature_values": {"prompt_length": float(rng.normal(420 if drifted else 200, 30)),
                                     "temperature": float(rng.normal(0.7, 0.1))}}
        lines.append(json.dumps(record))
    logs = tmp_path / "predictions.jsonl"
    logs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recording = Path(__file__).resolve().parents[1] / "gpu" / "fixtures" / "nvml-load.json"
    report = walk(cli, scenario_server, "data_drift", walk_config, "--model", "llm-7b", "--source", logs,
                  "--nvml", recording, expect=1)
    findings: dict[str, list[str]] = {}
    for f in report["findings"]:
        findings.setdefault(f["check"], []).append(f["message"])
    (latency,) = findings["runbook/scope/log_latency"]
    assert latency.startswith("the prediction logs agree: p99 4") and latency.endswith("is inference_ms")
    assert findings["runbook/drift/log_shift"] == [m for m in findings["runbook/drift/log_shift"]
                                                   if m.startswith("logs feature-shift: prompt_length has PSI")]
    assert findings["runbook/immediate/log_errors"] == ["the prediction logs show 0% errors and 5% timeouts"]
    assert "NVML: GPU 0 is 99% busy (alert over 95%)" in findings["runbook/saturation/nvml"]
    causes = [(c["cause"], c["model"]) for c in report["causes"]]
    assert causes[0] == ("data_drift", "llm-7b") and ("gpu_saturation", "llm-7b") in causes
