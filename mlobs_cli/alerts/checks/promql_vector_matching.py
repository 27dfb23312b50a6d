"""promql/vector-matching: a binary operator between vectors whose label sets can never match."""

from __future__ import annotations

from collections.abc import Iterable

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.alerts.promql import NAME, LabelSet


def only_on_one_side(left: LabelSet, right: LabelSet, ignored: frozenset[str]) -> tuple[list[str], list[str]]:
    """Labels every left series carries that no right series can carry (and the other way round)."""
    def missing(a: LabelSet, b: LabelSet) -> list[str]:
        return sorted(label for label in a.has - ignored - {NAME} if b.lacks(label))
    return missing(left, right), missing(right, left)


class PromqlVectorMatching(Check):
    """What it checks: a binary operator (arithmetic, comparison, `and`, `unless`) between two vectors, without
    `on(...)`, whose sides provably carry different labels: a label every series of one side has (from the metrics
    catalogue, equality matchers and aggregations) that no series of the other side can have, and that
    `ignoring(...)` does not ignore. `or` needs no matching and is not checked; `on(...)` naming a label a side
    lacks is reported by promql/labels.

    Why it matters: Prometheus matches the two sides on all their labels (but the metric name). When one side has a
    label the other never has, no pair matches and the result is empty: the alert never fires.

    Example: `expr: rate(inference_errors_total[5m]) / rate(inference_requests_total[5m]) > 0.01` divides
    {model, error_type} by {model, version, status}.

    How to fix: aggregate both sides to the same labels,
    `sum by (model) (rate(inference_errors_total[5m])) / sum by (model) (rate(inference_requests_total[5m]))`,
    or say what to match on: `/ on(model) group_left ...`, `/ ignoring(error_type) ...`.
    """

    NAME = "promql/vector-matching"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        for node, _ in promql.nodes(rule.expr):
            if not isinstance(node, pp.BinaryExpr) or promql.op_name(node) == "or":
                continue
            kind, labels = promql.matching(node)
            if kind == "on":
                continue
            left, right = promql.output_labels(node.lhs, ctx.catalogue), promql.output_labels(node.rhs, ctx.catalogue)
            if left.scalar or right.scalar:
                continue
            left_only, right_only = only_on_one_side(left, right, frozenset(labels))
            if not left_only and not right_only:
                continue
            parts = []
            if left_only:
                parts.append(f"{', '.join(left_only)} only on the left")
            if right_only:
                parts.append(f"{', '.join(right_only)} only on the right")
            common = sorted((left.has & right.has) - {NAME})
            hint = f"sum by ({', '.join(common)}) on both sides, or " if common else ""
            yield self.problem(
                f"`{promql.op_name(node)}` can never match: `{promql.short(node.lhs, 60)}` has labels "
                f"{left.shown()} and `{promql.short(node.rhs, 60)}` has {right.shown()} ({'; '.join(parts)}); "
                f"aggregate to the same labels ({hint}add on(...)/ignoring(...))", rule.expr_line, rule.name)


CHECK = PromqlVectorMatching()
