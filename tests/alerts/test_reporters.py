"""The lint reporters (table, json, github, sarif, junit, csv, markdown) against reports built by hand."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from mlobs_cli import render
from mlobs_cli.alerts.base import LintFinding, Severity
from mlobs_cli.alerts.validate import FileError, LintedFile, LintReport
from mlobs_cli.render import lint

TEXT = """groups:
  - name: serving
    rules:
      - alert: HighLatency
        expr: up{
        for: 5m
      - alert: NoSummary
        expr: up == 0
"""


LINES = TEXT.splitlines()
RULES_FILE = LintedFile("rules/a.yml", ("HighLatency", "NoSummary"), {5: LINES[4], 7: LINES[6]})
OTHER_FILE = LintedFile("rules/b, c.yml", (), {2: "  - name: x"})
FINDINGS = (
    LintFinding("promql/syntax", Severity.ERROR, "rules/a.yml", 5, 15, "HighLatency",
                "unexpected end of input: 50% of\nthe expr"),
    LintFinding("policy/summary", Severity.WARNING, "rules/a.yml", 7, None, "NoSummary", "no summary annotation"),
    LintFinding("policy/severity", Severity.INFO, "rules/a.yml", 7, None, "NoSummary", "no severity label"),
    LintFinding("structure/group", Severity.ERROR, "rules/b, c.yml", 2, 5, None, "duplicate group name: x"),
)
REPORT = LintReport((RULES_FILE, OTHER_FILE), FINDINGS, (FileError("rules/broken.yml", "line 3: invalid YAML"),), 2)
CLEAN = LintReport((RULES_FILE,), (), (), 2)


def test_findings_in_json_carry_what_ci_needs(capsys):
    render.emit(REPORT, "json")
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1 and data["complete"] is False and data["rules_checked"] == 2
    assert data["findings"][0] == {
        "path": "rules/a.yml", "line": 5, "column": 15, "severity": "error", "check": "promql/syntax",
        "rule": "HighLatency", "message": "unexpected end of input: 50% of\nthe expr",
        "docs": "docs/checks/promql/syntax.md"}
    assert data["file_errors"] == [{"path": "rules/broken.yml", "message": "line 3: invalid YAML"}]


def test_table_groups_by_file_and_shows_the_offending_line(capsys):
    render.emit(REPORT, "table")
    out = capsys.readouterr().out
    assert out.index("rules/a.yml") < out.index("5:15") < out.index("│         expr: up{") < out.index("rules/b, c.yml")
    assert re.search(r"5:15\s+error\s+promql/syntax\s+HighLatency\s+unexpected end", out)
    assert re.search(r"\s7\s+warning\s+policy/summary\s+NoSummary", out)
    assert "3 files (1 unreadable), 2 rules: 2 errors, 1 warning, 1 info" in out
    assert "rules/broken.yml: line 3: invalid YAML" in out


def test_table_of_a_clean_report(capsys):
    render.emit(CLEAN, "table")
    out = capsys.readouterr().out
    assert "No problems found." in out and "1 file, 2 rules: 0 errors, 0 warnings, 0 info" in out


@pytest.mark.parametrize(("text", "data", "prop"), [
    pytest.param("plain", "plain", "plain", id="nothing to escape"),
    pytest.param("50%", "50%25", "50%25", id="percent"),
    pytest.param("a\r\nb", "a%0D%0Ab", "a%0D%0Ab", id="newlines"),
    pytest.param("a:b,c", "a:b,c", "a%3Ab%2Cc", id="colon and comma only in properties"),
])
def test_github_escaping(text, data, prop):
    assert lint._escape_data(text) == data
    assert lint._escape_property(text) == prop


def test_github_workflow_commands():
    lines = lint.github(REPORT).splitlines()
    assert lines == [
        ("::error file=rules/a.yml,line=5,col=15,title=promql/syntax::HighLatency: unexpected end of input: 50%25 "
         "of%0Athe expr"),
        "::warning file=rules/a.yml,line=7,title=policy/summary::NoSummary: no summary annotation",
        "::notice file=rules/a.yml,line=7,title=policy/severity::NoSummary: no severity label",
        "::error file=rules/b%2C c.yml,line=2,col=5,title=structure/group::duplicate group name: x",
        "::error file=rules/broken.yml,title=mlobs%3A cannot read file::line 3: invalid YAML",
    ]
    command = re.compile(r"^::(error|warning|notice) file=[^,:]+(,line=\d+)?(,col=\d+)?,title=[^,:]+::[^\r\n]*$")
    assert all(command.match(line) for line in lines)


def test_sarif(monkeypatch):
    monkeypatch.setattr(lint, "_check_rules", lambda report: [  # the registry's checks are tested in test_docs
        {"id": c, "name": c, "shortDescription": {"text": c}, "helpUri": f"docs/checks/{c}.md",
         "defaultConfiguration": {"level": "error"}} for c in sorted({f.check for f in report.findings})])
    data = json.loads(lint.sarif(REPORT))
    assert data["version"] == "2.1.0" and "sarif-2.1.0" in data["$schema"]
    (run,) = data["runs"]
    assert run["tool"]["driver"]["name"] == "mlobs" and run["tool"]["driver"]["version"]
    rules = run["tool"]["driver"]["rules"]
    first = run["results"][0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"] == "promql/syntax"
    assert first["level"] == "error" and first["message"]["text"].startswith("HighLatency: unexpected end")
    location = first["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "rules/a.yml"}, "region": {"startLine": 5, "startColumn": 15}}
    assert [r["level"] for r in run["results"]] == ["error", "warning", "note", "error"]
    assert run["results"][3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "rules/b%2C%20c.yml"
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == "line 3: invalid YAML"


def test_sarif_rules_come_from_the_registry():
    from mlobs_cli.alerts.registry import all_checks

    rules = json.loads(lint.sarif(CLEAN))["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.NAME for c in all_checks()]
    for rule in rules:
        assert rule["helpUri"] == f"docs/checks/{rule['id']}.md"
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["shortDescription"]["text"]


def test_junit():
    text = lint.junit(REPORT)
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "4", "1")  # 2 rules, (file), (load)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["rules/a.yml", "rules/b, c.yml", "rules/broken.yml"]
    cases = {c.get("name"): c for c in suites["rules/a.yml"].iter("testcase")}
    assert list(cases) == ["HighLatency", "NoSummary"]
    assert [f.get("message") for f in cases["HighLatency"].iter("failure")] == [
        "promql/syntax: unexpected end of input: 50% of\nthe expr"]
    assert len(cases["NoSummary"].findall("failure")) == 2
    (file_case,) = suites["rules/b, c.yml"].iter("testcase")
    assert file_case.get("name") == "(file)" and file_case.find("failure").get("type") == "error"
    assert suites["rules/broken.yml"].find("testcase/error").get("message") == "line 3: invalid YAML"


def test_junit_of_a_clean_report_has_passing_cases():
    root = ET.fromstring(lint.junit(CLEAN).split("\n", 1)[1])
    assert [c.get("name") for c in root.iter("testcase")] == ["HighLatency", "NoSummary"]
    assert root.find(".//failure") is None and root.get("failures") == "0"


@pytest.mark.parametrize("fmt", ["github", "sarif", "junit", "json", "csv", "markdown"])
def test_file_errors_also_go_to_stderr_in_machine_formats(capsys, fmt):
    render.emit(REPORT, fmt)
    assert "rules/broken.yml: line 3: invalid YAML" in capsys.readouterr().err


def test_csv_and_markdown(capsys):
    render.emit(REPORT, "csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["path", "line", "column", "severity", "check", "rule", "message"]
    assert rows[1][6] == "unexpected end of input: 50% of\nthe expr"
    assert rows[2] == ["rules/a.yml", "7", "", "warning", "policy/summary", "NoSummary", "no summary annotation"]
    render.emit(REPORT, "markdown")
    out = capsys.readouterr().out
    assert out.startswith("**Alert rules** — 3 files (1 unreadable)")
    assert "| rules/a.yml | 5 | 15 | error | promql/syntax | HighLatency |" in out
    assert "- **rules/broken.yml** (cannot be read): line 3: invalid YAML" in out


def test_each_result_finds_the_view_of_its_domain():
    from mlobs_cli.drift.report import DriftReport
    from mlobs_cli.render import drift as drift_view

    assert render.view(REPORT) is lint
    assert render.view(object()) is None
    assert render.view(DriftReport.__new__(DriftReport)) is drift_view


def test_a_finding_as_json_has_every_field_and_its_docs():
    import dataclasses

    finding = FINDINGS[0]
    data = finding.to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(finding)} | {"docs"}
    assert data["severity"] == "error" and data["docs"].endswith("promql/syntax.md")
    assert {k: data[k] for k in ("check", "path", "line", "column", "rule", "message")} == {
        "check": finding.check, "path": finding.path, "line": finding.line, "column": finding.column,
        "rule": finding.rule, "message": finding.message}
