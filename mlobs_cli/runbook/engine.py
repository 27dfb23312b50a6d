"""Evidence -> findings -> ranked causes -> mitigations.

`Scope` holds what a walk knows: its variables, the settings (SLOs), and the evidence of the steps so far, which the
functions of expressions read (`slo`, `catalogue`, `lookup`, `count`, `min_of`). `run_step` runs a step's checks in
parallel, each within its timeout, and applies the step's rules to every row; `conclude` ranks the causes and
resolves the mitigations.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from mlobs_cli import catalogue
from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.runbook import checks
from mlobs_cli.runbook.checks.base import (ERROR, NO_DATA, NOT_APPLICABLE, NOT_COLLECTED, OK, Context, Evidence,
                                           Prometheus, Row)
from mlobs_cli.runbook.expr import PURE_FUNCTIONS, ExprError
from mlobs_cli.runbook.model import Check, Runbook, Step
from mlobs_cli.runbook.result import DONE, Cause, EscalationState, Plan, StepFinding, StepOutcome
from mlobs_cli.timeparse import isoformat

# what a model taken from the evidence must look like when the runbook's `model` input sets no pattern
MODEL_PATTERN = r"[A-Za-z0-9_.:-]*"
UNSPLITTABLE = re.compile(r"[\s'\"\\]")
INVALID_MODEL = "INVALID-MODEL-LABEL"  # shown in place of a model label that fails the input pattern


class Scope:
    """The variables and evidence of one walk, and the functions expressions call on them."""

    def __init__(self, runbook: Runbook, settings: Settings, variables: Mapping[str, Any], at: datetime,
                 prometheus: Callable[[], Prometheus]) -> None:
        self.runbook, self.settings, self.at = runbook, settings, at
        self.variables: dict[str, Any] = {**variables, "at": at.timestamp()}
        self.evidence: dict[str, Evidence] = {}
        self._prometheus = prometheus
        self._client: Prometheus | None = None
        self._lock = threading.Lock()
        self._names: tuple[frozenset[str] | None] | None = None  # (answer,) once asked
        self._names_lock = threading.Lock()
        self.functions: dict[str, Callable[..., Any]] = {
            **PURE_FUNCTIONS, "slo": self.slo, "catalogue": self.catalogue_threshold, "lookup": self.lookup,
            "count": self.count, "min_of": self.min_of,
        }

    def prometheus(self) -> Prometheus:
        """The client, opened once for all checks (the first check that needs it opens it)."""
        with self._lock:
            if self._client is None:
                self._client = self._prometheus()
            return self._client

    def metric_names(self) -> frozenset[str] | None:
        """Every metric name the server has (`/api/v1/label/__name__/values`), asked once per walk, by the first
        check whose answer is empty; None when the server cannot say (then an empty answer stays "no data")."""
        with self._names_lock:
            if self._names is None:
                try:
                    self._names = (frozenset(self.prometheus().label_values("__name__")),)
                except (BackendUnavailable, InputError):
                    self._names = (None,)
            return self._names[0]

    def close(self) -> None:
        """Close the client, if a check opened one."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def slo(self, model: str | None) -> float:
        """The p99 latency SLO of a model, in seconds: LLMs (runbook.llm_models) have their own."""
        llm = model in (self.settings["runbook.llm_models"] or ())
        return self.settings["runbook.llm_slo_ms" if llm else "runbook.slo_ms"] / 1000

    def catalogue_threshold(self, metric: str, level: str) -> float | None:
        found = catalogue.load().get(metric)
        return next((t.value for t in found.thresholds if t.level == level), None) if found else None

    def _rows(self, check: str) -> tuple[Row, ...]:
        evidence = self.evidence.get(check)
        return evidence.rows if evidence is not None and evidence.state == OK else ()

    def lookup(self, check: str, name: str, **labels: Any) -> Any:
        """The field `name` of the first row of `check` whose labels match; None when there is none."""
        for row in self._rows(check):
            if all(row.labels.get(k) == v for k, v in labels.items()):
                return row.names().get(name)
        return None

    def count(self, check: str) -> int:
        return len(self._rows(check))

    def min_of(self, check: str, name: str) -> Any:
        values = [v for r in self._rows(check) if (v := r.names().get(name)) is not None]
        return min(values) if values else None

    def restore(self, outcome: StepOutcome) -> None:
        """Evidence of a step done before (a resumed walk), for the lookups of later steps."""
        for evidence in outcome.evidence:
            self.evidence[evidence.check] = evidence


