"""alerts/duplicate: the same rule twice in a file (same name, labels and equivalent expression)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, RuleFile, Severity


def identity(rule: Rule) -> tuple:
    """What two duplicate rules share besides their expression: kind, name and static labels."""
    labels = tuple(sorted((str(k), str(v)) for k, v in (rule.labels or {}).items()))
    return rule.kind, rule.name, labels


class AlertDuplicate(Check):
    """What it checks: two rules of one file (in any of its groups) with the same kind and name, the same labels
    and an equivalent expression: the same PromQL once parsed, so whitespace, line breaks and `sum(x) by (a)`
    versus `sum by (a) (x)` do not matter. Rules that share a name but select different series (different
    matchers, thresholds or labels) are not duplicates: promtool's duplicate lint reports those too, a false
    positive (kube-prometheus records one name four times with disjoint `code` selectors).

    Why it matters: a duplicated alert sends every notification twice, and a duplicated recording rule writes the
    same series twice, which Prometheus rejects as duplicate samples; usually one copy was meant to be changed.

    Example: the same `- alert: HighErrorRate` block pasted in two groups of one file.

    How to fix: delete one copy, or change what differs (its expression or labels) if both are meant.
    """

    NAME = "alerts/duplicate"
    SEVERITY = Severity.WARNING

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        # Two rules are the same when their identities and their expressions up to formatting are. Printing an
        # expression in the parser's form is the costly part, and most rules share their identity with no other
        # rule: print only the expressions of rules whose identity is not unique.
        identities = [(identity(rule), rule) for rule in file.rules]
        counts = Counter(ident for ident, _ in identities)
        first: dict[tuple, Rule] = {}
        for ident, rule in identities:
            if counts[ident] < 2:
                continue
            key = (ident, promql.canonical(rule.expr or ""))
            if key in first:
                original = first[key]
                yield self.problem(f"{rule.kind} `{rule.name}` duplicates the rule at line {original.line} (group "
                                   f"`{original.group}`): same labels and expression; remove one copy",
                                   rule.line, rule.name)
            else:
                first[key] = rule


CHECK = AlertDuplicate()
