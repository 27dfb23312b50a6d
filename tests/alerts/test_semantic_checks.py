"""The semantic checks (catalogue, templates, policy, duplicates): table-driven cases, the seed, the corpus."""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest
import yaml

from mlobs_cli.alerts.base import Context, Group, Rule, RuleFile, Severity
from mlobs_cli.alerts.checks import (
    alerts_comparison,
    alerts_duplicate,
    alerts_policy,
    alerts_template,
    promql_counter,
    promql_histogram,
    promql_labels,
    promql_vector_matching,
)
from mlobs_cli.catalogue import load

CTX = Context(load())
CHECKS = [m.CHECK for m in (alerts_comparison, alerts_template, promql_histogram, promql_counter,
                            promql_vector_matching, promql_labels, alerts_policy, alerts_duplicate)]
GOOD_ANNOTATIONS = {"summary": "something is wrong with {{ $labels.model }}", "runbook_url": "https://x"}
KEYS = {"alert": 10, "expr": 11, "labels": 12, "annotations": 14}


def rule(expr: str, name: str = "r", labels: dict | None = None, annotations: dict | None = None,
         kind: str = "alert", line: int = 10) -> Rule:
    labels = {"severity": "warning"} if labels is None else labels
    annotations = dict(GOOD_ANNOTATIONS) if annotations is None else annotations
    return Rule(kind=kind, name=name, expr=expr, group="g", line=line, expr_line=line + 1,
                keys={k: v - 10 + line for k, v in KEYS.items()}, labels=labels, annotations=annotations)


def problems(check, r: Rule):
    return list(check.check_rule(r, CTX))


# ---------------------------------------------------------------------------------------------- expression checks
BAD, OK = True, False
SEED_LATENCY_OK = "histogram_quantile(0.99, sum by (le, model) (rate(inference_latency_seconds_bucket[5m]))) > 0.1"
SEED_ERRORS_OK = ("sum by (model) (rate(inference_errors_total[5m])) / "
                  "sum by (model) (rate(inference_requests_total[5m])) > 0.01")
SEED_DRIFT_OK = "max by (model) (feature_psi) > 0.2"