def run_step(step: Step, scope: Scope, time_now: str) -> StepOutcome:
    """Run every check of `step` (in parallel, each within its timeout), then its rules."""
    evidence = _run_checks(step.checks, scope)
    for e in evidence:
        scope.evidence[e.check] = e
    findings, problems = _apply_rules(step, scope)
    commands = []
    for command in step.commands:
        text, _ = command.run.render(scope.variables, scope.functions, quote=shlex.quote)
        commands.append(text)
    verdict = _verdict(step, evidence, findings, problems)
    return StepOutcome(step.id, step.title, DONE, verdict, tuple(evidence), tuple(findings), tuple(problems),
                       tuple(commands), time=time_now, layout=step.layout, join=step.join)


def _run_checks(step_checks: tuple[Check, ...], scope: Scope) -> list[Evidence]:
    results: dict[str, Evidence] = {}
    runnable: list[tuple[Check, Context]] = []
    for check in step_checks:
        if check.condition is not None and not check.condition(scope.variables, scope.functions):
            results[check.id] = Evidence(check.id, check.kind, NOT_APPLICABLE, digest="not applicable")
            continue
        ctx = Context(scope.at, scope.settings, scope.variables, scope.functions, scope.prometheus,
                      metric_names=scope.metric_names)
        try:
            for key, template in check.templates.items():
                ctx.rendered[key], _ = template.render(scope.variables, scope.functions)
        except (ExprError, TypeError, ValueError) as e:
            results[check.id] = Evidence(check.id, check.kind, ERROR, error=f"cannot render the check: {e}",
                                         source=check.kind)
            continue
        runnable.append((check, ctx))
    if runnable:
        results.update(_parallel(runnable))
    return [_shown(check, _sorted(check, _empty(check, results[check.id]), scope)) for check in step_checks]


def _empty(check: Check, evidence: Evidence) -> Evidence:
    """An empty answer to a check that asks whether something is happening (`empty_means: none firing`) is
    evidence that it is not: OK, with those words."""
    if check.empty_means and evidence.state in (NO_DATA, NOT_COLLECTED):
        return dataclasses.replace(evidence, state=OK, rows=(), digest=check.empty_means, absent=())
    return evidence


def _parallel(runnable: list[tuple[Check, Context]]) -> dict[str, Evidence]:
    """Run the checks at once, each in a daemon thread, and wait for each until its timeout, counted from the
    start. A check past its timeout is UNKNOWN and left behind: being a daemon, a hung call (an NVML driver that
    never answers) cannot keep mlobs from exiting."""
    answers: dict[str, Evidence | BaseException] = {}

    def run(check: Check, ctx: Context) -> None:
        try:
            answers[check.id] = checks.kind(check.kind).run(check, ctx)
        except BaseException as e:  # noqa: BLE001 - handed to the walk's thread, which raises it
            answers[check.id] = e

    started = time.monotonic()
    threads = [(check, ctx, threading.Thread(target=run, args=(check, ctx), daemon=True,
                                             name=f"mlobs-check-{check.id}")) for check, ctx in runnable]
    for _, _, thread in threads:
        thread.start()
    results: dict[str, Evidence] = {}
    for check, ctx, thread in threads:
        thread.join(timeout=max(0.0, started + check.timeout - time.monotonic()))
        answer = answers.get(check.id)
        if answer is None:
            results[check.id] = Evidence(check.id, check.kind, ERROR, ctx.rendered.get("query", ""),
                                         error=f"no answer within the check's timeout ({check.timeout:g} s)",
                                         source=check.kind)
        elif isinstance(answer, BaseException):
            raise answer  # a configuration error or a bug: not a check's verdict
        else:
            results[check.id] = answer
    return results


