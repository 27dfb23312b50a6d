"""`mlobs trace show` and bad input: one line on stderr, the documented exit code, nothing modified."""

from __future__ import annotations

import json

import pytest

from tests.trace import otlp

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def traces(tmp_path):
    docs = [otlp.document(otlp.request(TRACE, 0, queue_ms=12, forward_ms=30)),
            otlp.document(otlp.request("abc", 1000, queue_ms=5, forward_ms=20))]
    return otlp.write(tmp_path / "traces.jsonl", docs)


def test_show_json_has_the_tree_self_times_and_the_critical_path(cli, traces):
    report = cli.json("trace", "show", TRACE, "--source", traces, expect=0)
    spans = {s["name"]: s for s in report["spans"]}
    assert report["trace_id"] == TRACE and report["duration_ms"] == pytest.approx(47.0)
    assert spans["gateway.request"]["self_ms"] == pytest.approx(0.5) and spans["gateway.request"]["depth"] == 0
    assert spans["gpu.forward_pass"]["self_ms"] == pytest.approx(30.0)
    assert spans["gateway.request"]["attributes"] == {"model_id": "llm-7b"}
    assert [p["name"] for p in report["critical_path"]] == [
        "gateway.auth", "router.ab_decision", "server.queue_wait", "server.preprocess", "gpu.forward_pass",
        "server.postprocess", "gateway.request"]


def test_show_table_without_a_tty_or_colour(cli, traces):
    result = cli("trace", "show", TRACE.upper(), "--source", traces, env={"NO_COLOR": "1", "COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    assert "gpu.forward_pass" in result.stdout and "critical path: gateway.auth" in result.stdout
    assert "\x1b[" not in result.stdout


def test_a_short_jaeger_id_is_padded(cli, tmp_path):
    path = otlp.write(tmp_path / "t.jsonl", [otlp.document(otlp.request("00f067aa0ba902b7", 0, 1, 2))])
    assert cli.json("trace", "show", "f067aa0ba902b7", "--source", path, expect=0)["trace_id"] == \
        "00f067aa0ba902b7".rjust(32, "0")


@pytest.mark.parametrize("args, message", [
    pytest.param(["show", "ffff"], "not found in", id="unknown trace id"),
    pytest.param(["show", "xyz"], "expected up to 32 hexadecimal digits", id="not hex"),
    pytest.param(["show"], "give a TRACE_ID or --request-id", id="no id"),
    pytest.param(["breakdown", "--slowest", "80%"], "at most 50", id="slowest too large"),
    pytest.param(["breakdown", "--slowest", "nan"], "expected a percentage", id="slowest not a number"),
    pytest.param(["compare", "ffff"], "not found in", id="compare unknown trace"),
])
def test_bad_input_is_one_line_and_exit_2(cli, traces, args, message):
    before = traces.read_bytes()
    result = cli("trace", *args, "--source", traces)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert traces.read_bytes() == before


def test_no_source_is_a_config_error(cli):
    result = cli("trace", "show", TRACE)
    assert result.exit_code == 2 and "no trace source" in result.stderr


def test_malformed_lines_are_named_and_the_rest_read(cli, tmp_path):
    good = json.dumps(otlp.document(otlp.request(TRACE, 0, queue_ms=12, forward_ms=30)))
    path = tmp_path / "t.jsonl"
    path.write_text(good + "\n" + '{"resourceSpans": [ {broken ' + TRACE + "\n" + good[:60] + "\n",
                    encoding="utf-8")
    result = cli("trace", "show", TRACE, "--source", path, "-o", "json")
    assert result.exit_code == 3
    assert "line 2 holding the trace: not OTLP JSON" in result.stderr
    assert len(json.loads(result.stdout)["spans"]) == 7
    result = cli("trace", "breakdown", "--source", path, "--from", "2026-11-01", "--to", "2026-12-31", "-o", "json")
    assert result.exit_code == 3 and "malformed JSON on lines 2, 3" in result.stderr
    assert json.loads(result.stdout)["groups"][0]["traces"] == 1


def test_spans_without_times_are_left_out_and_said(cli, tmp_path):
    doc = otlp.document(otlp.request(TRACE, 0, queue_ms=12, forward_ms=30))
    del doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["endTimeUnixNano"]
    path = otlp.write(tmp_path / "t.jsonl", [doc])
    result = cli("trace", "breakdown", "--source", path, "--from", "2026-11-01", "--to", "2026-12-31")
    assert result.exit_code == 3 and "1 spans without a start or end time" in result.stderr
    show = cli("trace", "show", TRACE, "--source", path)
    assert show.exit_code == 3 and "not OTLP JSON" in show.stderr


def test_the_request_id_is_looked_up_in_the_prediction_logs(cli, traces, tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps({"timestamp": "2026-11-30T10:00:00Z", "request_id": "req-42", "trace_id": TRACE,
                                "model_id": "llm-7b", "status": "SUCCESS", "total_latency_ms": 47.0}) + "\n",
                    encoding="utf-8")
    env = {"MLOBS_LOG_SOURCE": str(logs)}
    result = cli("trace", "show", "--request-id", "req-42", "--source", traces, "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["trace_id"] == TRACE and report["request_id"] == "req-42"
    missing = cli("trace", "show", "--request-id", "req-0", "--source", traces, env=env)
    assert missing.exit_code == 2 and "not in the prediction logs" in missing.stderr


def test_a_cycle_in_a_file_is_reported_not_a_hang(cli, tmp_path):
    spans = otlp.request(TRACE, 0, queue_ms=12, forward_ms=30)
    spans[0]["parent"] = "a2"  # the root's parent is its own child
    path = otlp.write(tmp_path / "t.jsonl", [otlp.document(spans)])
    report = cli.json("trace", "show", TRACE, "--source", path, expect=0)
    assert any("cycle" in p for p in report["problems"]) and len(report["spans"]) == 7
