"""promql/labels: label names in selectors, by/without and on/ignoring that the metric cannot have."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.catalogue import Catalogue


def label_problems(ast: Any, catalogue: Catalogue) -> Iterator[str]:
    for node, _ in promql.walk(ast):
        if isinstance(node, pp.VectorSelector):
            name = promql.selector_name(node)
            metric = catalogue.get(name) if name else None
            if metric is None:
                continue
            allowed = set(metric.series_labels(name)) | promql.TARGET_LABELS | {promql.NAME}
            for m in node.matchers.matchers:
                if m.name not in allowed:
                    yield (f"`{name}` has no label `{m.name}` (its labels: {', '.join(metric.series_labels(name))}): "
                           f"the matcher `{m.name}` never matches as meant; use one of its labels")
        elif isinstance(node, pp.AggregateExpr) and node.modifier is not None:
            inner = promql.output_labels(node.expr, catalogue)
            kind = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            for label in node.modifier.labels or ():
                if inner.lacks(label):
                    yield (f"`{promql.op_name(node)} {kind} ({label})`: `{promql.short(node.expr, 60)}` has no "
                           f"`{label}` label (its labels: {inner.shown()}); use one of those")
        elif isinstance(node, pp.BinaryExpr):
            kind, labels = promql.matching(node)
            left = right = None
            if kind or (node.modifier is not None and node.modifier.group_labels):
                left = promql.output_labels(node.lhs, catalogue)
                right = promql.output_labels(node.rhs, catalogue)
                if left.scalar or right.scalar:
                    continue
            for label in labels:
                lacking = [side for side, ls in (("left", left), ("right", right)) if ls.lacks(label)]
                if (kind == "on" and lacking) or (kind == "ignoring" and len(lacking) == 2):
                    yield (f"`{kind}({label})`: the {' and '.join(lacking)} side of `{promql.op_name(node)}` has no "
                           f"`{label}` label (left: {left.shown()}, right: {right.shown()})")
            card = promql.cardinality(node)
            if card in ("many-to-one", "one-to-many"):
                one, side = (right, "right") if card == "many-to-one" else (left, "left")
                for label in node.modifier.group_labels or ():
                    if one.lacks(label):
                        word = "group_left" if card == "many-to-one" else "group_right"
                        yield (f"`{word}({label})`: the {side} side has no `{label}` label to copy "
                               f"(its labels: {one.shown()})")


class PromqlLabels(Check):
    """What it checks: label names the expression uses that cannot exist: a selector matcher on a label the
    metrics catalogue does not list for that metric (target labels such as job and instance are always allowed),
    `by (...)`/`without (...)` naming a label the aggregated expression provably lacks (the catalogue says so, or
    an inner aggregation dropped it), `on(...)` naming a label one side lacks, `ignoring(...)` naming a label
    neither side has, and `group_left(...)`/`group_right(...)` copying a label the other side lacks. Metrics the
    catalogue does not know are not judged.

    Why it matters: a typo in a label name is not an error to Prometheus: `by (model_id)` on series that have
    `model` silently aggregates everything into one series, a matcher on a missing label selects nothing, and
    `on(model_id)` matches nothing; the alert fires wrong or never.

    Example: `expr: max(feature_psi) by (model_id) > 0.2` (feature_psi has model and feature).

    How to fix: use the label the metric has: `max by (model) (feature_psi) > 0.2`; see metrics.yaml (or your
    --catalog file) for each metric's labels.
    """

    NAME = "promql/labels"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        ast = promql.parse(rule.expr) if rule.expr else None
        if ast is None:
            return
        seen = set()
        for message in label_problems(ast, ctx.catalogue):
            if message not in seen:
                seen.add(message)
                yield self.problem(message, rule.expr_line, rule.name)


CHECK = PromqlLabels()
