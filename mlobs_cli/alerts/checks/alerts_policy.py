"""alerts/policy: the seed's escalation policy: a known severity, a summary, a runbook on paging alerts."""

from __future__ import annotations

from collections.abc import Iterable

from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity

SEVERITIES = ("info", "warning", "critical", "emergency")  # the seed's "Escalation Policy" table
PAGING = frozenset({"critical", "emergency"})
RUNBOOK_KEYS = ("runbook_url", "runbook")


class AlertPolicy(Check):
    """What it checks: the escalation policy of the seed design: every alert has a `severity` label whose value is
    one of info, warning, critical, emergency; every alert has a `summary` annotation; critical and emergency
    alerts carry a `runbook_url` (or `runbook`) annotation. A templated severity is not judged.

    Why it matters: routing (Slack, e-mail, PagerDuty, phone) is decided by the severity label, so an alert without
    one, or with a word the policy does not know, reaches nobody or the wrong people; a page without a summary or
    a runbook leaves the on-call engineer guessing at 3 a.m.

    Example: `labels: {severity: page}` with no `runbook_url` annotation.

    How to fix: use one of the four severities; add `summary:` and, for critical and emergency alerts,
    `runbook_url:` annotations.
    """

    NAME = "alerts/policy"
    SEVERITY = Severity.WARNING

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if rule.kind != "alert":
            return
        labels, annotations = rule.labels or {}, rule.annotations or {}
        severity = labels.get("severity")
        if severity is None:
            yield self.problem(f"alert has no `severity` label: add one of {', '.join(SEVERITIES)}",
                               rule.line_of("labels"), rule.name)
        elif "{{" not in str(severity) and str(severity) not in SEVERITIES:
            # the seed's shorthand writes `severity:` on the rule itself, a rule file under `labels:`
            line = rule.line_of("labels.severity" if "labels.severity" in rule.keys else "severity")
            yield self.problem(f"severity `{severity}` is not in the escalation policy: use one of "
                               f"{', '.join(SEVERITIES)}", line, rule.name)
        if not str(annotations.get("summary") or "").strip():
            yield self.problem("alert has no `summary` annotation: add a one-line summary naming what is wrong "
                               "and where (e.g. `{{ $labels.model }}`)", rule.line_of("annotations"), rule.name)
        if str(severity) in PAGING and not any(str(annotations.get(k) or "").strip() for k in RUNBOOK_KEYS):
            yield self.problem(f"{severity} alert has no `runbook_url` annotation: link the runbook the on-call "
                               "engineer should follow", rule.line_of("annotations"), rule.name)


CHECK = AlertPolicy()
