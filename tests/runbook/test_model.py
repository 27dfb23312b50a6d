"""Loading runbooks: the shipped one is valid; a malformed one is rejected at load time, with its line."""

from __future__ import annotations

import json
import textwrap

import pytest

from mlobs_cli.runbook import model, paths, schema

GOOD = """\
version: 1
name: mini
title: A small runbook
inputs:
  model: {description: the model, default: "", pattern: "[a-z0-9-]*"}
steps:
  - id: first
    title: First
    checks:
      - id: p99
        kind: promql
        title: p99
        query: histogram_quantile(0.99, sum by (le, model) (rate(x_bucket{ {{ match('model', model) }} }[5m])))
        labels: [model]
    rules:
      - check: p99
        when: value > slo(model)
        status: ALERT
        message: "{{ model }} at {{ value | ms }}"
        supports: {slow: 0.5}
causes:
  slow: {title: Slow}
mitigations:
  - id: scale
    title: Scale
    for: {slow: 1.0}
    command: kubectl scale deployment/{{ model }} --replicas=2
"""


def write(tmp_path, text):
    path = tmp_path / "rb.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_runbook_is_valid():
    rb = model.load(paths.shipped_dir() / "latency.yaml")
    assert [s.id for s in rb.steps] == ["symptoms", "immediate", "scope", "saturation", "time_breakdown", "batching",
                                           "drift"]
    assert rb.escalation is not None and rb.escalation.after == 900
    assert {m.id for m in rb.mitigations} == {"rollback", "scale_out", "reduce_batch_wait", "fallback", "shed_load"}
    assert all(any(c in m.fits for m in rb.mitigations) for c in rb.causes)


def test_a_small_runbook_loads(tmp_path):
    rb = model.load(write(tmp_path, GOOD))
    assert rb.steps[0].rules[0].supports == {"slow": 0.5}


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    pytest.param("[5m]", "[{{ windw }}]", 13, "undefined variable 'windw'", id="undefined variable in a query"),
    pytest.param("value > slo(model)", "value > slo(modell)", 17, "undefined variable 'modell'",
                 id="undefined variable in a rule"),
    pytest.param('"{{ model }} at', '"{{ gpu_id }} at', 19, "undefined variable 'gpu_id'",
                 id="undefined label in a message"),
    pytest.param("- check: p99", "- check: p95", 16, "no check 'p95' in this step", id="rule of a missing check"),
    pytest.param("supports: {slow: 0.5}", "supports: {slower: 0.5}", 20, "no cause 'slower'", id="unknown cause"),
    pytest.param("title: First", "titel: First", 8, "unknown key 'titel'", id="unknown key (schema)"),
    pytest.param("status: ALERT", "status: CRITICAL", 18, "'CRITICAL' is not one of", id="bad status (schema)"),
    pytest.param("kind: promql", "kind: sql", 11, "'sql' is not one of", id="unknown check kind"),
    pytest.param("(rate(x_bucket", "(rate(x_bucket[", 13, "invalid PromQL", id="invalid PromQL"),
    pytest.param("[5m])))", "[5m])))" + " or up" * 16_000, 13, "more than 128 operators and brackets deep",
                 id="a query too deep to parse (it overflowed the parser's stack)"),
    pytest.param("value > slo(model)", "value > catalogue('batch_size', 'alert')", 17,
                 "batch_size has no 'alert' threshold", id="unknown catalogue threshold"),
    pytest.param("value > slo(model)", "value.real > 1", 17, "Attribute is not allowed", id="attribute access"),
    pytest.param("value > slo(model)", "__import__('os')", 17, "unknown function '__import__'",
                 id="unknown function"),
    pytest.param("{{ value | ms }}", "{{ value | seconds }}", 19, "unknown format 'seconds'", id="unknown format"),
    pytest.param("--replicas=2", "--replicas={{ replicas }}", 27, "undefined variable 'replicas'",
                 id="undefined variable in a mitigation"),
    pytest.param('default: ""', 'default: "Bad Model"', 5, "does not match", id="default against its pattern"),
])
def test_a_malformed_runbook_is_rejected_with_its_line(tmp_path, old, new, line, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(model.RunbookError) as raised:
        model.load(path)
    problems = raised.value.problems
    assert any(found == line and message in text for found, text in problems), problems
    assert f"line {problems[0][0]}:" in str(raised.value)


def test_lookup_of_a_later_step_is_rejected(tmp_path):
    text = GOOD.replace("value > slo(model)", "lookup('later', 'value', model=model) > 1") + textwrap.dedent("""\
    """)
    text = text.replace("causes:", """  - id: second
    title: Second
    checks:
      - {id: later, kind: promql, title: later, query: up, labels: [model]}
causes:""")
    problems = model.problems(write(tmp_path, text))
    assert any(line == 17 and "check 'later' runs in a later step" in m for line, m in problems), problems


def test_a_cause_without_mitigation_is_rejected(tmp_path):
    text = GOOD.replace("  slow: {title: Slow}", "  slow: {title: Slow}\n  lonely: {title: Lonely}")
    problems = model.problems(write(tmp_path, text))
    assert any("cause 'lonely' has no mitigation" in m for _, m in problems), problems


def test_an_executable_mitigation_needs_a_target(tmp_path):
    text = GOOD.replace("    command: kubectl", "    executable: true\n    command: kubectl")
    problems = model.problems(write(tmp_path, text))
    assert any("needs `command` and `target`" in m for _, m in problems), problems


def test_invalid_yaml_names_its_line(tmp_path):
    problems = model.problems(write(tmp_path, GOOD.replace("    title: First", "    title: [First")))
    assert problems[0][0] in (8, 9) and "invalid YAML" in problems[0][1]


def test_lint_reports_every_problem_and_exits_1(cli, tmp_path):
    path = write(tmp_path, GOOD.replace("[5m]", "[{{ windw }}]").replace("check: p99", "check: p95"))
    result = cli("runbook", "lint", path)
    assert result.exit_code == 1
    assert f"{path}:13: " in result.stdout and f"{path}:16: " in result.stdout
    report = cli.json("runbook", "lint", path, expect=1)
    assert [p["line"] for p in report["files"][0]["problems"]] == [13, 16]


def test_lint_of_every_known_runbook_passes(cli):
    report = cli.json("runbook", "lint", expect=0)
    assert [f["valid"] for f in report["files"]] == [True] * len(report["files"])
    assert any(f["path"].endswith("latency.yaml") for f in report["files"])


def test_a_walk_of_a_malformed_runbook_exits_2_with_the_line(cli, tmp_path):
    path = write(tmp_path, GOOD.replace("[5m]", "[{{ windw }}]"))
    result = cli("runbook", "walk", path, "--no-input")
    assert result.exit_code == 2
    assert f"runbook {path} line 13: steps[0].checks[0].query: undefined variable 'windw'" in result.stderr


def test_the_published_schema_is_json_schema_with_every_key_the_loader_knows():
    published = json.loads((paths.shipped_dir() / "schema.json").read_text(encoding="utf-8"))
    assert published["$schema"].startswith("https://json-schema.org/")
    check = published["$defs"]["check"]["properties"]
    assert {"query", "range", "crossing", "reference", "current", "if", "optional", "timeout"} <= set(check)
    assert schema.validate({"version": 1, "name": "x", "title": "x", "steps": [{"id": "a", "title": "A"}]}) == []