EXPR_CASES = [
    # alerts/comparison
    pytest.param(alerts_comparison, "rate(inference_errors_total[5m])", BAD, id="comparison-none"),
    pytest.param(alerts_comparison, "sum by (model) (feature_psi)", BAD, id="comparison-aggregation-only"),
    pytest.param(alerts_comparison, "feature_psi > bool 0.2", BAD, id="comparison-bool"),
    pytest.param(alerts_comparison, "feature_psi > 0.2 or feature_psi", BAD, id="comparison-or-one-side"),
    pytest.param(alerts_comparison, "up", BAD, id="comparison-bare-up"),
    pytest.param(alerts_comparison, 'up{job="api"}', BAD, id="comparison-target-matcher-is-no-condition"),
    pytest.param(alerts_comparison, SEED_DRIFT_OK, OK, id="comparison-ok"),
    pytest.param(alerts_comparison, "(feature_psi > 0.2)", OK, id="comparison-parens"),
    pytest.param(alerts_comparison, "absent(up{job='x'})", OK, id="comparison-absent"),
    pytest.param(alerts_comparison, "absent_over_time(up[5m])", OK, id="comparison-absent-over-time"),
    pytest.param(alerts_comparison, "up unless on(job) feature_psi", OK, id="comparison-unless"),
    pytest.param(alerts_comparison, "feature_psi and on(model) request_queue_depth > 100", OK,
                 id="comparison-and-rhs"),
    pytest.param(alerts_comparison, "count(up == 0) by (job)", OK, id="comparison-inside-aggregation"),
    pytest.param(alerts_comparison, "(feature_psi > 0.2) * 100", OK, id="comparison-then-arithmetic"),
    pytest.param(alerts_comparison, "vector(1)", OK, id="comparison-watchdog"),
    pytest.param(alerts_comparison, 'iface_info{operstate="down"}', OK, id="comparison-state-selector"),
    # promql/histogram
    pytest.param(promql_histogram, "histogram_quantile(0.99, inference_latency_seconds) > 0.1", BAD,
                 id="histogram-family-name"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, rate(inference_latency_seconds_sum[5m])) > 0.1",
                 BAD, id="histogram-sum-series"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, inference_latency_seconds_bucket) > 0.1", BAD,
                 id="histogram-raw-bucket"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, sum by (model) "
                 "(rate(inference_latency_seconds_bucket[5m]))) > 0.1", BAD, id="histogram-by-without-le"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, sum without (le) "
                 "(rate(inference_latency_seconds_bucket[5m]))) > 0.1", BAD, id="histogram-without-le"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, sum(rate(x_bucket[5m]))) > 1", BAD,
                 id="histogram-unknown-sum-drops-le"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, rate(feature_psi[5m])) > 1", BAD,
                 id="histogram-gauge"),
    pytest.param(promql_histogram, "histogram_quantile(0.9, rate(x_count[5m])) > 1", BAD,
                 id="histogram-unknown-count"),
    pytest.param(promql_histogram, SEED_LATENCY_OK, OK, id="histogram-ok"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, sum(rate(inference_latency_seconds_bucket[5m])) "
                 "by (le)) > 0.1", OK, id="histogram-ok-by-le"),
    pytest.param(promql_histogram, "histogram_quantile(0.99, rate(inference_latency_seconds_bucket[5m])) > 0.1",
                 OK, id="histogram-ok-no-aggregation"),
    pytest.param(promql_histogram, "histogram_quantile(0.9, sum by (job) (rate(native_seconds[5m]))) > 1", OK,
                 id="histogram-native-unknown"),
    pytest.param(promql_histogram, "histogram_quantile(0.9, job:x_bucket:rate5m) > 1", OK,
                 id="histogram-recorded-rate"),
    # promql/counter
    pytest.param(promql_counter, "inference_errors_total > 100", BAD, id="counter-compared"),
    pytest.param(promql_counter, "sum by (model) (inference_errors_total) / 2 > 1", BAD,
                 id="counter-arithmetic-through-sum"),
    pytest.param(promql_counter, "inference_latency_seconds_count > 1000", BAD, id="counter-histogram-count"),
    pytest.param(promql_counter, "rate(feature_psi[5m]) > 0.1", BAD, id="counter-rate-on-gauge"),
    pytest.param(promql_counter, "increase(request_queue_depth[1h]) > 10", BAD, id="counter-increase-on-gauge"),
    pytest.param(promql_counter, "rate(inference_errors_total[5m]) > 1", OK, id="counter-rate"),
    pytest.param(promql_counter, "increase(inference_errors_total[1h]) > 1", OK, id="counter-increase"),
    pytest.param(promql_counter, "inference_requests_total == 0", OK, id="counter-equals-zero"),
    pytest.param(promql_counter, "count(inference_requests_total) < 1", OK, id="counter-counted"),
    pytest.param(promql_counter, "absent(inference_requests_total)", OK, id="counter-absent"),
    pytest.param(promql_counter, "unknown_total > 5", OK, id="counter-unknown-metric"),
    pytest.param(promql_counter, "deriv(request_queue_depth[10m]) > 1", OK, id="counter-deriv-gauge"),
    # promql/vector-matching
    pytest.param(promql_vector_matching, "rate(inference_errors_total[5m]) / rate(inference_requests_total[5m]) "
                 "> 0.01", BAD, id="matching-seed-error-rate"),
    pytest.param(promql_vector_matching, "gpu_memory_used_bytes / gpu_utilization_percent > 1", BAD,
                 id="matching-extra-label"),
    pytest.param(promql_vector_matching, "sum by (model) (feature_psi) > sum by (feature) (feature_psi)", BAD,
                 id="matching-aggregations-differ"),
    pytest.param(promql_vector_matching, "feature_psi and sum by (model) (feature_psi)", BAD,
                 id="matching-and"),
    pytest.param(promql_vector_matching, SEED_ERRORS_OK, OK, id="matching-ok-seed-fixed"),
    pytest.param(promql_vector_matching, "gpu_memory_used_bytes / gpu_memory_total_bytes > 0.9", OK,
                 id="matching-ok-same-labels"),
    pytest.param(promql_vector_matching, "rate(inference_errors_total[5m]) / ignoring(error_type) group_left "
                 "sum without (status) (rate(inference_requests_total[5m]))", BAD,
                 id="matching-ignoring-not-enough"),
    pytest.param(promql_vector_matching, "sum by (model, error_type) (rate(inference_errors_total[5m])) "
                 "/ ignoring(error_type) group_left sum by (model) (rate(inference_requests_total[5m]))", OK,
                 id="matching-ok-ignoring"),
    pytest.param(promql_vector_matching, "rate(inference_errors_total[5m]) / on(model) group_left "
                 "sum by (model) (rate(inference_requests_total[5m]))", OK, id="matching-ok-on"),
    pytest.param(promql_vector_matching, "feature_psi or sum by (model) (feature_psi)", OK, id="matching-ok-or"),
    pytest.param(promql_vector_matching, "foo / bar > 1", OK, id="matching-unknown-metrics"),
    pytest.param(promql_vector_matching, "feature_psi > 0.2", OK, id="matching-scalar"),
    # promql/labels
    pytest.param(promql_labels, "max(feature_psi) by (model_id) > 0.2", BAD, id="labels-by"),
    pytest.param(promql_labels, "sum without (model_id) (feature_psi) > 0.2", BAD, id="labels-without"),
    pytest.param(promql_labels, 'feature_psi{model_id="a"} > 0.2', BAD, id="labels-matcher"),
    pytest.param(promql_labels, "sum by (le) (rate(inference_latency_seconds_count[5m])) > 1", BAD,
                 id="labels-le-on-count"),
    pytest.param(promql_labels, "sum by (feature) (sum by (model) (feature_psi)) > 1", BAD,
                 id="labels-dropped-by-inner-aggregation"),
    pytest.param(promql_labels, "feature_psi > on(gpu_id) request_queue_depth", BAD, id="labels-on"),
    pytest.param(promql_labels, "gpu_utilization_percent * on(gpu_id) group_left(model_id) "
                 "gpu_memory_used_bytes", BAD, id="labels-group-left"),
    pytest.param(promql_labels, SEED_DRIFT_OK, OK, id="labels-ok"),
    pytest.param(promql_labels, 'feature_psi{job="x", instance=~".+", model="a"} > 0.2', OK,
                 id="labels-ok-target-labels"),
    pytest.param(promql_labels, "sum by (le) (rate(inference_latency_seconds_bucket[5m])) > 1", OK,
                 id="labels-ok-le-on-bucket"),
    pytest.param(promql_labels, "max by (whatever) (unknown_metric) > 1", OK, id="labels-ok-unknown"),
    pytest.param(promql_labels, "sum by (instance) (feature_psi) > 1", OK, id="labels-ok-target-in-by"),
]


