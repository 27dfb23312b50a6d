"""promql/syntax: the rule's expression does not parse."""

from __future__ import annotations

from collections.abc import Iterable

from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.alerts.promql import parse_error


class PromqlSyntax(Check):
    """The `expr` of a rule is valid PromQL.

    What it checks:
        Parses every rule's expression with `promql-parser` (a binding of a Rust PromQL parser) and reports the
        parser's message at the `expr:` line. A missing or empty `expr` is left to rule/structure.

    Why it matters:
        Prometheus refuses a rule file with an expression it cannot parse, so none of the file's rules load.

    Example:
        - alert: HighErrorRate
          expr: sum(rate(inference_errors_total[5m]) > 0.01

    How to fix:
        Correct the expression: the message names what the parser expected. Try it in the Prometheus
        expression browser. The parser follows current Prometheus; a few experimental constructs (duration
        arithmetic in ranges `[1m * 2]`, `anchored`, `fill()` binary modifiers) are not supported by it.
    """

    NAME = "promql/syntax"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if not rule.expr.strip():
            return ()
        error = parse_error(rule.expr)
        if error is None:
            return ()
        return (self.problem(f"invalid PromQL: {error}", rule.expr_line, rule.name),)


CHECK = PromqlSyntax()
