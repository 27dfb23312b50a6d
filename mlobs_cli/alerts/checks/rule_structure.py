"""rule/structure: what Prometheus refuses in the shape of a rule file."""

from __future__ import annotations

from collections.abc import Iterable

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Check, Context, Problem, RuleFile, Severity


class RuleStructure(Check):
    """The file, its groups and its rules have the shape Prometheus (or Thanos, or Kubernetes) accepts.

    What it checks:
        Unknown keys at file, group and rule level (per form: Prometheus, Thanos, PrometheusRule, seed shorthand);
        a group without `name` (and, as a warning, without `rules`); a rule with both `alert` and `record` or
        neither; a missing or empty `expr`; `for`, `keep_firing_for` or `annotations` on a recording rule; an
        invalid recording-rule name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or label name (`[a-zA-Z_][a-zA-Z0-9_]*`);
        labels and annotations that are not a mapping of strings; a YAML document that is no rule file at all.
        A label value written as a YAML number or boolean (`page: true`) is a warning (an error in a
        PrometheusRule manifest, whose schema wants strings). The loader finds these; this check reports them.

    Why it matters:
        Prometheus refuses to load a file with any of these errors, and keeps running with the rules it had: the
        new alerts silently never exist. An unknown key is often a typo (`anotations:`) whose content is ignored.

    Example:
        groups:
          - name: latency
            rules:
              - record: job:latency:p99
                expr: histogram_quantile(0.99, rate(latency_seconds_bucket[5m]))
                for: 5m

    How to fix:
        Follow the message: remove or rename the unknown key, add the missing `name` or `expr`, drop `for` from
        the recording rule (or make it an alert), rename the rule or label, quote the value.
    """

    NAME = loader.STRUCTURE
    SEVERITY = Severity.ERROR

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        return [p for p in file.problems if p.check == self.NAME]


CHECK = RuleStructure()