@pytest.mark.parametrize(("module", "expr", "flagged"), EXPR_CASES)
def test_expression_checks(module, expr, flagged):
    found = problems(module.CHECK, rule(expr, line=20))
    assert bool(found) is flagged, found
    for p in found:
        assert p.line == 21  # the expr: line
        assert p.rule == "r" and p.check == module.CHECK.NAME


def test_expression_checks_ignore_bad_syntax_and_recording_rules_where_alert_only():
    for check in CHECKS[:-1]:
        assert problems(check, rule("sum(rate(x[5m])")) == []
    assert problems(alerts_comparison.CHECK, rule("sum(x)", kind="record")) == []


def test_messages_name_the_metric_and_the_fix():
    [p] = problems(promql_histogram.CHECK, rule("histogram_quantile(0.99, inference_latency_seconds) > 0.1"))
    assert "inference_latency_seconds_bucket" in p.message and "le" in p.message
    [p] = problems(promql_labels.CHECK, rule("max(feature_psi) by (model_id) > 0.2"))
    assert "model_id" in p.message and "feature_psi" in p.message and "model" in p.message
    [p] = problems(promql_vector_matching.CHECK, rule("rate(inference_errors_total[5m]) / "
                                                      "rate(inference_requests_total[5m]) > 0.01"))
    assert "error_type" in p.message and "sum by (model)" in p.message
    [p] = problems(promql_counter.CHECK, rule("inference_errors_total > 100"))
    assert "rate(inference_errors_total[5m])" in p.message


