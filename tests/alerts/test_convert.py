"""`convert`: the seed's shorthand into a Prometheus rule file that promtool accepts."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.convert import convert
from mlobs_cli.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
SEED = SHARED / "seed" / "observability-design.md"
PROMTOOL = Path("/usr/bin/promtool")


def write(tmp_path: Path, text: str, name: str = "serving.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def promtool_check(path: Path) -> subprocess.CompletedProcess:
    if not PROMTOOL.exists():
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: add the Debian package `prometheus` to scripts/test")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run([str(PROMTOOL), "check", "rules", str(path)], check=False, capture_output=True, text=True)


@pytest.fixture
def seed_file(tmp_path):
    if not SEED.is_file():
        pytest.skip(f"{SEED} is missing")
    text = SEED.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text[text.index("### Alert Rules"):], re.DOTALL).group(1)
    path = tmp_path / "seed_alerts.yaml"
    path.write_text(block, encoding="utf-8")
    return str(path)


def test_the_seed_rules_convert_to_a_file_promtool_accepts(seed_file, tmp_path):
    out = tmp_path / "converted.yml"
    out.write_text(convert(seed_file), encoding="utf-8")
    result = promtool_check(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_the_seed_rules_convert_faithfully(seed_file, tmp_path):
    data = yaml.safe_load(convert(seed_file))
    (group,) = data["groups"]
    assert group["name"] == "seed_alerts" and len(group["rules"]) == 10
    critical = next(r for r in group["rules"] if r["alert"] == "critical_latency_p99")
    assert critical == {
        "alert": "critical_latency_p99",
        "expr": "histogram_quantile(0.99, inference_latency_seconds) > 0.2",
        "for": "2m",
        "labels": {"severity": "critical", "team": "ml-platform", "page": "true"},
        "annotations": {"summary": "Critical latency for {{ $labels.model_id }}",
                        "runbook": "https://wiki/runbooks/ml-latency"},
    }
    # every label value is a string, and the converted file reads back clean in the Prometheus form
    assert all(isinstance(v, str) for r in group["rules"] for v in r.get("labels", {}).values())
    out = tmp_path / "converted.yml"
    out.write_text(convert(seed_file), encoding="utf-8")
    converted = loader.load(str(out))
    assert converted.form == "prometheus" and converted.problems == ()
    assert [(r.name, r.expr, r.for_, dict(r.labels)) for r in converted.rules] == [
        (r.name, r.expr, r.for_, dict(r.labels)) for r in loader.load(seed_file).rules]


@pytest.mark.parametrize("text, expected", [
    pytest.param("""
        alerts:
          - name: a
            expr: up == 0
        """, {"alert": "a", "expr": "up == 0"}, id="minimal"),
    pytest.param("""
        alerts:
          - name: a
            expr: |
              sum by (job) (rate(errors_total[5m]))
                / sum by (job) (rate(requests_total[5m])) > 0.01
            for: 10m
            severity: critical
            labels: {n: 5, page: yes}
            annotations: {summary: "x: y"}
        """, {"alert": "a",
              "expr": "sum by (job) (rate(errors_total[5m]))\n  / sum by (job) (rate(requests_total[5m])) > 0.01\n",
              "for": "10m", "labels": {"severity": "critical", "n": "5", "page": "yes"},
              "annotations": {"summary": "x: y"}}, id="multi-line-and-non-string-values"),
])
def test_convert(tmp_path, text, expected):
    path = write(tmp_path, text)
    output = convert(path)
    assert yaml.safe_load(output) == {"groups": [{"name": "serving", "rules": [expected]}]}
    out = tmp_path / "out.yml"
    out.write_text(output, encoding="utf-8")
    result = promtool_check(out)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("text, message", [
    pytest.param("groups:\n  - name: g\n    rules: []\n", "a prometheus rule file already", id="prometheus-file"),
    pytest.param("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec: {groups: []}\n",
                 "not in the seed's shorthand", id="manifest"),
    pytest.param("foo: bar\n", "not in the seed's shorthand", id="not-a-rule-file"),
    pytest.param("", "not in the seed's shorthand", id="empty"),
    pytest.param("alerts: [\n", "invalid YAML", id="not-yaml"),
    pytest.param("alerts:\n  - name: a\n", "without `expr`", id="missing-expr"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n    expr: up == 0\n", "duplicate key", id="duplicate-key"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n    runbook: x\n", "unknown key", id="unknown-key"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n    for: -5m\n", ":4: invalid `for`: '-5m' is negative",
                 id="negative-for"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n    for: 5 min\n", "'5 min' is not a duration",
                 id="malformed-for"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n    for: 300\n", "'300' is not a duration", id="unitless-for"),
    pytest.param("alerts:\n  - name: a\n    expr: up\n  - name: b\n    expr: sum(up\n    for: -1s\n",
                 ":5: invalid PromQL", id="unparsable-expr-first-of-two"),
    pytest.param('alerts:\n  - name: a\n    expr: up\n    annotations: {summary: "{{ .Foo "}\n',
                 ":4: annotation `summary`: template error", id="unclosed-template"),
])
def test_convert_refuses(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=re.escape(message)):
        convert(path)


@pytest.mark.parametrize("value", ["-5m", "5 min", "300", "1.5h", "5m1h", ""])
def test_promtool_rejects_what_convert_refuses(tmp_path, value):
    """The refusals are promtool's own: the same rule written in the Prometheus form is rejected by it."""
    path = tmp_path / "rules.yml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n      - alert: a\n        expr: up\n        for: '{value}'\n",
                    encoding="utf-8")
    assert promtool_check(path).returncode != 0
    seed = write(tmp_path, f"alerts:\n  - name: a\n    expr: up\n    for: '{value}'\n")
    with pytest.raises(InputError):
        convert(seed)


def test_the_file_the_command_writes_passes_promtool(cli, seed_file, tmp_path):
    out = tmp_path / "rules" / "seed.rules.yml"
    out.parent.mkdir()
    result = cli("alerts", "convert", seed_file, "--output-file", out)
    assert result.exit_code == 0, result.stderr
    checked = promtool_check(out)
    assert checked.returncode == 0 and "SUCCESS: 10 rules found" in checked.stdout, checked.stdout + checked.stderr


def test_convert_refuses_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        convert(str(tmp_path / "missing.yaml"))
