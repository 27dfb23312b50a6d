"""promql/histogram: histogram_quantile over something that is not a rate of `_bucket` series, or without `le`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.catalogue import Catalogue


def _drops_le(agg: Any) -> bool:
    if promql.op_name(agg) in promql.SELECTING_AGGREGATIONS:
        return False
    mod = agg.modifier
    if mod is None:
        return True
    labels = set(mod.labels or ())
    return "le" not in labels if mod.type == pp.AggModifierType.By else "le" in labels


def quantile_problems(arg: Any, catalogue: Catalogue) -> Iterator[str]:
    """What is wrong with the second argument of one histogram_quantile call."""
    node, dropping = promql.strip_parens(arg), None
    while isinstance(node, pp.AggregateExpr):
        if dropping is None and _drops_le(node):
            dropping = node
        node = promql.strip_parens(node.expr)
    rated = False
    if isinstance(node, pp.Call) and node.func.name in promql.RATE_FUNCTIONS and node.args:
        rated, node = True, promql.strip_parens(node.args[0])
        if isinstance(node, pp.MatrixSelector):
            node = node.vector_selector
        elif isinstance(node, pp.SubqueryExpr):
            node = promql.strip_parens(node.expr)
    if not isinstance(node, pp.VectorSelector):
        return  # a binary expression, another function: nothing we can judge
    name = promql.selector_name(node)
    if not name:
        return
    metric = catalogue.get(name)
    if metric is not None and metric.type == "histogram":
        bucket = f"{metric.name}_bucket"
        if name != bucket:
            what = "the histogram's family name" if name == metric.name else f"`{name}`"
            yield (f"histogram_quantile reads {what}, which has no buckets: use "
                   f"`sum by (le, ...) (rate({bucket}[5m]))`")
        elif not rated:
            yield (f"histogram_quantile over raw `{name}` (cumulative counters since start): use "
                   f"`sum by (le, ...) (rate({bucket}[5m]))`")
        is_bucket = True
    elif metric is not None:
        yield (f"histogram_quantile over `{name}`, a {metric.type} in the catalogue, not a histogram's _bucket "
               "series")
        return
    else:
        if name.endswith(("_sum", "_count")):
            yield (f"histogram_quantile over `{name}`, which has no buckets: use the `_bucket` series, "
                   "`sum by (le) (rate(..._bucket[5m]))`")
            return
        is_bucket = "_bucket" in name
        if is_bucket and not rated and ":" not in name:  # a recorded series (a:b:c) is normally a rate already
            yield f"histogram_quantile over raw `{name}` (cumulative counters): wrap it in rate(...[5m])"
    if dropping is not None and is_bucket:
        yield (f"`{promql.short(dropping, 60)}` drops the `le` label histogram_quantile needs: keep it "
               "(`sum by (le, ...)`)")


class PromqlHistogram(Check):
    """What it checks: every `histogram_quantile(φ, X)` in an expression: X must be a rate (rate, irate,
    increase) of a histogram's `_bucket` series, aggregated (if at all) with `le` kept. Flagged: the family name
    or `_sum`/`_count` series, a raw `_bucket` without rate, a metric the catalogue says is not a histogram, and
    an aggregation that drops `le` (`sum(...)`, `sum by (model)`, `without (le)`). Native histograms (no
    `_bucket`) of metrics outside the catalogue are left alone.

    Why it matters: without `le` or without buckets histogram_quantile returns nothing (or NaN), so the alert never
    fires; over raw cumulative buckets it returns the quantile since the process started, not now.

    Example: `expr: histogram_quantile(0.99, inference_latency_seconds) > 0.1`

    How to fix: `histogram_quantile(0.99, sum by (le, model) (rate(inference_latency_seconds_bucket[5m]))) > 0.1`
    """

    NAME = "promql/histogram"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        for node, _ in promql.nodes(rule.expr):
            if isinstance(node, pp.Call) and node.func.name == "histogram_quantile" and len(node.args) == 2:
                for message in quantile_problems(node.args[1], ctx.catalogue):
                    yield self.problem(message, rule.expr_line, rule.name)


CHECK = PromqlHistogram()