# ------------------------------------------------------------------------------------------------- alerts/template
TEMPLATE_CASES = [
    pytest.param({"summary": "{{ $labels.model"}, None, "error", id="unclosed-action"),
    pytest.param({"summary": "{{ if $labels.model }}x"}, None, "error", id="if-without-end"),
    pytest.param({"summary": "{{ range query \"up\" }}{{ .Labels.x }}"}, None, "error", id="range-without-end"),
    pytest.param({"summary": "x{{ end }}"}, None, "error", id="end-without-opener"),
    pytest.param({"summary": "{{ $value | humanise }}"}, None, "error", id="unknown-function"),
    pytest.param({"summary": "{{ printf \"%.2f\" $value }"}, None, "error", id="half-closed"),
    pytest.param({"summary": "{{ (humanize $value }}"}, None, "error", id="unbalanced-parens"),
    pytest.param({"summary": "{{ $labels.model_id }}"}, None, "error", id="label-not-in-catalogue"),
    pytest.param({"summary": "{{ .Labels.feature }}"}, None, "error", id="dot-labels-dropped"),
    pytest.param({"summary": '{{ index $labels "feature" }}'}, None, "error", id="index-labels-dropped"),
    pytest.param(None, {"severity": "warning", "value": "{{ $value }}"}, "warning", id="value-in-label"),
    pytest.param(None, {"severity": "warning", "value": "{{ .Value | humanize }}"}, "warning",
                 id="dot-value-in-label"),
    pytest.param({"summary": "{{ $labels.model }} at {{ $value | humanizePercentage }}"}, None, None, id="ok"),
    pytest.param({"summary": "{{- if gt $value 1.0 -}} big {{- else -}} small {{- end }} {{/* note */}}"}, None,
                 None, id="ok-if-else-trim-comment"),
    pytest.param({"summary": '{{ with query "up" }}{{ . | first | label "instance" }}{{ end }}'}, None, None,
                 id="ok-with-query"),
    pytest.param({"summary": "{{ $labels.instance }} {{ $labels.job }}"}, None, "error",
                 id="target-label-dropped-by-aggregation"),
    pytest.param({"summary": 'value is {{ printf "%.2f" $value }} }} not an action'}, None, None,
                 id="ok-stray-closing-braces-are-text"),
    pytest.param({"description": "no template at all: 100% {"}, None, None, id="ok-plain-text"),
    pytest.param(None, {"severity": "warning", "team": "{{ $labels.model }}"}, None, id="ok-label-template"),
    pytest.param({"summary": "Instance {{ $label.model }} down"}, None, "error", id="undefined-variable-label"),
    pytest.param({"summary": "{{ $threshold }}"}, None, "error", id="undefined-variable"),
    pytest.param({"summary": "{{ $t := 0.2 }}{{ $labels.model }} over {{ $t }} ({{ $externalURL }})"}, None, None,
                 id="ok-declared-and-predefined-variables"),
    pytest.param({"summary": '{{ range $i, $s := query "up" }}{{ $i }}{{ $s.Value }}{{ end }}'}, None, None,
                 id="ok-range-variables"),
]


@pytest.mark.parametrize(("annotations", "labels", "expected"), TEMPLATE_CASES)
def test_alert_template(annotations, labels, expected):
    r = rule("max by (model) (feature_psi) > 0.2", annotations=annotations, labels=labels)
    found = problems(alerts_template.CHECK, r)
    if expected is None:
        assert found == []
        return
    assert found and {str(p.severity) for p in found} == {expected}
    assert all(p.line == (12 if labels else 14) for p in found)  # labels: / annotations: line


def test_alert_template_labels_provably_missing():
    def refs(expr: str, label: str) -> list:
        return problems(alerts_template.CHECK, rule(expr, annotations={"summary": f"{{{{ $labels.{label} }}}}"}))

    assert refs("absent(up{job='x'})", "instance") and not refs("absent(up{job='x'})", "job")
    assert refs("feature_psi > on(model) sum by (model) (feature_psi)", "feature")
    assert refs("histogram_quantile(0.9, sum by (le, model) (rate(inference_latency_seconds_bucket[5m]))) > 1",
                "le")
    assert not refs("unknown_metric > 1", "anything")  # not in the catalogue: not judged
    assert not refs("feature_psi > 0.2", "instance")  # a target label the selector may carry
    assert not refs('label_replace(max by (model) (feature_psi), "model_id", "$1", "model", "(.*)") > 0', "model_id")


