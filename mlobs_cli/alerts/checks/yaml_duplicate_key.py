"""yaml/duplicate-key: a key given twice in one YAML mapping."""

from __future__ import annotations

from collections.abc import Iterable

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Check, Context, Problem, RuleFile, Severity


class DuplicateKey(Check):
    """A key appears twice in the same YAML mapping.

    What it checks:
        Every mapping in the file (rules, groups, labels, annotations, manifest metadata) for a key written twice.
        The loader finds them while composing the YAML; this check reports them.

    Why it matters:
        PyYAML, and every tool built on it, silently keeps the last value, so the rule you read is not the rule
        that runs; Prometheus refuses the whole file ("mapping key already defined"). Two `expr:` keys in one
        rule usually come from a bad merge.

    Example:
        - alert: HighErrorRate
          expr: rate(errors_total[5m]) > 1
          expr: rate(errors_total[5m]) > 5

    How to fix:
        Keep one of the two keys and delete the other.
    """

    NAME = loader.DUPLICATE_KEY
    SEVERITY = Severity.ERROR

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        return [p for p in file.problems if p.check == self.NAME]


CHECK = DuplicateKey()
