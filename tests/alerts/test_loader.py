"""The rule-file loader: every form, line numbers, several documents, duplicate keys, disable comments, and the
real-world corpus (../shared/corpus/rules)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Severity

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
CORPUS = SHARED / "corpus" / "rules"
SEED = SHARED / "seed" / "observability-design.md"
FIXTURES = "prometheus__prometheus"
MY_CHECKS = {"rule/structure", "yaml/duplicate-key", "group/duplicate-name", "promql/syntax", "alerts/for"}


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def seed_rules_text() -> str:
    text = SEED.read_text(encoding="utf-8")
    section = text[text.index("### Alert Rules"):]
    return re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)


PROMETHEUS = """
groups:
  - name: serving
    interval: 30s
    rules:
      - alert: HighLatency
        expr: latency > 1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: slow
      - record: job:requests:rate5m
        expr: sum by (job) (rate(requests_total[5m]))
"""

THANOS = """
groups:
  - name: serving
    partial_response_strategy: warn
    rules:
      - alert: HighLatency
        expr: latency > 1
      - record: job:requests:rate5m
        expr: sum by (job) (rate(requests_total[5m]))
"""

MANIFEST = """
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: serving
  labels:
    app: x
spec:
  groups:
    - name: serving
      rules:
        - alert: HighLatency
          expr: latency > 1
        - record: job:requests:rate5m
          expr: sum by (job) (rate(requests_total[5m]))
"""

SEED_FORM = """
alerts:
  - name: high_latency
    expr: latency > 1
    for: 5m
    severity: warning
    labels:
      team: ml
  - name: low_gpu
    expr: gpu_utilization_percent < 30
    severity: info
"""

MULTI = """
groups:
  - name: one
    rules:
      - alert: A
        expr: up == 0
---
groups:
  - name: two
    rules:
      - alert: B
        expr: up == 1
"""

MANIFESTS_AND_OTHERS = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
data:
  x: y
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: a
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expr: up == 0
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: b
spec:
  groups:
    - name: g
      rules:
        - alert: B
          expr: up == 1
"""


@pytest.mark.parametrize("text, form, groups, rules", [
    pytest.param(PROMETHEUS, "prometheus", ["serving"], [("alert", "HighLatency"), ("record", "job:requests:rate5m")],
                 id="prometheus"),
    pytest.param(THANOS, "thanos", ["serving"], [("alert", "HighLatency"), ("record", "job:requests:rate5m")],
                 id="thanos"),
    pytest.param(MANIFEST, "prometheusrule", ["serving"],
                 [("alert", "HighLatency"), ("record", "job:requests:rate5m")], id="prometheusrule"),
    pytest.param(SEED_FORM, "seed", ["rules"], [("alert", "high_latency"), ("alert", "low_gpu")], id="seed"),
    pytest.param(MULTI, "prometheus", ["one", "two"], [("alert", "A"), ("alert", "B")], id="multi-document"),
    pytest.param(MANIFESTS_AND_OTHERS, "prometheusrule", ["g", "g"], [("alert", "A"), ("alert", "B")],
                 id="manifests-among-other-objects"),
    pytest.param("", "prometheus", [], [], id="empty-file"),
    pytest.param("# only a comment\n", "prometheus", [], [], id="only-comments"),
    pytest.param("groups:\n", "prometheus", [], [], id="groups-null"),
    pytest.param("groups: []\n", "prometheus", [], [], id="groups-empty"),
    pytest.param("---\n---\ngroups: []\n", "prometheus", [], [], id="empty-documents"),
])
def test_every_form_is_read(tmp_path, text, form, groups, rules):
    rule_file = loader.load(write(tmp_path, text))
    assert rule_file.form == form
    assert [g.name for g in rule_file.groups] == groups
    assert [(r.kind, r.name) for r in rule_file.rules] == rules
    assert rule_file.problems == ()


def test_lines_of_rules_keys_and_expr(tmp_path):
    rule_file = loader.load(write(tmp_path, PROMETHEUS))
    assert rule_file.lines[0] == "groups:"
    group = rule_file.groups[0]
    assert (group.line, group.keys) == (2, {"name": 2, "interval": 3, "rules": 4})
    alert, record = rule_file.rules
    assert (alert.line, alert.expr_line, alert.group) == (5, 6, "serving")
    assert alert.keys == {"alert": 5, "expr": 6, "for": 7, "labels": 8, "labels.severity": 9,
                          "annotations": 10, "annotations.summary": 11}
    assert (alert.for_, alert.labels, alert.annotations) == ("5m", {"severity": "warning"}, {"summary": "slow"})
    assert (record.line, record.expr_line, record.expr) == (12, 13, "sum by (job) (rate(requests_total[5m]))")
    assert alert.line_of("labels") == 8 and alert.line_of("keep_firing_for") == 5


def test_lines_in_later_documents_count_from_the_file_start(tmp_path):
    a, b = loader.load(write(tmp_path, MULTI)).rules
    assert (a.line, a.expr_line, b.line, b.expr_line) == (4, 5, 10, 11)