# --------------------------------------------------------------------------------------------------- alerts/policy
POLICY_CASES = [
    pytest.param({}, GOOD_ANNOTATIONS, ["severity` label"], id="no-severity"),
    pytest.param({"severity": "page"}, GOOD_ANNOTATIONS, ["`page` is not"], id="unknown-severity"),
    pytest.param({"severity": "critical"}, {"summary": "x"}, ["runbook_url"], id="critical-no-runbook"),
    pytest.param({"severity": "emergency"}, {"summary": "x", "runbook": ""}, ["runbook_url"],
                 id="emergency-empty-runbook"),
    pytest.param({"severity": "warning"}, {"description": "x"}, ["summary"], id="no-summary"),
    pytest.param({"severity": "critical"}, {"summary": "x", "runbook": "https://wiki"}, [], id="ok-runbook"),
    pytest.param({"severity": "info"}, {"summary": "x"}, [], id="ok-info"),
    pytest.param({"severity": "{{ $labels.sev }}"}, {"summary": "x"}, [], id="ok-templated-severity"),
]


@pytest.mark.parametrize(("labels", "annotations", "expected"), POLICY_CASES)
def test_alert_policy(labels, annotations, expected):
    found = problems(alerts_policy.CHECK, rule("up == 0", labels=labels, annotations=annotations))
    assert len(found) == len(expected)
    for p, word in zip(found, expected):
        assert word in p.message and p.severity == Severity.WARNING
    assert problems(alerts_policy.CHECK, rule("x", labels={}, annotations={}, kind="record")) == []


# ------------------------------------------------------------------------------------------------ alerts/duplicate
def _file(*rules: Rule) -> RuleFile:
    return RuleFile("f.yml", "prometheus", (Group("g", 1, tuple(rules), {}),))


DUPLICATE_CASES = [
    pytest.param(rule("sum(rate(x[5m])) by (a) > 1", "A", line=1),
                 rule("sum by (a) (\n  rate(x[5m])\n) > 1", "A", line=9), True, id="same-after-formatting"),
    pytest.param(rule('sum(rate(x{code=~"2.."}[5m]))', "r:x", kind="record", line=1),
                 rule('sum(rate(x{code=~"2.."}[5m]))', "r:x", kind="record", line=9), True, id="recording"),
    pytest.param(rule('sum(rate(x{code="200"}[5m])) > 1', "A", line=1),
                 rule('sum(rate(x{code="500"}[5m])) > 1', "A", line=9), False, id="disjoint-selectors"),
    pytest.param(rule("x > 1", "A", labels={"severity": "warning"}, line=1),
                 rule("x > 1", "A", labels={"severity": "critical"}, line=9), False, id="different-labels"),
    pytest.param(rule("x > 1", "A", line=1), rule("x > 2", "A", line=9), False, id="different-threshold"),
    pytest.param(rule("x > 1", "A", line=1), rule("x > 1", "B", line=9), False, id="different-name"),
]


@pytest.mark.parametrize(("first", "second", "flagged"), DUPLICATE_CASES)
def test_alert_duplicate(first, second, flagged):
    found = list(alerts_duplicate.CHECK.check_file(_file(first, second), CTX))
    assert bool(found) is flagged
    if flagged:
        [p] = found
        assert p.line == 9 and "line 1" in p.message and p.severity == Severity.WARNING


def test_every_check_has_a_docs_page_and_docstring_sections():
    root = Path(__file__).resolve().parents[2]
    for check in CHECKS:
        page = root / "docs" / "checks" / f"{check.NAME}.md"
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"# {check.NAME}\n")
        for section in ("## What it checks", "## Why it matters", "## Example", "## How to fix", "## How to disable"):
            assert section in text, (page, section)
        assert f"mlobs: disable={check.NAME}" in text
        doc = type(check).__doc__
        for section in ("What it checks:", "Why it matters:", "Example:", "How to fix:"):
            assert section in doc, (check.NAME, section)


# ----------------------------------------------------------------------------------------------- the seed's rules
def _seed_path() -> Path | None:
    for path in (Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "observability-design.md",
                 Path("/work/shared/seed/observability-design.md")):
        if path.exists():
            return path
    return None


