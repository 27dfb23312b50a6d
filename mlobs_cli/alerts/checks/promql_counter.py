"""promql/counter: a catalogue counter compared or computed with as is; rate() over a catalogue gauge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.catalogue import Catalogue

# Functions over an instant counter whose result no longer is the counter's value.
VALUE_FREE = frozenset({"absent", "timestamp", "histogram_quantile", "label_replace", "label_join"})
VALUE_FREE_AGGREGATIONS = frozenset({"count", "group", "count_values"})


def series_type(name: str, catalogue: Catalogue) -> str | None:
    """counter, gauge or None (unknown, or a histogram's family name, which is no series at all)."""
    metric = catalogue.get(name)
    if metric is None:
        return None
    if metric.type in ("counter", "gauge"):
        return metric.type
    if name.endswith(("_bucket", "_sum", "_count")) and name != metric.name:
        return "counter"
    return "gauge" if metric.type == "summary" else None


def _misused_counter(parents: tuple[Any, ...], node: Any) -> Any | None:
    """The binary operator that uses this instant counter's raw value, if any (climbing from the selector)."""
    child = node
    for parent in reversed(parents):
        if isinstance(parent, pp.Call):
            if parent.func.name in VALUE_FREE or parent.func.name not in ("abs", "clamp", "clamp_min", "clamp_max",
                                                                          "sort", "sort_desc", "round", "ceil",
                                                                          "floor", "last_over_time"):
                return None
        elif isinstance(parent, pp.AggregateExpr):
            if promql.op_name(parent) in VALUE_FREE_AGGREGATIONS or child is parent.param:
                return None
        elif isinstance(parent, pp.BinaryExpr):
            op = promql.op_name(parent)
            if op in promql.SET_OPS:
                if op == "or" or child is parent.lhs:
                    child = parent
                    continue
                return None  # the right side of and/unless only selects
            other = parent.rhs if child is parent.lhs else parent.lhs
            if op in ("==", "!=") and isinstance(promql.strip_parens(other), pp.NumberLiteral):
                return None  # `x == 0`: "never counted" is a fair question to ask of a counter
            return parent
        elif isinstance(parent, pp.SubqueryExpr):
            return None
        child = parent
    return None


class PromqlCounter(Check):
    """What it checks: against the metrics catalogue, a counter (or a histogram's `_bucket`/`_sum`/`_count`
    series) whose raw value is compared or used in arithmetic (`inference_errors_total > 100`) instead of going
    through rate/increase/irate; and rate/irate/increase applied to a gauge. Comparing a counter with `== 0` or
    `!= 0`, counting its series and testing it with absent() are fine.

    Why it matters: a counter only grows from the process start and resets on restart, so its raw value says
    nothing about now: the alert fires forever once the total passes the threshold, or never after a restart.
    rate() over a gauge treats every decrease as a counter reset and returns nonsense.

    Example: `expr: inference_errors_total > 100`

    How to fix: `expr: increase(inference_errors_total[10m]) > 100`; for a gauge use `deriv()` or `delta()`.
    """

    NAME = "promql/counter"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        for node, parents in promql.nodes(rule.expr):
            if isinstance(node, pp.VectorSelector) and not (parents and isinstance(parents[-1], pp.MatrixSelector)):
                name = promql.selector_name(node)
                if name and series_type(name, ctx.catalogue) == "counter":
                    op = _misused_counter(parents, node)
                    if op is not None:
                        yield self.problem(
                            f"counter `{name}` is used as a raw value with `{promql.op_name(op)}`; it only grows "
                            f"and resets on restart: use rate({name}[5m]) or increase({name}[...])",
                            rule.expr_line, rule.name)
            elif isinstance(node, pp.Call) and node.func.name in promql.RATE_FUNCTIONS and node.args:
                arg = promql.strip_parens(node.args[0])
                sel = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else None
                name = promql.selector_name(sel) if sel is not None else None
                if name and series_type(name, ctx.catalogue) == "gauge":
                    yield self.problem(
                        f"{node.func.name}() over `{name}`, a gauge in the catalogue: rate/irate/increase are for "
                        f"counters; use deriv({name}[5m]) or delta({name}[5m]), or compare the gauge directly",
                        rule.expr_line, rule.name)


CHECK = PromqlCounter()
