"""`mlobs alerts validate` and `mlobs alerts convert` end to end, through -o json (and every other format)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mlobs_cli.alerts.base import Check, Severity

BROKEN = """\
groups:
  - name: serving
    rules:
      - alert: Broken
        expr: up{
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "broken"
"""

CLEAN = """\
groups:
  - name: clean
    rules:
      - alert: ServingDown
        expr: up{job="serving"} == 0
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: "serving is down on {{ $labels.instance }}"
          runbook_url: "https://runbooks.example.com/serving-down"
"""

NOT_YAML = "groups:\n  - name: x\n    rules: [\n      {alert: A\n"

# The first two alerts of the seed (../shared/seed/observability-design.md, "Alert Rules"), as written there.
SEED = """\
alerts:
  # Latency alerts
  - name: high_latency_p99
    expr: histogram_quantile(0.99, inference_latency_seconds) > 0.1
    for: 5m
    severity: warning
    labels:
      team: ml-platform
    annotations:
      summary: "High p99 latency for {{ $labels.model_id }}"
      description: "p99 latency is {{ $value }}s (threshold: 100ms)"

  - name: critical_latency_p99
    expr: histogram_quantile(0.99, inference_latency_seconds) > 0.2
    for: 2m
    severity: critical
    labels:
      team: ml-platform
      page: true
    annotations:
      summary: "Critical latency for {{ $labels.model_id }}"
      runbook: "https://wiki/runbooks/ml-latency"
"""

GITHUB_LINE = re.compile(r"^::(error|warning|notice) file=[^,]+(,line=\d+)?(,col=\d+)?,title=[^,:]+::.*$")


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return write(tmp_path / "rules", {"broken.yml": BROKEN, "nested/clean.yaml": CLEAN, "ignored.txt": "not rules"})


def _in(data: dict, name: str) -> list[dict]:
    return [f for f in data["findings"] if f["path"].endswith(name)]


def test_a_syntax_error_exits_1_with_the_finding_at_the_expr_line(cli, rules):
    data = cli.json("alerts", "validate", rules, expect=1)
    assert data["complete"] is True and data["file_errors"] == []
    assert sorted(Path(p).name for p in data["files"]) == ["broken.yml", "clean.yaml"]  # recursive, .yml/.yaml
    assert data["rules_checked"] == 2
    errors = [f for f in _in(data, "broken.yml") if f["severity"] == "error"]
    assert any(f["line"] == 5 and f["rule"] == "Broken" for f in errors), errors
    for f in data["findings"]:
        assert set(f) == {"path", "line", "column", "severity", "check", "rule", "message", "docs"}
        assert f["docs"] == f"docs/checks/{f['check']}.md"
    assert not [f for f in _in(data, "clean.yaml") if f["severity"] != "info"]


def test_options_work_before_the_subcommand(cli, rules):
    result = cli("-o", "json", "alerts", "validate", rules)
    assert result.exit_code == 1 and json.loads(result.stdout)["findings"]


def test_exit_zero(cli, rules):
    assert cli.json("alerts", "validate", rules, "--exit-zero", expect=0)["findings"]


class Marker(Check):
    """A check of this test only, so that the thresholds are tested whatever the real checks report: one warning
    and one info finding on every rule."""

    NAME = "test/marker"
    SEVERITY = Severity.INFO  # Check.problem(severity=Severity.INFO) would not override: INFO is 0, falsy

    def check_rule(self, rule, ctx):
        yield self.problem("marked", rule.line, rule.name, severity=Severity.WARNING)
        yield self.problem("noted", rule.line, rule.name)


@pytest.fixture
def marked(monkeypatch, tmp_path) -> Path:
    from mlobs_cli.alerts import validate

    monkeypatch.setattr(validate, "all_checks", lambda: (Marker(),))
    return write(tmp_path, {"clean.yml": CLEAN}) / "clean.yml"


def test_fail_on_and_min_severity(cli, marked):
    data = cli.json("alerts", "validate", marked, expect=0)  # default --fail-on error
    assert sorted(f["severity"] for f in data["findings"]) == ["info", "warning"]
    cli.json("alerts", "validate", marked, "--fail-on", "warning", expect=1)
    cli.json("alerts", "validate", marked, "--fail-on", "info", expect=1)
    cli.json("alerts", "validate", marked, "--fail-on", "warning", "--exit-zero", expect=0)
    shown = cli.json("alerts", "validate", marked, "--min-severity", "error", "--fail-on", "warning", expect=1)
    assert shown["findings"] == []  # --min-severity filters what is shown, --fail-on still decides the exit
    shown = cli.json("alerts", "validate", marked, "--min-severity", "warning", expect=0)["findings"]
    assert [(f["severity"], f["check"], f["rule"], f["line"]) for f in shown] == [
        ("warning", "test/marker", "ServingDown", 4)]


def test_bad_severity_words_are_usage_errors(cli, marked):
    assert cli("alerts", "validate", marked, "--fail-on", "critical").exit_code == 2
    assert cli("alerts", "validate", marked, "--min-severity", "loud").exit_code == 2


def test_an_unparsable_file_exits_2_and_the_others_are_still_reported(cli, rules):
    write(rules, {"bad.yaml": NOT_YAML})
    result = cli("alerts", "validate", rules, "-o", "json")
    assert result.exit_code == 2, result.stderr
    data = json.loads(result.stdout)
    assert data["complete"] is False
    assert [Path(e["path"]).name for e in data["file_errors"]] == ["bad.yaml"]
    assert any(f["line"] == 5 for f in _in(data, "broken.yml"))
    assert "bad.yaml" in result.stderr
    assert cli("alerts", "validate", rules, "--exit-zero", "-o", "json").exit_code == 2


def test_a_missing_path_exits_2(cli, tmp_path):
    result = cli("alerts", "validate", tmp_path / "nope")
    assert result.exit_code == 2 and "no such file or directory" in result.stderr


def test_table_shows_the_offending_line(cli, rules):
    result = cli("alerts", "validate", rules)
    assert result.exit_code == 1
    assert "broken.yml" in result.stdout and "│         expr: up{" in result.stdout
    assert re.search(r"2 files, 2 rules: [1-9]\d* errors?", result.stdout)


def test_github(cli, rules):
    write(rules, {"bad.yaml": NOT_YAML})
    result = cli("alerts", "validate", rules, "-o", "github")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines and all(GITHUB_LINE.match(line) for line in lines), lines
    assert any(line.startswith("::error file=") and "broken.yml,line=5" in line for line in lines)
    assert any("bad.yaml" in line for line in lines)


def test_sarif(cli, rules):
    result = cli("alerts", "validate", rules, "-o", "sarif")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["version"] == "2.1.0" and data["$schema"]
    (run,) = data["runs"]
    assert run["tool"]["driver"]["name"] == "mlobs"
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for r in run["results"]:
        assert ids[r["ruleIndex"]] == r["ruleId"] and r["level"] in ("error", "warning", "note")
        region = r["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    assert any(r["locations"][0]["physicalLocation"]["region"]["startLine"] == 5 for r in run["results"])


def test_junit(cli, rules):
    result = cli("alerts", "validate", rules, "-o", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    suites = {Path(s.get("name")).name: s for s in root.iter("testsuite")}
    assert set(suites) == {"broken.yml", "clean.yaml"}
    assert suites["broken.yml"].find("testcase[@name='Broken']/failure") is not None


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_generic_formats(cli, rules, fmt):
    result = cli("alerts", "validate", rules, "-o", fmt)
    assert result.exit_code == 1 and "broken.yml" in result.stdout


def test_the_ci_formats_are_only_for_alerts_validate(cli):
    result = cli("-o", "github", "config", "show")
    assert result.exit_code == 2 and "-o github is for `alerts validate`" in result.stderr
    result = cli("config", "show", env={"MLOBS_OUTPUT": "sarif"})
    assert result.exit_code == 2 and "MLOBS_OUTPUT=sarif" in result.stderr
    assert cli("config", "show", "-o", "junit").exit_code == 2  # not among the choices of its own -o


def test_an_invalid_catalog_exits_2_with_the_line(cli, rules, tmp_path):
    catalog = write(tmp_path, {"catalog.yaml": "metrics:\n  - name: ok_total\n    type: counter\n    labels: []\n"
                               "  - name: bad\n    type: gauges\n    labels: [a]\n"}) / "catalog.yaml"
    result = cli("alerts", "validate", rules, "--catalog", catalog)
    assert result.exit_code == 2 and "line 4" not in result.stderr and "line 5" in result.stderr
    assert "gauges" in result.stderr
    assert cli("alerts", "validate", rules, "--catalog", tmp_path / "nope.yaml").exit_code == 2


def test_a_catalog_file_teaches_the_checks_a_metric(cli, tmp_path):
    """`rate()` over a gauge is a finding only once the catalogue says the metric is a gauge."""
    path = write(tmp_path, {"r.yml": CLEAN.replace('up{job="serving"} == 0', "rate(queue_items[5m]) > 1")
                            .replace("ServingDown", "QueueGrowing")}) / "r.yml"
    catalog = write(tmp_path, {"c.yaml": "metrics:\n  - name: queue_items\n    type: gauge\n"
                               "    labels: [instance]\n"}) / "c.yaml"
    without = cli.json("alerts", "validate", path, "--exit-zero", expect=0)["findings"]
    with_catalog = cli.json("alerts", "validate", path, "--catalog", catalog, "--exit-zero", expect=0)["findings"]
    assert len(with_catalog) > len(without), with_catalog


def test_convert_the_seed_shorthand(cli, tmp_path):
    seed = write(tmp_path, {"alerts.yaml": SEED}) / "alerts.yaml"
    result = cli("alerts", "convert", seed)
    assert result.exit_code == 0, result.stderr
    converted = yaml.safe_load(result.stdout)
    rules = [r for g in converted["groups"] for r in g["rules"]]
    assert [r["alert"] for r in rules] == ["high_latency_p99", "critical_latency_p99"]
    first = rules[0]
    assert first["expr"] == "histogram_quantile(0.99, inference_latency_seconds) > 0.1" and first["for"] == "5m"
    assert first["labels"]["severity"] == "warning" and first["labels"]["team"] == "ml-platform"
    assert first["annotations"]["description"] == "p99 latency is {{ $value }}s (threshold: 100ms)"
    for r in rules:  # only what `promtool check rules` accepts on an alerting rule
        assert set(r) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert all(isinstance(v, str) for v in r.get("labels", {}).values()), r["labels"]
    # the converted file validates as a Prometheus rule file: no structure or syntax error
    out = write(tmp_path, {"converted.yml": result.stdout}) / "converted.yml"
    data = cli.json("alerts", "validate", out, "--exit-zero", expect=0)
    assert not [f for f in data["findings"] if f["check"].split("/")[0] in ("structure", "syntax", "yaml")]


def test_convert_to_a_file_never_over_its_input(cli, tmp_path):
    seed = write(tmp_path, {"alerts.yaml": SEED}) / "alerts.yaml"
    target = tmp_path / "out.yml"
    result = cli("alerts", "convert", seed, "--output-file", target)
    assert result.exit_code == 0 and result.stdout == ""
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["groups"]
    result = cli("alerts", "convert", seed, "--output-file", seed)
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert seed.read_text(encoding="utf-8") == SEED


def test_convert_replaces_an_existing_file_only_with_force(cli, tmp_path):
    seed = write(tmp_path, {"alerts.yaml": SEED}) / "alerts.yaml"
    target = tmp_path / "out.yml"
    target.write_text("# the rules in production\n", encoding="utf-8")
    refused = cli("alerts", "convert", seed, "--output-file", target)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "exists: give --force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "# the rules in production\n"
    replaced = cli("alerts", "convert", seed, "--output-file", target, "--force")
    assert replaced.exit_code == 0, replaced.stderr
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["groups"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.yaml", "out.yml"]  # no temporary file left


def test_convert_that_fails_leaves_the_existing_file(cli, tmp_path):
    bad = write(tmp_path, {"alerts.yaml": "alerts:\n  - name: a\n    expr: up == 0\n    for: -5m\n"}) / "alerts.yaml"
    target = tmp_path / "out.yml"
    target.write_text("# the rules in production\n", encoding="utf-8")
    result = cli("alerts", "convert", bad, "--output-file", target, "--force")
    assert result.exit_code == 2 and "'-5m' is negative" in result.stderr
    assert target.read_text(encoding="utf-8") == "# the rules in production\n"