def _shown(check: Check, evidence: Evidence) -> Evidence:
    """The evidence with how to show it: the check's labels, then `value` or the formatted fields."""
    fields = tuple(check.formats) if check.formats else tuple(f for f in check.fields() if f in ("value", "psi"))
    columns = (*check.labels, *(f for f in fields if f not in check.labels))
    return dataclasses.replace(evidence, title=check.title, columns=columns, formats=dict(check.formats),
                               limit=check.limit, required=check.required, optional=check.optional)


def _sorted(check: Check, evidence: Evidence, scope: Scope) -> Evidence:
    if check.sort is None or evidence.state != OK:
        return evidence

    def key(row: Row) -> float:
        value = check.sort(row_names(check, row, scope.variables), scope.functions)  # type: ignore[misc]
        return -math.inf if value is None else float(value)

    return dataclasses.replace(evidence, rows=tuple(sorted(evidence.rows, key=key, reverse=check.descending)))


def row_names(check: Check, row: Row, variables: Mapping[str, Any]) -> dict[str, Any]:
    """What an expression about a row sees: the walk's variables, then the row's declared labels ("" when the
    series lacks one, e.g. no `region`), its other labels and its fields."""
    return {**variables, **dict.fromkeys(check.labels, ""), **row.names()}


def _apply_rules(step: Step, scope: Scope) -> tuple[list[StepFinding], list[str]]:
    findings: list[StepFinding] = []
    problems: list[str] = []
    for rule in step.rules:
        evidence = scope.evidence.get(rule.check)
        if evidence is None or evidence.state != OK:
            continue
        check = next(c for c in step.checks if c.id == rule.check)
        for row in evidence.rows:
            names = row_names(check, row, scope.variables)
            try:
                if not rule.when(names, scope.functions):
                    continue
                message, _ = rule.message.render(names, scope.functions)
                # strip: "{{ model }} {{ version }}" of a model-wide row (no version) is the model alone
                subject = rule.subject.render(names, scope.functions)[0].strip() if rule.subject else \
                    ",".join(f"{k}={v}" for k, v in row.labels.items()) or rule.check
            except (ExprError, TypeError, ValueError) as e:
                problems.append(f"rule of line {rule.line} on {rule.check}: {e}")
                continue
            # a row about no model (a drift sample, a GPU) is about the model the walk is narrowed to, if any
            labels = dict(row.labels)
            if not labels.get("model") and scope.variables.get("model"):
                labels["model"] = scope.variables["model"]
            findings.append(StepFinding(step.id, rule.check, rule.status, subject, message, labels,
                                        dict(rule.supports)))
    return findings, problems


def _verdict(step: Step, evidence: list[Evidence], findings: list[StepFinding], problems: list[str]) -> str:
    """The worst finding; else UNKNOWN when the step cannot conclude (missing data never counts as OK): a check
    whose source failed, a required check without data, a check without data though its metric exists (unless
    `optional`), a rule that could not be judged, or no data at all; else OK. A metric this platform does not
    collect (NOT_COLLECTED) does not keep a step from concluding on the rest."""
    statuses = {f.status for f in findings}
    if "ALERT" in statuses:
        return "ALERT"
    if "WARN" in statuses:
        return "WARN"
    missing = [e for e in evidence if not e.optional and (
        e.state in (NO_DATA, ERROR) or (e.required and e.state == NOT_COLLECTED))]
    if missing or problems or not any(e.state == OK for e in evidence):
        return "UNKNOWN"
    return "OK"


# -- conclusions ---------------------------------------------------------------------------------------------------


def rank_causes(runbook: Runbook, findings: tuple[StepFinding, ...]) -> tuple[Cause, ...]:
    """Every cause some finding supports, per model, scored 1 - prod(1 - weight) over its findings."""
    support: dict[tuple[str, str], list[tuple[float, StepFinding]]] = {}
    for f in findings:
        for cause, weight in f.supports.items():
            support.setdefault((cause, f.labels.get("model", "")), []).append((weight, f))
    causes = []
    for (cause, model), items in support.items():
        score = 1 - math.prod(1 - w for w, _ in items)
        steps = tuple(dict.fromkeys(f.step for _, f in items))
        causes.append(Cause(cause, runbook.causes[cause]["title"], model, score, steps,
                            tuple(dict.fromkeys(f.message for _, f in items))))
    return tuple(sorted(causes, key=lambda c: (-c.score, c.cause, c.model)))


