"""promql/series (online, `--prometheus`): selected metrics and labels that the server has not seen lately."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import promql_parser as pp

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, RuleFile, SeriesSource, SeriesUnavailable, Severity

# Series Prometheus makes from the rules themselves: they exist only while some alert is pending or firing.
GENERATED = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


@dataclass(frozen=True, slots=True)
class _Selector:
    """One vector selector of a rule, reduced to what the server is asked about."""

    metric: str
    labels: tuple[str, ...]  # label names its matchers use, except `__name__` and `x=""` (asks for no x)
    in_absent: bool  # inside absent()/absent_over_time(): no series is what the rule is there to catch


def _selectors(expr: str) -> list[_Selector]:
    ast = promql.parse(expr)
    if ast is None:
        return []  # promql/syntax reports it
    found = []
    for node, parents in promql.walk(ast):
        if not isinstance(node, pp.VectorSelector):
            continue
        metric = promql.selector_name(node)
        if metric is None or metric in GENERATED:
            continue  # `{job="x"}` or `{__name__=~"..."}`: no one metric to ask about
        labels = tuple(dict.fromkeys(m.name for m in node.matchers.matchers
                                     if m.name != promql.NAME and not (m.op == pp.MatchOp.Equal and not m.value)))
        in_absent = any(isinstance(p, pp.Call) and p.func.name in promql.ABSENT_FUNCTIONS for p in parents)
        found.append(_Selector(metric, labels, in_absent))
    return found


class PromqlSeries(Check):
    """What it checks: with `--prometheus URL`, every metric a rule selects has series on that server within
    the lookback window (`--lookback`, default 1h), and every label the selector's matchers name is set on some
    series of that metric. Selectors inside `absent()` are not asked whether they have series (that is what the
    rule is for); metrics a recording rule of the same file produces are not asked at all (they may be new).
    When the server cannot be reached or refuses, one finding says so (an error with `--strict`) and the offline
    checks still run.

    Why it matters: a misspelt metric (`inference_request_total`) or label (`model_id` for `model`) is valid
    PromQL, loads fine and selects nothing: the alert never fires, and nobody notices until the incident. Only
    the server knows what it actually stores, including metrics outside the catalogue.

    Example: `expr: rate(inference_request_total[5m]) > 10` against a server that stores
    `inference_requests_total`.

    How to fix: use the name the server has (`curl $PROM/api/v1/label/__name__/values`), or the label its series
    carry (`curl $PROM/api/v1/labels?match[]=METRIC`); if the metric is only emitted rarely, widen `--lookback`.
    """

    NAME = "promql/series"
    SEVERITY = Severity.WARNING

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        source = ctx.series
        if source is None:
            return []  # offline
        recorded = {r.name for r in file.rules if r.kind == "record"}
        per_rule = [(rule, [s for s in _selectors(rule.expr) if s.metric not in recorded])
                    for rule in file.rules if rule.expr]
        per_rule = [(rule, sels) for rule, sels in per_rule if sels]
        if not per_rule:
            return []
        try:
            return self._problems(per_rule, source)
        except SeriesUnavailable as e:
            if not e.first:
                return []  # already reported, in the first file that asked
            severity = Severity.ERROR if source.strict else Severity.WARNING
            # not tied to a rule, so that disabling the check on one rule cannot hide it from the whole run
            return [self.problem(f"online checks skipped: {e}", per_rule[0][0].expr_line, severity=severity)]

    def _problems(self, per_rule: list, source: SeriesSource) -> list[Problem]:
        existing = source.existing({s.metric for _, sels in per_rule for s in sels})  # one request per file
        problems = []
        for rule, sels in per_rule:
            said: set[str] = set()  # a rule that repeats a selector gets its finding once
            for sel in sels:
                if sel.metric not in existing:
                    message = (f"metric {sel.metric} has no series on the server in the last {source.lookback}: "
                               "a misspelt name, or a metric that is not exported (yet)")
                    if not sel.in_absent and message not in said:
                        said.add(message)
                        problems.append(self.problem(message, rule.expr_line, rule.name))
                    continue
                if not sel.labels:
                    continue
                present = source.label_names(sel.metric)  # cached per metric: rules repeat their selectors
                for label in sel.labels:
                    message = (f"label {label} is never set on {sel.metric} (in the last {source.lookback}; its "
                               f"labels: {', '.join(sorted(present - {promql.NAME})) or 'none'})")
                    if label not in present and message not in said:
                        said.add(message)
                        problems.append(self.problem(message, rule.expr_line, rule.name))
        return problems


CHECK = PromqlSeries()
