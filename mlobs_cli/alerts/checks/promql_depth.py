"""promql/depth: the rule's expression nests too deep for mlobs to parse and check."""

from __future__ import annotations

from collections.abc import Iterable

from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.alerts.promql import MAX_DEPTH, depth_bound, too_deep


class PromqlDepth(Check):
    """The `expr` of a rule nests at most MAX_DEPTH (128) operators and brackets deep.

    What it checks:
        Before any parse, counts what can nest in the expression (operators, ranges and subqueries, and the
        deepest bracket) outside strings, comments and label matchers. An expression over the limit is not
        parsed, so no other PromQL check looks at it: this finding says so. The file's other rules are checked.

    Why it matters:
        The parser and the checks recurse on the nesting: a generated rule of 16,000 `or` terms overflows the
        parser's stack. Prometheus evaluates such a rule, but nobody can review it, and every evaluation walks
        the whole chain.

    Example:
        - alert: AnyModelDown
          expr: absent(up{job="m1"}) or absent(up{job="m2"}) or ... (400 terms)

    How to fix:
        Select the series with one matcher instead of one term each (`up{job=~"m1|m2|..."} == 0`), or split
        the expression into recording rules and alert on those.
    """

    NAME = "promql/depth"
    SEVERITY = Severity.WARNING

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if not too_deep(rule.expr):
            return ()
        return (self.problem(f"the expression nests up to {depth_bound(rule.expr)} operators and brackets deep "
                             f"(more than {MAX_DEPTH}): not parsed, so no PromQL check looked at it",
                             rule.expr_line, rule.name),)


CHECK = PromqlDepth()
