"""`alerts validate --prometheus`: the promql/series check against a real Prometheus (tests/conftest.py), through
the CLI with -o json; and the check's caching against a counting fake source (no network)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from mlobs_cli import catalogue
from mlobs_cli.alerts import validate as lint
from mlobs_cli.alerts.base import Context
from mlobs_cli.alerts.checks.promql_series import CHECK
from mlobs_cli.alerts.online import ServerSeries
from mlobs_cli.errors import BackendUnavailable

# The seed's rules as they should have been written, but for one misspelt metric in the error-rate alert.
SEED_LIKE = """\
groups:
  - name: serving
    rules:
      - alert: high_latency_p99
        expr: histogram_quantile(0.99, sum by (le, model) (rate(inference_latency_seconds_bucket[5m]))) > 0.1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High p99 latency for {{ $labels.model }}"
      - alert: high_error_rate
        expr: >
          sum by (model) (rate(inference_request_total{status="500"}[5m]))
          / sum by (model) (rate(inference_requests_total[5m])) > 0.01
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Error rate high for {{ $labels.model }}"
      - alert: data_drift_detected
        expr: max by (model) (feature_psi) > 0.2
        labels:
          severity: warning
        annotations:
          summary: "Drift on {{ $labels.model }}"
"""

# Every rule here is fine offline (no error), so the exit code tells what the online check did to it.
ONLINE = """\
groups:
  - name: online
    rules:
      - alert: cache_by_version
        expr: sum by (model) (rate(tokenizer_cache_hits_total{version="v1"}[5m])) < 1
        labels:
          severity: warning
        annotations:
          summary: "cold cache on {{ $labels.model }}"
      - alert: cache_by_version_again
        expr: sum by (model) (rate(tokenizer_cache_hits_total{version="v1"}[5m])) < 0.5
        labels:
          severity: warning
        annotations:
          summary: "cold cache on {{ $labels.model }}"
      - alert: queue_stopped
        expr: legacy_queue_depth > 100
        labels:
          severity: warning
        annotations:
          summary: "queue"
      - alert: cache_gone
        expr: absent(tokenizer_cache_hits_total{tier="l2"}) and on() absent(never_exported_total)
        labels:
          severity: warning
        annotations:
          summary: "no cache"
      - record: model:new_metric:rate5m
        expr: sum by (model) (rate(inference_requests_total[5m]))
      - alert: new_metric_high
        expr: model:new_metric:rate5m > 100
        labels:
          severity: warning
        annotations:
          summary: "many requests"
"""

DISABLED = """\
# mlobs: disable=promql/series
groups:
  - name: off
    rules:
      - alert: typo
        expr: inference_request_total > 1
        labels:
          severity: warning
        annotations:
          summary: "x"
"""

BROKEN_OFFLINE = """\
groups:
  - name: broken
    rules:
      - alert: no_comparison
        expr: rate(inference_requests_total[5m])
        labels:
          severity: warning
        annotations:
          summary: "x"
      - alert: typo
        expr: inference_request_total > 1
        labels:
          severity: warning
        annotations:
          summary: "x"
"""


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retries without the pauses: these tests count findings, tests/backends/test_prometheus.py the retries."""
    from mlobs_cli.backends import prometheus as backend

    monkeypatch.setattr(backend, "BACKOFF", (0, 0))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def series_findings(data: dict) -> list[dict]:
    return [f for f in data["findings"] if f["check"] == "promql/series"]


def test_a_misspelt_metric_in_a_seed_like_rule(cli, prometheus, tmp_path):
    data = cli.json("alerts", "validate", write(tmp_path, "seed.yml", SEED_LIKE), "--prometheus", prometheus.url,
                    expect=0)
    found = series_findings(data)
    assert [(f["rule"], f["severity"], f["line"]) for f in found] == [("high_error_rate", "warning", 12)]
    assert found[0]["message"].startswith("metric inference_request_total has no series on the server in the last 1h")
    assert found[0]["docs"] == "docs/checks/promql/series.md"
    cli.json("alerts", "validate", tmp_path / "seed.yml", "--prometheus", prometheus.url, "--fail-on", "warning",
             expect=1)


