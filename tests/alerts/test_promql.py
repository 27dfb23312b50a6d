"""mlobs_cli.alerts.promql: parsing, walking, and the labels an expression's result carries."""

from __future__ import annotations

import promql_parser as pp
import pytest

from mlobs_cli.alerts import promql
from mlobs_cli.catalogue import load

CAT = load()
T = promql.TARGET_LABELS


def test_parse_is_cached_and_returns_none_on_bad_syntax():
    assert promql.parse("sum(rate(x[5m]))") is promql.parse("sum(rate(x[5m]))")
    assert promql.parse("sum(rate(x[5m])") is None
    assert promql.parse("x +") is None


def test_walk_yields_every_node_with_its_parents():
    ast = promql.parse('sum by (a) (rate(x{b="c"}[5m])) > 1')
    nodes = list(promql.walk(ast))
    kinds = [type(n).__name__ for n, _ in nodes]
    assert kinds == ["BinaryExpr", "AggregateExpr", "Call", "MatrixSelector", "VectorSelector", "NumberLiteral"]
    sel, parents = nodes[4]
    assert promql.selector_name(sel) == "x" and len(parents) == 4


def test_selector_name_from_name_matcher():
    assert promql.selector_name(promql.parse('{__name__="feature_psi"}')) == "feature_psi"


def test_canonical_ignores_formatting():
    assert promql.canonical("sum(x) by (a)") == promql.canonical("sum by (a)\n  (x)")
    assert promql.canonical("x{a='1'}") != promql.canonical('x{a="2"}')


# (expression, labels provably present, upper bound or None for unbounded, known)
CASES = [
    pytest.param("feature_psi", {"__name__", "model", "feature"}, {"__name__", "model", "feature"} | T, True,
                 id="catalogue-selector"),
    pytest.param("inference_latency_seconds_bucket", {"__name__", "model", "version", "le"},
                 {"__name__", "model", "version", "le"} | T, True, id="bucket-has-le"),
    pytest.param("inference_latency_seconds_count", {"__name__", "model", "version"},
                 {"__name__", "model", "version"} | T, True, id="count-has-no-le"),
    pytest.param('feature_psi{team="a"}', {"__name__", "model", "feature", "team"},
                 {"__name__", "model", "feature", "team"} | T, True, id="equality-matcher-adds"),
    pytest.param('feature_psi{model=""}', {"__name__", "feature"}, {"__name__", "feature"} | T, True,
                 id="empty-matcher-removes"),
    pytest.param('unknown_metric{a="b"}', {"__name__", "a"}, None, False, id="unknown-metric-unbounded"),
    pytest.param("rate(inference_requests_total[5m])", {"model", "version", "status"},
                 {"model", "version", "status"} | T, True, id="rate-keeps-drops-name"),
    pytest.param("sum by (model) (feature_psi)", {"model"}, {"model"}, True, id="sum-by"),
    pytest.param("sum by (model_id) (feature_psi)", set(), set(), True, id="sum-by-missing-label"),
    pytest.param("sum(feature_psi)", set(), set(), True, id="sum-no-labels"),
    pytest.param("sum by (a) (unknown)", set(), {"a"}, False, id="sum-by-unknown-bounded"),
    pytest.param("sum without (feature) (feature_psi)", {"model"}, {"model"} | T, True, id="without"),
    pytest.param("topk(3, feature_psi)", {"__name__", "model", "feature"}, {"__name__", "model", "feature"} | T,
                 True, id="topk-keeps"),
    pytest.param('count_values("v", feature_psi)', {"v"}, {"v"}, True, id="count-values"),
    pytest.param('absent(up{job="x", env="p"})', {"job", "env"}, {"job", "env"}, True, id="absent"),
    pytest.param("absent(up)", set(), set(), True, id="absent-no-matchers"),
    pytest.param("histogram_quantile(0.9, sum by (le, model) (rate(inference_latency_seconds_bucket[5m])))",
                 {"model"}, {"model"}, True, id="histogram-quantile-drops-le"),
    pytest.param('label_replace(sum by (model) (feature_psi), "m", "$1", "model", "(.*)")', {"model", "m"},
                 {"model", "m"}, True, id="label-replace-adds"),
    pytest.param("sum by (model) (rate(inference_errors_total[5m])) / on(model) group_left(version) "
                 "inference_requests_total", {"model", "version"}, {"model", "version"}, True, id="group-left"),
    pytest.param("feature_psi > on(model) sum by (model, x) (feature_psi)", {"model"}, {"model"}, True,
                 id="on-keeps-only-on-labels"),
    pytest.param("feature_psi / ignoring(feature) feature_psi", {"model"}, {"model"} | T, True,
                 id="ignoring-drops"),
    pytest.param("feature_psi > 0.2", {"__name__", "model", "feature"}, {"__name__", "model", "feature"} | T,
                 True, id="filter-keeps-name"),
    pytest.param("feature_psi > bool 0.2", {"model", "feature"}, {"model", "feature"} | T, True,
                 id="bool-drops-name"),
    pytest.param("sum by (a) (x) or sum by (b) (y)", set(), {"a", "b"}, False, id="or-union"),
    pytest.param("vector(1)", set(), set(), True, id="vector"),
]


@pytest.mark.parametrize(("expr", "has", "may", "known"), CASES)
def test_output_labels(expr, has, may, known):
    result = promql.output_labels(promql.parse(expr), CAT)
    assert result.has == frozenset(has)
    assert result.may == (None if may is None else frozenset(may))
    assert result.known is known
    assert not result.scalar


@pytest.mark.parametrize("expr", ["1", "time() - 5", "scalar(feature_psi) * 2", '"s"'])
def test_scalars_have_no_labels(expr):
    result = promql.output_labels(promql.parse(expr), CAT)
    assert result.scalar and result.lacks("model")


def test_lacks_and_shown():
    ls = promql.output_labels(promql.parse("max by (model) (feature_psi)"), CAT)
    assert ls.lacks("model_id") and not ls.lacks("model") and ls.shown() == "{model}"
    sel = promql.output_labels(promql.parse("feature_psi"), CAT)
    assert not sel.lacks("instance") and sel.lacks("model_id") and sel.shown() == "{feature, model}"
    assert not promql.output_labels(promql.parse("unknown"), CAT).lacks("anything")


def test_helpers_on_binary_expressions():
    node = promql.parse("a + ignoring(x) group_right(y) b")
    assert promql.matching(node) == ("ignoring", ("x",))
    assert promql.cardinality(node) == "one-to-many"
    assert promql.cardinality(promql.parse("a and b")) == "many-to-many"
    assert promql.returns_bool(promql.parse("a > bool 1"))
    assert isinstance(promql.strip_parens(promql.parse("((a))")), pp.VectorSelector)
