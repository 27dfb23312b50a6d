"""The structure checks (rule/structure, yaml/duplicate-key, group/duplicate-name, promql/syntax, alerts/for):
each problem they report, table-driven, and what they report on the real-world corpus."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Context, Severity
from mlobs_cli.alerts.checks import alerts_for, group_duplicate_name, promql_syntax, rule_structure, yaml_duplicate_key
from mlobs_cli.alerts.checks.alerts_for import duration_error
from mlobs_cli.alerts.validate import validate
from mlobs_cli.catalogue import load as load_catalogue

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
CORPUS = SHARED / "corpus" / "rules"
FIXTURES = "prometheus__prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

CHECKS = (rule_structure.CHECK, yaml_duplicate_key.CHECK, group_duplicate_name.CHECK, promql_syntax.CHECK,
          alerts_for.CHECK)
NAMES = {c.NAME for c in CHECKS}


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def run_checks(path: str) -> list[tuple[str, Severity, int, str | None, str]]:
    """(check, severity, line, rule, message) of what the five checks report, disable comments ignored."""
    rule_file = loader.load(path)
    found = []
    for check in CHECKS:
        problems = list(check.check_file(rule_file, None))  # type: ignore[arg-type]
        for rule in rule_file.rules:
            problems += check.check_rule(rule, None)  # type: ignore[arg-type]
        found += [(p.check, p.severity, p.line, p.rule, p.message) for p in problems]
    return sorted(found, key=lambda f: (f[2], f[0]))


def rule_yaml(body: str) -> str:
    """A Prometheus rule file with one group `g` and the rule(s) in `body` (already indented for `rules:`)."""
    return "groups:\n  - name: g\n    rules:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "      ") + "\n"


E, W = Severity.ERROR, Severity.WARNING

CASES = [
    # rule/structure: file level
    pytest.param("foo: bar\n", [("rule/structure", E, 1, None, "not a rule file")], id="not-a-rule-file"),
    pytest.param("- a\n- b\n", [("rule/structure", E, 1, None, "not a mapping")], id="document-not-a-mapping"),
    pytest.param("apiVersion: v1\nkind: ConfigMap\n", [("rule/structure", E, 1, None, "no PrometheusRule")],
                 id="only-other-kubernetes-objects"),
    pytest.param("groups: []\nversion: 2\n", [("rule/structure", E, 2, None, "unknown key 'version'")],
                 id="unknown-file-key"),
    pytest.param("groups: {a: b}\n", [("rule/structure", E, 1, None, "must be a list")], id="groups-not-a-list"),
    pytest.param("groups:\n  - just-a-string\n", [("rule/structure", E, 2, None, "a group must be a mapping")],
                 id="group-not-a-mapping"),
    pytest.param("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups: []\n  extra: 1\n",
                 [("rule/structure", E, 5, None, "unknown key 'extra'")], id="unknown-spec-key"),
    pytest.param("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\n",
                 [("rule/structure", E, 1, None, "without `spec`")], id="manifest-without-spec"),
    pytest.param("alerts:\n  - name: a\n    expr: up == 0\nextra: 1\n",
                 [("rule/structure", E, 4, None, "unknown key 'extra'")], id="unknown-seed-file-key"),
    # rule/structure: group level
    pytest.param("groups:\n  - rules:\n      - alert: A\n        expr: up == 0\n",
                 [("rule/structure", E, 2, None, "group without a `name`")], id="group-without-name"),
    pytest.param("groups:\n  - name: g\n", [("rule/structure", W, 2, None, "has no `rules`")],
                 id="group-without-rules"),
    pytest.param("groups:\n  - name: g\n    rules: {a: b}\n", [("rule/structure", E, 3, None, "must be a list")],
                 id="rules-not-a-list"),
    pytest.param("groups:\n  - name: g\n    namespace: x\n    rules: []\n",
                 [("rule/structure", E, 3, None, "unknown key 'namespace' in a group")], id="unknown-group-key"),
    pytest.param("groups:\n  - name: g\n    labels: {bad-name: x}\n    rules: []\n",
                 [("rule/structure", E, 3, None, "invalid label name 'bad-name'")], id="group-label-name"),
    # rule/structure: rule level
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  summary: x"),
                 [("rule/structure", E, 6, "A", "unknown key 'summary' in a rule")], id="unknown-rule-key"),
    pytest.param(rule_yaml("- alert: A\n  record: a\n  expr: up"),
                 [("rule/structure", E, 4, "A", "both `alert`")], id="alert-and-record"),
    pytest.param(rule_yaml("- expr: up"), [("rule/structure", E, 4, None, "neither `alert` nor `record`")],
                 id="neither-alert-nor-record"),
    pytest.param(rule_yaml("- alert: ''\n  expr: up"), [("rule/structure", E, 4, None, "neither")],
                 id="empty-alert-name"),
    pytest.param(rule_yaml("- just-a-string"), [("rule/structure", E, 4, None, "a rule must be a mapping")],
                 id="rule-not-a-mapping"),
    pytest.param(rule_yaml("- alert: A"), [("rule/structure", E, 4, "A", "without `expr`")], id="missing-expr"),
    pytest.param(rule_yaml("- alert: A\n  expr: ''"), [("rule/structure", E, 5, "A", "`expr` is empty")],
                 id="empty-expr"),
    pytest.param(rule_yaml("- alert: A\n  expr:"), [("rule/structure", E, 5, "A", "`expr` is empty")],
                 id="null-expr"),
    pytest.param(rule_yaml("- alert: A\n  expr: [up]"), [("rule/structure", E, 5, "A", "must be a string")],
                 id="expr-a-list"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  for: 5m"),
                 [("rule/structure", E, 6, "a:b", "`for` on a recording rule")], id="for-on-record"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  keep_firing_for: 5m"),
                 [("rule/structure", E, 6, "a:b", "`keep_firing_for` on a recording rule")],
                 id="keep-firing-for-on-record"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  for: 0s"),
                 [("rule/structure", W, 6, "a:b", "has no effect")], id="zero-for-on-record"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  annotations: {summary: x}"),
                 [("rule/structure", E, 6, "a:b", "`annotations` on a recording rule")], id="annotations-on-record"),
    pytest.param(rule_yaml("- record: job-latency\n  expr: up"),
                 [("rule/structure", E, 4, "job-latency", "invalid recording rule name")], id="record-name"),
    pytest.param(rule_yaml("- record: 1abc\n  expr: up"),
                 [("rule/structure", E, 4, "1abc", "invalid recording rule name")], id="record-name-digit"),
    pytest.param(rule_yaml("- alert: Any name, even with spaces!\n  expr: up == 0"), [],
                 id="alert-names-are-free"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    team-name: x"),
                 [("rule/structure", E, 7, "A", "invalid label name 'team-name'")], id="label-name"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    __name__: x"),
                 [("rule/structure", E, 7, "A", "__name__")], id="label-name-__name__"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  annotations:\n    run book: x"),
                 [("rule/structure", E, 7, "A", "invalid annotation name 'run book'")], id="annotation-name"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels: [a, b]"),
                 [("rule/structure", E, 6, "A", "labels must be a mapping")], id="labels-not-a-mapping"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  annotations: text"),
                 [("rule/structure", E, 6, "A", "annotations must be a mapping")], id="annotations-not-a-mapping"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    team: {a: b}"),
                 [("rule/structure", E, 7, "A", "must be a string, not a mapping")], id="label-value-mapping"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    page: true"),
                 [("rule/structure", W, 7, "A", "YAML bool")], id="label-value-bool"),
    pytest.param("alerts:\n  - expr: up == 0\n", [("rule/structure", E, 2, None, "alert without a `name`")],
                 id="seed-without-name"),
    pytest.param("alerts:\n  - name: a\n    expr: up == 0\n    runbook: x\n",
                 [("rule/structure", E, 4, "a", "unknown key 'runbook' in a seed alert")], id="seed-unknown-key"),
    pytest.param("alerts:\n  - name: a\n    expr: up == 0\n    severity: info\n    labels: {severity: warning}\n",
                 [("rule/structure", E, 4, "a", "disagree")], id="seed-severity-twice"),
    # yaml/duplicate-key
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  expr: up == 1"),
                 [("yaml/duplicate-key", E, 6, "A", "duplicate key 'expr' (first at line 5)")], id="duplicate-key"),
    # group/duplicate-name
    pytest.param("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
                 [("group/duplicate-name", E, 4, None, "already used at line 2")], id="duplicate-group-name"),
    pytest.param("groups:\n  - name: g\n    rules: []\n---\ngroups:\n  - name: g\n    rules: []\n", [],
                 id="same-group-name-in-two-documents"),
    # promql/syntax
    pytest.param(rule_yaml("- alert: A\n  for: 5m\n  expr: sum(rate(x[5m]) > 1"),
                 [("promql/syntax", E, 6, "A", "unclosed left parenthesis")], id="promql-syntax"),
    pytest.param(rule_yaml("- record: x\n  expr: 'test +'"), [("promql/syntax", E, 5, "x", "invalid PromQL")],
                 id="promql-syntax-incomplete"),
    pytest.param(rule_yaml("- alert: A\n  expr: |\n    sum by (job) (\n      rate(x[5m])\n    ) > 1"), [],
                 id="promql-multi-line-ok"),
    # alerts/for
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  for: 300"),
                 [("alerts/for", E, 6, "A", "invalid `for`: '300' is not a duration")], id="for-without-unit"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  for: -5m"),
                 [("alerts/for", E, 6, "A", "negative")], id="for-negative"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  for: ''"),
                 [("alerts/for", E, 6, "A", "empty duration")], id="for-empty"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  keep_firing_for: 1.5h"),
                 [("alerts/for", E, 6, "A", "invalid `keep_firing_for`")], id="keep-firing-for-fraction"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  for: 1h30m\n  keep_firing_for: 0"), [],
                 id="durations-ok"),
    pytest.param("alerts:\n  - name: a\n    expr: up == 0\n    for: 5 m\n",
                 [("alerts/for", E, 4, "a", "not a duration")], id="for-in-seed"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_checks_report(tmp_path, text, expected):
    found = run_checks(write(tmp_path, text))
    assert [f[:4] for f in found] == [e[:4] for e in expected], found
    for f, e in zip(found, expected):
        assert e[4] in f[4], (f[4], e[4])


@pytest.mark.parametrize("text, ok", [
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    page: true"), True, id="bool-label-value"),
    pytest.param("groups:\n  - name: g\n", True, id="group-without-rules"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  for: 0s"), True, id="zero-for-on-record"),
    pytest.param(rule_yaml("- alert: Any name, even with spaces!\n  expr: up == 0"), True, id="free-alert-name"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  for: 5m"), False, id="for-on-record"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  for: 300"), False, id="for-without-unit"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  expr: up == 1"), False, id="duplicate-key"),
    pytest.param("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", False, id="duplicate-group"),
    pytest.param(rule_yaml("- alert: A\n  expr: up == 0\n  labels:\n    team: {a: b}"), False, id="label-mapping"),
    pytest.param(rule_yaml("- record: a:b\n  expr: up\n  annotations: {summary: x}"), False, id="annotations-record"),
])
def test_errors_agree_with_promtool(tmp_path, text, ok):
    """What we call an error promtool refuses; what we only warn about promtool accepts."""
    if not Path(PROMTOOL).exists():
        pytest.skip("promtool is not installed (Debian package prometheus)")
    path = write(tmp_path, text)
    result = subprocess.run([PROMTOOL, "check", "rules", path], check=False, capture_output=True, text=True)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    errors = [f for f in run_checks(path) if f[1] >= Severity.ERROR]
    assert (not errors) == ok, errors


@pytest.mark.parametrize("text, ok", [
    pytest.param(v, True, id=v) for v in ("0", "0s", "5m", "1h30m", "1y2w3d4h5m6s7ms", "500ms", "90s", "1s1ms")
] + [
    pytest.param(v, False, id=v or "empty") for v in ("", "-5m", "300", "5m1h", "1.5h", "5 m", "1mm", "5M", "1h1h",
                                                      "ms", "9999999y", "٥m")
])
def test_durations(text, ok):
    assert (duration_error(text) is None) == ok


def test_every_check_has_its_name_and_severity():
    assert {c.NAME: c.SEVERITY for c in CHECKS} == {
        "rule/structure": E, "yaml/duplicate-key": E, "group/duplicate-name": E, "promql/syntax": E,
        "alerts/for": E}


@pytest.mark.parametrize("comment, where, reported", [
    pytest.param("", "rule", True, id="not-disabled"),
    pytest.param("# mlobs: disable=alerts/for", "above", False, id="rule-above"),
    pytest.param("# mlobs: disable=alerts/for", "inline", False, id="rule-inline"),
    pytest.param("# mlobs: disable=promql/syntax", "above", True, id="rule-other-check"),
    pytest.param("# mlobs: disable=alerts/for", "file", False, id="file"),
])
def test_disable_comments_silence_findings_in_validate(tmp_path, comment, where, reported):
    above = f"      {comment}\n" if where == "above" else ""
    inline = f"  {comment}" if where == "inline" else ""
    top = f"{comment}\n" if where == "file" else ""
    text = (f"{top}groups:\n  - name: g\n    rules:\n{above}      - alert: A{inline}\n        expr: up == 0\n"
            "        for: 300\n")
    path = write(tmp_path, text)
    report = validate([path], Context(load_catalogue()), CHECKS)
    assert any(f.check == "alerts/for" for f in report.findings) == reported


def test_disable_comment_silences_loader_problems_on_the_rule(tmp_path):
    path = write(tmp_path, rule_yaml("# mlobs: disable=yaml/duplicate-key\n- alert: A\n  expr: up == 0\n"
                                     "  expr: up == 1"))
    report = validate([path], Context(load_catalogue()), CHECKS)
    assert report.findings == ()


# -- the real world ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_findings():
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is missing")
    files = sorted(p for p in CORPUS.glob("*/*") if p.suffix in (".yml", ".yaml"))
    return {p: run_checks(str(p)) for p in files}


def test_no_false_errors_on_the_real_world_corpus(corpus_findings):
    real = {p: f for p, f in corpus_findings.items() if p.parent.name != FIXTURES}
    assert len(real) == 241  # 228 rule files and 13 PrometheusRule manifests
    assert {str(p.relative_to(CORPUS)): f for p, f in real.items() if f} == {}


@pytest.mark.parametrize("fixture, checks", [
    pytest.param("bad-rules-syntax", {"promql/syntax"}, id="bad-rules-syntax"),
    pytest.param("features", {"promql/syntax", "rule/structure"}, id="features"),
    pytest.param("rules_extrafields", {"rule/structure"}, id="rules_extrafields"),
    # valid for these checks: bad-rules-error fails only when evaluated (many-to-many matching), rules-bad has a
    # template error (alerts/template), the duplicates are promtool's duplicate-rule lint.
    pytest.param("bad-rules-error", set(), id="bad-rules-error"),
    pytest.param("rules", set(), id="rules"),
    pytest.param("rules-bad", set(), id="rules-bad"),
    pytest.param("rules_duplicates", set(), id="rules_duplicates"),
    pytest.param("prometheus-rules.lint", set(), id="prometheus-rules-lint"),
    pytest.param("at-modifier", set(), id="at-modifier"),
    pytest.param("negative-offset", set(), id="negative-offset"),
])
def test_promtool_fixtures(corpus_findings, fixture, checks):
    path = CORPUS / FIXTURES / f"cmd__promtool__testdata__{fixture}.yml"
    found = corpus_findings[path]
    assert {f[0] for f in found} == checks
    assert all(f[1] == E for f in found)