def test_labels_lookback_absent_and_recorded_metrics(cli, prometheus, tmp_path):
    path = write(tmp_path, "online.yml", ONLINE)
    data = cli.json("alerts", "validate", path, "--prometheus", prometheus.url, expect=0)
    found = {(f["rule"], f["message"].split(" (")[0].split(":")[0]) for f in series_findings(data)}
    assert found == {
        ("cache_by_version", "label version is never set on tokenizer_cache_hits_total"),
        ("cache_by_version_again", "label version is never set on tokenizer_cache_hits_total"),
        ("queue_stopped", "metric legacy_queue_depth has no series on the server in the last 1h"),
        # absent(): no series is what the rule catches, but a label the metric never has makes it always fire
        ("cache_gone", "label tier is never set on tokenizer_cache_hits_total"),
    }  # and nothing for never_exported_total inside absent(), nor for the metric recorded in the same file
    label = next(f for f in series_findings(data) if f["rule"] == "cache_by_version")
    assert "its labels: cache, model" in label["message"]
    wide = cli.json("alerts", "validate", path, "--prometheus", prometheus.url, "--lookback", "12h", expect=0)
    assert "queue_stopped" not in {f["rule"] for f in series_findings(wide)}
    assert any("in the last 12h" in f["message"] for f in series_findings(wide))


def test_the_url_can_come_from_the_environment(cli, prometheus, tmp_path):
    path = write(tmp_path, "seed.yml", SEED_LIKE)
    data = cli.json("alerts", "validate", path, expect=0, env={"MLOBS_PROMETHEUS_URL": prometheus.url})
    assert len(series_findings(data)) == 1


def test_offline_by_default(cli, tmp_path):
    data = cli.json("alerts", "validate", write(tmp_path, "seed.yml", SEED_LIKE), expect=0)
    assert series_findings(data) == []


def test_disabled_for_a_file(cli, prometheus, tmp_path):
    data = cli.json("alerts", "validate", write(tmp_path, "off.yml", DISABLED), "--prometheus", prometheus.url,
                    expect=0)
    assert series_findings(data) == []


@pytest.mark.parametrize(
    ("flags", "severity", "expect"),
    [
        pytest.param([], "warning", 1, id="a warning; the offline error still exits 1"),
        pytest.param(["--strict"], "error", 1, id="--strict: an error"),
        pytest.param(["--exit-zero"], "warning", 0, id="--exit-zero: 0, never 3"),
    ],
)
def test_an_unreachable_server_is_one_finding(cli, tmp_path, closed_port, flags, severity, expect):
    write(tmp_path, "a.yml", BROKEN_OFFLINE)
    write(tmp_path, "b.yml", SEED_LIKE)
    data = cli.json("alerts", "validate", tmp_path, "--prometheus", f"http://127.0.0.1:{closed_port}", *flags,
                    expect=expect)
    found = series_findings(data)
    assert len(found) == 1, found
    assert found[0]["severity"] == severity and found[0]["rule"] is None
    assert found[0]["message"].startswith(f"online checks skipped: cannot reach prometheus http://127.0.0.1:{closed_port}")
    assert any(f["check"] == "alerts/comparison" for f in data["findings"])  # the offline checks still ran
    assert data["complete"] is True


def test_an_unreachable_server_fails_only_on_the_fail_on_threshold(cli, tmp_path, closed_port):
    path = write(tmp_path, "seed.yml", SEED_LIKE)
    url = f"http://127.0.0.1:{closed_port}"
    assert series_findings(cli.json("alerts", "validate", path, "--prometheus", url, expect=0))
    cli.json("alerts", "validate", path, "--prometheus", url, "--fail-on", "warning", expect=1)
    cli.json("alerts", "validate", path, "--prometheus", url, "--strict", expect=1)


