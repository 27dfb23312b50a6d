"""alerts/comparison: an alert whose expression has no comparison fires whenever any series exists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity


def _conditional(node: Any) -> bool:
    """Whether the result of `node` can be empty because of a condition in it (a filtering comparison, `unless`,
    `absent()`), so that an alert on it does not fire whenever the selected series exist."""
    node = promql.strip_parens(node)
    if isinstance(node, pp.BinaryExpr):
        op = promql.op_name(node)
        if op in promql.COMPARISON_OPS and not promql.returns_bool(node):
            return True
        if op == "unless":
            return True
        if op == "or":  # either side alone makes it fire
            return _conditional(node.lhs) and _conditional(node.rhs)
        if op == "and":
            return _conditional(node.lhs) or _conditional(node.rhs)
        return _conditional(node.lhs) or _conditional(node.rhs)  # arithmetic keeps a filtered side's emptiness
    if isinstance(node, pp.Call):
        if node.func.name in promql.ABSENT_FUNCTIONS:
            return True
        if node.func.name in promql.SCALAR_FUNCTIONS:  # scalar(empty) is NaN, not empty
            return False
        return any(_conditional(a) for a in node.args)
    if isinstance(node, (pp.AggregateExpr, pp.SubqueryExpr, pp.UnaryExpr)):
        return _conditional(node.expr)
    if isinstance(node, pp.MatrixSelector):
        return False
    return False


def _intended(ast: Any) -> bool:
    """Always firing on purpose: a constant (`vector(1)`: a Watchdog / dead man's switch), or a bare selector
    whose matcher on a label value is the condition (`x_info{state="down"}`: the series exists only in that state)."""
    if not any(isinstance(n, pp.VectorSelector) for n, _ in promql.walk(ast)):
        return True
    node = promql.strip_parens(ast)
    return isinstance(node, pp.VectorSelector) and any(
        m.name != promql.NAME and m.name not in promql.TARGET_LABELS for m in node.matchers.matchers)


class AlertComparison(Check):
    """What it checks: an alerting rule whose expression has no comparison operator (`>`, `==`, ...; not `bool`)
    that can filter its result, no `unless` and no `absent()`. Comparisons are looked for through parentheses,
    aggregations, functions and arithmetic; for `or`, both sides need one. Not reported: a constant
    (`vector(1)`, a Watchdog meant to fire always) and a bare selector with a matcher on a label value
    (`iface_info{operstate="down"}`: the matcher is the condition).

    Why it matters: Prometheus fires an alert for every series the expression returns. Without a comparison the
    expression returns a series whenever the metric exists, so the alert fires all the time (or, with `bool`,
    returns 0 and 1 and fires on both).

    Example: `expr: rate(inference_errors_total[5m])`

    How to fix: add the threshold: `expr: rate(inference_errors_total[5m]) > 0.1`; drop `bool` from a comparison.
    """

    NAME = "alerts/comparison"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if rule.kind != "alert" or not rule.expr:
            return
        ast = promql.parse(rule.expr)
        if ast is None or _conditional(ast) or _intended(ast):
            return
        top = promql.strip_parens(ast)
        hint = ("`bool` makes the comparison return 0 or 1 instead of filtering: remove `bool`"
                if isinstance(top, pp.BinaryExpr) and promql.returns_bool(top)
                else "add a threshold (e.g. `... > 0.1`) or use absent() for a missing series")
        yield self.problem(f"alert expression `{promql.short(ast)}` has no comparison, so the alert fires whenever "
                           f"any series exists; {hint}", rule.expr_line, rule.name)


CHECK = AlertComparison()
