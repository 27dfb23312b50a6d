"""Answers of the wrong shape: each is a clear exit 3 naming the server (never "nothing firing", never an internal
error). The shapes no real server sends come from conftest.fake_server; label sets a real Prometheus does hold
(labels whose names differ only in case, series without the `model` label) from a real one."""

from __future__ import annotations

import json

import pytest
from metrics_fakes import ok

from tests.conftest import backfilled_prometheus

ALERT = {"labels": {"alertname": "HighLatencyP99", "severity": "warning"}, "annotations": {"summary": "slow"},
         "state": "firing", "activeAt": "2026-01-01T00:00:00Z", "value": "0.2"}


def vector(result: list) -> tuple[int, str]:
    return ok({"resultType": "vector", "result": result})


def matrix(result: list) -> tuple[int, str]:
    return ok({"resultType": "matrix", "result": result})


def one_line_exit_3(result, *words: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.stderr, result.exception)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("data", [{}, {"alerts": None}, {"groups": []}], ids=["no alerts key", "null", "rules"])
def test_a_success_without_alerts_is_not_nothing_firing(cli, fake_server, data):
    url = fake_server(lambda path: ok(data))
    for fmt in ("table", "json"):
        result = cli("alerts", "firing", "--prometheus", url, "-o", fmt)
        one_line_exit_3(result, "not the Prometheus API on /api/v1/alerts")
        assert result.stdout == ""


def test_the_rules_api_without_groups_is_not_no_rules(fake_server):
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.errors import BackendUnavailable

    url = fake_server(lambda path: ok({"alerts": []}))
    with PrometheusClient(url) as client, pytest.raises(BackendUnavailable, match="not the Prometheus API"):
        client.rules()


@pytest.mark.parametrize("alert", [
    pytest.param({**ALERT, "labels": {"alertname": 1}}, id="a label that is a number"),
    pytest.param({**ALERT, "annotations": {"summary": ["x"]}}, id="an annotation that is a list"),
    pytest.param({**ALERT, "activeAt": 5}, id="a time that is a number"),
    pytest.param({**ALERT, "state": {"firing": True}}, id="a state that is an object"),
])
def test_an_alert_of_the_wrong_types_is_exit_3(cli, fake_server, alert):
    url = fake_server(lambda path: ok({"alerts": [alert]}))
    one_line_exit_3(cli("alerts", "firing", "--prometheus", url), "not the Prometheus API")
    am = {**alert, "startsAt": alert["activeAt"], "status": {"state": "active"}}
    url = fake_server(lambda path: (200, json.dumps([am])))
    one_line_exit_3(cli("alerts", "firing", "--alertmanager", url), "alertmanager", "not a list of alerts")


def test_alertmanager_answering_the_prometheus_envelope_is_exit_3(cli, fake_server):
    url = fake_server(lambda path: ok({"alerts": [ALERT]}))
    one_line_exit_3(cli("alerts", "firing", "--alertmanager", url), "not a list of alerts")


LABELLED = [{"metric": {"model": 1, "version": "v1"}, "value": [1795690000, "0.5"]}]


@pytest.mark.parametrize("command", [["metrics", "query", "up"], ["metrics", "summary"], ["dashboard", "--once"]],
                         ids=["metrics query", "metrics summary", "dashboard"])
@pytest.mark.parametrize("answer", [
    pytest.param(lambda path: vector(LABELLED) if "query_range" not in path else matrix(
        [{"metric": {"model": 1}, "values": [[1795690000, "1"]]}]), id="a label value that is a number"),
    pytest.param(lambda path: vector([{"metric": {"model": "a"}, "value": [1e300, "1"]}]) if "query_range" not in path
                 else matrix([{"metric": {"model": "a"}, "values": [[1e300, "1"]]}]), id="a time past year 9999"),
])
def test_samples_of_the_wrong_types_are_exit_3(cli, fake_server, command, answer):
    url = fake_server(answer)
    for fmt in ("table", "json"):
        one_line_exit_3(cli(*command, "--prometheus", url, "-o", fmt), "not the Prometheus API")


@pytest.mark.parametrize("command", [["metrics", "summary"], ["dashboard", "--once"]], ids=["summary", "dashboard"])
def test_a_union_answered_without_its_query_label_is_exit_3(cli, fake_server, command):
    """The views send their instant queries as one union, each labelled mlobs_query; a server (or a proxy) that
    answers without that label cannot be read back: exit 3 saying so, not a KeyError."""
    series = [{"metric": {"job": "x"}, "value": [1795690000, "0.5"]}]
    url = fake_server(lambda path: vector(series) if "query_range" not in path else matrix(
        [{"metric": {"job": "x"}, "values": [[1795690000, "0.5"]]}]))
    one_line_exit_3(cli(*command, "--prometheus", url), "not labelled by mlobs_query")


# -- a real Prometheus holding label sets of unusual shapes ------------------------------------------------------

STEP = 15.0


def odd_labels(end: float) -> str:
    """inference_requests_total and its latency histogram: a model written `model` and one `Model` (labels whose
    names differ only in case are distinct in Prometheus), and series with no `model` label at all."""
    series = [
        ("inference_requests_total", 'model="llm-7b",version="v1",status="200"'),
        ("inference_requests_total", 'Model="LLM-7B",version="v1",status="200"'),
        ("inference_requests_total", 'version="v1",status="500"'),
        ("inference_latency_seconds_bucket", 'model="llm-7b",version="v1",le="0.1"'),
        ("inference_latency_seconds_bucket", 'model="llm-7b",version="v1",le="+Inf"'),
        ("inference_latency_seconds_bucket", 'version="v1",le="+Inf"'),
    ]
    lines = []
    for i, (name, labels) in enumerate(series):
        for n in range(int(1800 / STEP) + 1):
            lines.append(f"{name}{{{labels}}} {float(n * (i + 1))} {end - 1800 + n * STEP:.3f}")
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def odd_prometheus(tmp_path_factory: pytest.TempPathFactory):
    end = float(int(1795690000 // STEP) * STEP)
    with backfilled_prometheus(tmp_path_factory.mktemp("odd-labels"), odd_labels(end)) as url:
        yield url, end


def test_labels_differing_only_in_case_stay_apart(cli, odd_prometheus):
    url, end = odd_prometheus
    body = cli.json("metrics", "query", "inference_requests_total", "--at", end, "--prometheus", url, expect=0)
    labels = sorted((r["labels"].get("model", ""), r["labels"].get("Model", "")) for r in body["result"])
    assert labels == [("", ""), ("", "LLM-7B"), ("llm-7b", "")]
    table = cli("metrics", "query", "inference_requests_total", "--at", end, "--prometheus", url)
    assert table.exit_code == 0 and "LLM-7B" in table.stdout and "llm-7b" in table.stdout


@pytest.mark.parametrize("command", [["metrics", "summary"], ["dashboard", "--once"]], ids=["summary", "dashboard"])
def test_series_without_the_model_label_are_left_out_not_an_error(cli, odd_prometheus, command):
    url, end = odd_prometheus
    for fmt in ("table", "json"):
        result = cli(*command, "--at", end, "--window", "5m", "--prometheus", url, "-o", fmt)
        assert result.exit_code in (0, 1), (result.exit_code, result.stderr, result.exception)
        assert "internal error" not in result.stderr
    body = cli.json("metrics", "summary", "--at", end, "--window", "5m", "--prometheus", url)
    assert [m["model"] for m in body["models"]] == ["llm-7b"]