def test_lines_of_a_manifest(tmp_path):
    rule_file = loader.load(write(tmp_path, MANIFEST))
    assert rule_file.groups[0].line == 9
    assert [(r.line, r.expr_line) for r in rule_file.rules] == [(11, 12), (13, 14)]


def test_block_scalar_expr_is_reported_at_its_key(tmp_path):
    path = write(tmp_path, """
        groups:
          - name: g
            rules:
              - alert: A
                expr: |
                  sum(rate(x[5m]))
                    > 1
        """)
    (rule,) = loader.load(path).rules
    assert rule.expr_line == 5 and rule.expr == "sum(rate(x[5m]))\n  > 1\n"


def test_seed_form_severity_becomes_a_label(tmp_path):
    rule_file = loader.load(write(tmp_path, SEED_FORM, "serving.yaml"))
    high, low = rule_file.rules
    assert rule_file.groups[0].name == "serving" and rule_file.groups[0].line == 1
    assert high.labels == {"severity": "warning", "team": "ml"} and low.labels == {"severity": "info"}
    assert (high.line, high.expr_line, high.for_, high.line_of("severity")) == (2, 3, "5m", 5)


def test_non_string_scalars_keep_their_text(tmp_path):
    path = write(tmp_path, """
        groups:
          - name: g
            rules:
              - alert: A
                expr: 1
                for: 0
                labels:
                  page: true
                  n: 5
                  empty:
                annotations:
                  ratio: 1.50
        """)
    rule_file = loader.load(path)
    (rule,) = rule_file.rules
    assert (rule.expr, rule.for_) == ("1", "0")
    assert rule.labels == {"page": "true", "n": "5", "empty": ""} and rule.annotations == {"ratio": "1.50"}
    # promtool accepts them (it reads the text): a warning, not an error
    assert [(p.line, p.severity) for p in rule_file.problems] == [(8, Severity.WARNING), (9, Severity.WARNING),
                                                                   (12, Severity.WARNING)]


def test_non_string_label_value_in_a_manifest_is_an_error(tmp_path):
    path = write(tmp_path, MANIFEST.replace("expr: latency > 1", "expr: latency > 1\n          labels: {page: true}"))
    (problem,) = loader.load(path).problems
    assert (problem.check, problem.severity, problem.rule) == ("rule/structure", Severity.ERROR, "HighLatency")


def test_custom_tags_do_not_fail(tmp_path):
    path = write(tmp_path, """
        groups:
          - name: g
            rules:
              - alert: A
                expr: !custom up == 0
        """)
    assert [r.expr for r in loader.load(path).rules] == ["up == 0"]


@pytest.mark.parametrize("text, expected", [
    pytest.param("""
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                expr: up == 1
        """, [(6, "A", "'expr' (first at line 5)")], id="in-rule"),
    pytest.param("""
        groups:
          - name: g
            name: h
            rules: []
        """, [(3, None, "'name' (first at line 2)")], id="in-group"),
    pytest.param("""
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                labels:
                  team: a
                  team: b
        """, [(8, "A", "'team' (first at line 7)")], id="in-labels"),
    pytest.param("""
        groups: []
        groups:
          - name: g
            rules: []
        """, [(2, None, "'groups' (first at line 1)")], id="top-level"),
    pytest.param("""
        a: &x {k: 1}
        b: *x
        groups: []
        """, None, id="aliases-are-not-duplicates"),
])
def test_duplicate_keys(tmp_path, text, expected):
    rule_file = loader.load(write(tmp_path, text))
    found = [(p.line, p.rule, p.message) for p in rule_file.problems if p.check == "yaml/duplicate-key"]
    if expected is None:
        assert found == []
        return
    assert [(line, rule) for line, rule, _ in found] == [(line, rule) for line, rule, _ in expected]
    for (_, _, message), (_, _, part) in zip(found, expected):
        assert part in message


def test_duplicate_key_keeps_the_last_value(tmp_path):
    path = write(tmp_path, """
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                expr: up == 1
        """)
    (rule,) = loader.load(path).rules
    assert (rule.expr, rule.expr_line) == ("up == 1", 6)