def _rule_from_dict(d: dict, group: str) -> Rule | None:
    if not isinstance(d, dict) or not any(k in d for k in ("alert", "record", "name")):
        return None
    labels = {str(k): str(v) for k, v in (d.get("labels") or {}).items()}
    if "severity" in d:  # the seed's shorthand keeps severity beside the labels
        labels["severity"] = str(d["severity"])
    annotations = {str(k): str(v) for k, v in (d.get("annotations") or {}).items()}
    kind = "record" if "record" in d else "alert"
    return Rule(kind=kind, name=str(d.get("alert") or d.get("record") or d.get("name")), expr=str(d.get("expr", "")),
                group=group, line=1, expr_line=2, keys={}, labels=labels, annotations=annotations)


def run_all(rules: list[Rule]) -> list:
    found = []
    for check in CHECKS:
        for r in rules:
            found += check.check_rule(r, CTX)
        found += check.check_file(_file(*rules), CTX)
    return found


def test_seed_rules():
    path = _seed_path()
    if path is None:
        pytest.skip("the seed design document is not here")
    block = re.search(r"### Alert Rules\s*```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL).group(1)
    rules = [_rule_from_dict(d, "seed") for d in yaml.safe_load(block)["alerts"]]
    assert len(rules) == 10
    found = run_all(rules)
    errors = {(p.rule, p.check) for p in found if p.severity == Severity.ERROR}
    assert errors == {
        ("high_latency_p99", "promql/histogram"),
        ("critical_latency_p99", "promql/histogram"),
        ("high_error_rate", "promql/vector-matching"),
        ("critical_error_rate", "promql/vector-matching"),
        ("data_drift_detected", "promql/labels"),
        # $labels.model_id where the result has no model_id (the catalogue's label is `model`)
        ("high_error_rate", "alerts/template"),
        ("critical_error_rate", "alerts/template"),
        ("data_drift_detected", "alerts/template"),
        ("high_latency_p99", "alerts/template"),
        ("critical_latency_p99", "alerts/template"),
    }
    warnings = {(p.rule, p.check) for p in found if p.severity == Severity.WARNING}
    assert warnings == {("critical_error_rate", "alerts/policy"), ("no_healthy_replicas", "alerts/policy")}


def test_seed_rules_fixed_are_clean():
    fixed = [
        rule(SEED_LATENCY_OK, "high_latency_p99"),
        rule(SEED_ERRORS_OK, "high_error_rate"),
        rule(SEED_DRIFT_OK, "data_drift_detected"),
        rule("gpu_memory_used_bytes / gpu_memory_total_bytes > 0.9", "gpu_memory_high",
             annotations={"summary": "GPU memory >90% on {{ $labels.instance }}"}),
    ]
    assert run_all(fixed) == []


# ---------------------------------------------------------------------------------------------------- the corpus
CORPUS = Path("/work/shared/corpus/rules")


def _corpus_rule_groups():
    for path in sorted(glob.glob(str(CORPUS / "*" / "*.y*ml"))):
        try:
            docs = list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            groups = doc.get("groups")
            if groups is None and isinstance(doc.get("spec"), dict):
                groups = doc["spec"].get("groups")
            if not isinstance(groups, list):
                continue
            for g in groups:
                if isinstance(g, dict) and isinstance(g.get("rules"), list):
                    rules = [_rule_from_dict(d, str(g.get("name"))) for d in g["rules"]]
                    yield path, [r for r in rules if r is not None]


def test_corpus_smoke():
    if not CORPUS.is_dir():
        pytest.skip("the rule corpus is not here")
    counts: dict[tuple[str, str], int] = {}
    n = 0
    for _, rules in _corpus_rule_groups():
        n += len(rules)
        for p in run_all(rules):
            counts[(p.check, str(p.severity))] = counts.get((p.check, str(p.severity)), 0) + 1
    assert n > 3000
    # corpus metrics are not in our catalogue: the catalogue checks stay (nearly) silent
    for check in ("promql/counter", "promql/vector-matching", "promql/labels"):
        assert counts.get((check, "error"), 0) == 0, counts
    assert counts.get(("promql/histogram", "error"), 0) <= 1  # thanos: sum by (job) drops le, a true bug
    assert counts.get(("alerts/comparison", "error"), 0) <= 1  # cilium: sum of a state gauge, a true problem