def test_credentials_are_never_printed(cli, tmp_path, closed_port):
    token, password = "s3cr3t-t0ken", "hunter2"
    path = write(tmp_path, "seed.yml", SEED_LIKE)
    url = f"127.0.0.1:{closed_port}"
    envs = [{"MLOBS_PROMETHEUS_TOKEN": token, "MLOBS_PROMETHEUS_URL": f"http://{url}"},
            {"MLOBS_PROMETHEUS_URL": f"http://mlobs:{password}@{url}"},
            {"MLOBS_PROMETHEUS_USERNAME": "mlobs", "MLOBS_PROMETHEUS_PASSWORD": password,
             "MLOBS_PROMETHEUS_URL": f"http://{url}"}]
    for env, fmt in itertools.product(envs, ("json", "table", "github", "sarif")):
        result = cli("alerts", "validate", path, "-o", fmt, env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert "online checks skipped" in result.stdout.replace("\n", " ") or fmt == "table"
        for secret in (token, password):
            assert secret not in result.stdout and secret not in result.stderr


@pytest.mark.parametrize("lookback", ["1 hour", "0s", "-5m", ""])
def test_a_bad_lookback_is_a_usage_error(cli, tmp_path, lookback):
    result = cli("alerts", "validate", write(tmp_path, "seed.yml", SEED_LIKE), "--lookback", lookback)
    assert result.exit_code == 2 and "--lookback" in result.stderr


def test_a_bad_url_is_a_usage_error(cli, tmp_path):
    result = cli("alerts", "validate", write(tmp_path, "seed.yml", SEED_LIKE), "--prometheus", "prom:9090")
    assert result.exit_code == 2 and "prometheus URL" in result.stderr


# -- the check alone, against a fake source: what it asks, and how often ---------------------------------------

class CountingClient:
    """Stands in for PrometheusClient under the real ServerSeries: answers from a dict, counts the requests."""

    def __init__(self, metrics: dict[str, set[str]], down: bool = False) -> None:
        self.metrics = metrics
        self.down = down
        self.asked: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def label_values(self, name, matchers, start, end):
        self.asked.append(("values", matchers[0]))
        if self.down:
            raise BackendUnavailable("cannot reach prometheus http://x: [Errno 111] Connection refused")
        pattern = re.compile(json.loads(matchers[0].split("=~", 1)[1][:-1]))
        return [m for m in self.metrics if pattern.fullmatch(m)]

    def label_names(self, matchers, start, end):
        self.asked.append(("labels", matchers[0]))
        return sorted(self.metrics[json.loads(matchers[0].split("=", 1)[1][:-1])] | {"__name__"})


REPEATED = """\
groups:
  - name: repeated
    rules:
""" + "".join(f"""\
      - alert: r{i}
        expr: sum by (model) (rate(inference_requests_total{{model_id="a"}}[5m])) > {i} and on() feature_psi > 0
        labels:
          severity: warning
        annotations:
          summary: "x"
""" for i in range(10))


def test_one_request_per_file_and_per_metric(tmp_path):
    client = CountingClient({"inference_requests_total": {"model", "version", "status"}, "feature_psi": set(),
                             "a.b": set()})
    write(tmp_path, "r1.yml", REPEATED)
    write(tmp_path, "r2.yml", REPEATED)
    source = ServerSeries(client, "1h")
    report = lint.validate([str(tmp_path)], Context(catalogue.load(), series=source), checks=[CHECK])
    # one existence request for both files (the second file's metrics are cached), one per metric for its labels
    assert client.asked == [("values", '{__name__=~"feature_psi|inference_requests_total"}'),
                            ("labels", '{__name__="inference_requests_total"}')]
    assert len(report.findings) == 20
    assert {f.message.split(" (")[0] for f in report.findings} == {
        "label model_id is never set on inference_requests_total"}


def test_metric_names_are_escaped_in_the_existence_regex():
    client = CountingClient({"a.b": set(), "axb": set()})
    assert ServerSeries(client).existing({"a.b", "c"}) == {"a.b"}
    assert client.asked == [("values", '{__name__=~"a\\\\.b|c"}')]


def test_an_unreachable_server_is_asked_once_and_reported_once(tmp_path):
    client = CountingClient({}, down=True)
    for i in range(3):
        write(tmp_path, f"r{i}.yml", REPEATED)
    source = ServerSeries(client, "1h", strict=True)
    report = lint.validate([str(tmp_path)], Context(catalogue.load(), series=source), checks=[CHECK])
    assert [(f.path.endswith("r0.yml"), f.rule, str(f.severity)) for f in report.findings] == [
        (True, None, "error")]
    assert len(client.asked) == 1


def test_without_a_source_nothing_is_asked(tmp_path):
    report = lint.validate([str(write(tmp_path, "r.yml", REPEATED))], Context(catalogue.load()), checks=[CHECK])
    assert report.findings == ()


def test_the_server_warnings_go_to_stderr(cli, tmp_path, monkeypatch):
    import httpx

    from mlobs_cli.backends import prometheus as backend

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": ["feature_psi"],
                                         "warnings": ["partial response: store eu-1 down"]})

    original = backend.PrometheusClient.__init__
    monkeypatch.setattr(backend.PrometheusClient, "__init__",
                        lambda self, url, **kw: original(self, url, transport=httpx.MockTransport(handler), **kw))
    result = cli("alerts", "validate", write(tmp_path, "seed.yml", SEED_LIKE), "--prometheus", "http://prom.test",
                 "-o", "json")
    assert "mlobs: warning: prometheus: partial response: store eu-1 down" in result.stderr
    json.loads(result.stdout)