@pytest.mark.parametrize("text, rule_disabled, file_disabled", [
    pytest.param("""
        groups:
          - name: g
            rules:
              - alert: A  # mlobs: disable=promql/syntax
                expr: up ==
              - alert: B
                expr: up == 0
        """, {"A": {"promql/syntax"}, "B": set()}, set(), id="on-first-key-line"),
    pytest.param("""
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
              # mlobs: disable=alerts/for, rule/structure
              - alert: B
                expr: up == 0
        """, {"A": set(), "B": {"alerts/for", "rule/structure"}}, set(), id="line-above"),
    pytest.param("""
        groups:
          - name: g
            rules:
              # mlobs: disable=alerts/for
              # this alert is special
              - alert: A
                expr: up == 0
        """, {"A": {"alerts/for"}}, set(), id="comment-block-above"),
    pytest.param("""
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
                labels: {a: b}  # mlobs: disable=alerts/for
              - alert: B
                expr: up == 0
        """, {"A": set(), "B": set()}, set(), id="trailing-comment-of-another-rule"),
    pytest.param("""
        # mlobs: disable=promql/syntax,alerts/for
        groups:
          - name: g
            rules:
              - alert: A
                expr: up == 0
        """, {"A": set()}, {"promql/syntax", "alerts/for"}, id="file-top"),
    pytest.param("""
        groups:  # mlobs: disable=group/duplicate-name
          - name: g
            rules:
              - alert: A
                expr: up == 0
        """, {"A": set()}, {"group/duplicate-name"}, id="file-before-first-group"),
    pytest.param("""
        # mlobs: disable=rule/structure
        alerts:
          # mlobs: disable=alerts/for
          - name: a
            expr: up == 0
        """, {"a": {"alerts/for"}}, {"rule/structure"}, id="seed"),
])
def test_disable_comments(tmp_path, text, rule_disabled, file_disabled):
    rule_file = loader.load(write(tmp_path, text))
    assert {r.name: set(r.disabled) for r in rule_file.rules} == rule_disabled
    assert set(rule_file.disabled) == file_disabled


@pytest.mark.parametrize("content, message", [
    pytest.param(b"groups:\n  - name: [unclosed\n", "line 3", id="unclosed-flow"),
    pytest.param(b"groups:\n  - name: g\n bad: indent\n", "line 3", id="bad-indent"),
    pytest.param(b"a: b\n\tc: d\n", "line 2", id="tab"),
    pytest.param(b"groups: []\nname: \xff\xfe\n", "not UTF-8", id="not-utf8"),
    pytest.param(b"key: 'unterminated\n", "invalid YAML", id="unterminated-quote"),
])
def test_unparsable_files_raise(tmp_path, content, message):
    path = tmp_path / "bad.yml"
    path.write_bytes(content)
    with pytest.raises(loader.RuleFileError) as e:
        loader.load(str(path))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unreadable_file_raises(tmp_path):
    with pytest.raises(loader.RuleFileError, match="cannot read"):
        loader.load(str(tmp_path / "missing.yml"))
    with pytest.raises(loader.RuleFileError, match="cannot read"):
        loader.load(str(tmp_path))


def test_a_bom_is_skipped(tmp_path):
    path = tmp_path / "bom.yml"
    path.write_bytes(b"\xef\xbb\xbf" + PROMETHEUS.lstrip("\n").encode())
    rule_file = loader.load(str(path))
    assert rule_file.lines[0] == "groups:" and len(list(rule_file.rules)) == 2


# -- the seed's rules --------------------------------------------------------------------------------------------

@pytest.fixture
def seed_file(tmp_path):
    if not SEED.is_file():
        pytest.skip(f"{SEED} is missing")
    return write(tmp_path, seed_rules_text(), "seed_alerts.yaml")


def test_the_seed_rules_load_in_seed_form(seed_file):
    rule_file = loader.load(seed_file)
    assert rule_file.form == "seed" and len(list(rule_file.rules)) == 10
    assert not [p for p in rule_file.problems if p.severity >= Severity.ERROR]
    # `page: true` is a YAML bool: a warning on the three paging alerts
    assert sorted(p.rule for p in rule_file.problems) == ["critical_error_rate", "critical_latency_p99",
                                                          "no_healthy_replicas"]
    first = next(iter(rule_file.rules))
    assert (first.name, first.line, first.expr_line) == ("high_latency_p99", 3, 4)
    assert first.labels == {"severity": "warning", "team": "ml-platform"}


# -- the real world ----------------------------------------------------------------------------------------------

def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.suffix in (".yml", ".yaml"))


@pytest.fixture(scope="module")
def corpus():
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is missing")
    return {p: loader.load(str(p)) for p in corpus_files()}  # no RuleFileError


def test_the_corpus_loads(corpus):
    loaded = corpus
    assert len(loaded) >= 238
    manifests = {p: f for p, f in loaded.items() if "kind: PrometheusRule" in p.read_text(encoding="utf-8")}
    assert len(manifests) == 13
    for path, rule_file in manifests.items():
        assert rule_file.form == "prometheusrule", path
        spec = path.with_name(path.name.replace(".yaml", ".spec.yaml"))
        spec_rules = [(r.kind, r.name, r.expr) for r in loaded[spec].rules]
        assert spec_rules and [(r.kind, r.name, r.expr) for r in rule_file.rules] == spec_rules, path
    thanos = {p: f for p, f in loaded.items() if "partial_response_strategy" in p.read_text(encoding="utf-8")}
    assert len(thanos) == 2
    for path, rule_file in thanos.items():
        assert rule_file.form == "thanos" and len(list(rule_file.rules)) > 0, path
    real = [f for p, f in loaded.items() if p.parent.name != FIXTURES and p not in manifests]
    assert sum(1 for f in real for r in f.rules) == 3084
    assert sum(1 for f in real for r in f.rules if r.kind == "alert") == 2116