def plan_mitigations(runbook: Runbook, causes: tuple[Cause, ...], scope: Scope) -> tuple[Plan, ...]:
    """The mitigations of the ranked causes, best first, each resolved for its model (one per mitigation and
    model: the best-scoring cause it fits)."""
    best: dict[tuple[str, str], Plan] = {}
    for cause in causes:
        for mitigation in runbook.mitigations:
            fit = mitigation.fits.get(cause.cause)
            if fit is None or (mitigation.id, cause.model) in best:
                continue
            names: dict[str, Any] = {**scope.variables, "model": cause.model}
            unresolved: list[str] = []
            # the model comes from a label of the evidence, not from the command line: it goes into commands too,
            # so it must pass the pattern of the `model` input, or the plan is shown but never offered to run
            spec = runbook.inputs.get("model")
            pattern = spec.pattern if spec is not None and spec.pattern else MODEL_PATTERN
            if not re.fullmatch(pattern, cause.model):
                unresolved.append(f"model {cause.model!r} does not match {pattern}")
                # never printed into a command: a quote in it would end the runbook's own quoting (`-p '{...}'`)
                # and the rest would run when pasted; a plain word keeps the command harmless and visibly wrong
                names["model"] = INVALID_MODEL
            for name, expr in mitigation.variables:
                try:
                    names[name] = expr(names, scope.functions)
                except (ExprError, TypeError, ValueError):
                    names[name] = None
            if mitigation.executable and mitigation.command is not None:
                # an executable command is split like a shell would (never run by one): a value with a space or
                # a quote would become other arguments than the runbook wrote, so such a plan is not runnable
                unresolved += [f"{name}={names[name]!r} has a space or a quote" for name in sorted(
                    mitigation.command.names) if isinstance(names.get(name), str) and UNSPLITTABLE.search(names[name])]
            texts: dict[str, str | None] = {}
            for key in ("command", "change", "undo", "target"):
                template = getattr(mitigation, key)
                if template is None:
                    texts[key] = None
                    continue
                shell = key == "command" or (key == "undo" and mitigation.executable)
                texts[key], missing = template.render(names, scope.functions,
                                                      quote=shlex.quote if shell else None)
                unresolved += missing
            best[(mitigation.id, cause.model)] = Plan(
                mitigation.id, mitigation.title, cause.cause, cause.model, cause.score * fit, texts["command"],
                texts["change"], texts["undo"], mitigation.executable, texts["target"],
                tuple(dict.fromkeys(unresolved)))
    return tuple(sorted(best.values(), key=lambda p: (-p.score, p.mitigation, p.model)))


def escalation(runbook: Runbook, scope: Scope, active: bool, walk_seconds: float,
               answers: Mapping[str, str]) -> EscalationState | None:
    """The seed's rule: not resolved after `after` (15 minutes) -> page; customer-facing impact -> notify."""
    rule = runbook.escalation
    if rule is None:
        return None
    started = rule.started(scope.variables, scope.functions) if rule.started is not None else None
    incident = (scope.at.timestamp() - started) if started is not None else None
    longest = max(walk_seconds, incident or 0.0)
    due = active and longest >= rule.after
    impact = answers.get(rule.question or "", "").lower() if rule.question else ""
    parts = []
    if due:
        parts.append(f"not resolved after {rule.after / 60:g} minutes: {rule.page}")
    elif active:
        parts.append(f"escalate at {rule.after / 60:g} minutes without resolution: {rule.page}")
    if active and rule.customer_impact:
        if impact in ("yes", "y"):
            parts.append(f"customer-facing impact: {rule.customer_impact}")
        elif not impact:
            parts.append(f"if there is customer-facing impact: {rule.customer_impact}")
    return EscalationState(due, "; ".join(parts) or "no active problem",
                           isoformat(datetime.fromtimestamp(started, scope.at.tzinfo)) if started else None,
                           None if incident is None else round(incident / 60, 1), walk_seconds / 60)
