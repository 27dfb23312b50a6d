"""What a walk produces: each step's outcome, the ranked causes, the mitigations, the escalation and the timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlobs_cli.errors import ExitCode, combine
from mlobs_cli.results import BackendError, Finding
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, NOT_COLLECTED, Evidence
from mlobs_cli.runbook.collected import exporter

# A step's verdict is OK, WARN, ALERT, or UNKNOWN: a check had no data or its source was down (never OK).
ACTIVE = ("WARN", "ALERT")  # a finding of these means an active problem: exit 1
# States of a step in a walk
DONE, SKIPPED, NOT_RUN = "done", "skipped", "not_run"


@dataclass(frozen=True, slots=True)
class StepFinding:
    """What a rule concluded from one row of evidence."""

    step: str
    check: str
    status: str  # INFO, WARN, ALERT
    subject: str
    message: str
    labels: Mapping[str, str] = field(default_factory=dict)
    supports: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "check": self.check, "status": self.status, "subject": self.subject,
                "message": self.message, "labels": dict(self.labels), "supports": dict(self.supports)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepFinding:
        return cls(data["step"], data["check"], data["status"], data["subject"], data["message"],
                   dict(data.get("labels", {})), dict(data.get("supports", {})))


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One step as the walk left it."""

    step: str
    title: str
    state: str  # done, skipped, not_run
    verdict: str | None = None  # OK, WARN, ALERT, UNKNOWN when done
    evidence: tuple[Evidence, ...] = ()
    findings: tuple[StepFinding, ...] = ()
    problems: tuple[str, ...] = ()  # rules that could not be evaluated on the data
    commands: tuple[str, ...] = ()  # shown for the engineer to run
    answers: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    time: str = ""  # when it ran (RFC 3339)
    layout: str = "tables"  # or side_by_side: one table, a row per value of `join`, a column per check
    join: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "title": self.title, "state": self.state, "verdict": self.verdict,
                "layout": self.layout, "join": self.join,
                "evidence": [e.to_dict() for e in self.evidence], "findings": [f.to_dict() for f in self.findings],
                "problems": list(self.problems), "commands": list(self.commands), "answers": dict(self.answers),
                "notes": list(self.notes), "time": self.time}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepOutcome:
        return cls(data["step"], data["title"], data["state"], data.get("verdict"),
                   tuple(Evidence.from_dict(e) for e in data.get("evidence", ())),
                   tuple(StepFinding.from_dict(f) for f in data.get("findings", ())), tuple(data.get("problems", ())),
                   tuple(data.get("commands", ())), dict(data.get("answers", {})), tuple(data.get("notes", ())),
                   data.get("time", ""), data.get("layout", "tables"), data.get("join"))


@dataclass(frozen=True, slots=True)
class Cause:
    """A likely cause, scored from the findings that support it (noisy-or of their weights, 0..1)."""

    cause: str
    title: str
    model: str  # the model it is about; "" when the evidence names none
    score: float
    steps: tuple[str, ...]
    evidence: tuple[str, ...]  # the messages of the supporting findings

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "title": self.title, "model": self.model, "score": round(self.score, 4),
                "steps": list(self.steps), "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Plan:
    """A mitigation resolved for one cause and model: printed, never run unless executable and confirmed."""

    mitigation: str
    title: str
    cause: str
    model: str
    score: float
    command: str | None
    change: str | None
    undo: str | None
    executable: bool
    target: str | None
    unresolved: tuple[str, ...] = ()  # template parts without a value (shown as ?): cannot be executed

    def to_dict(self) -> dict[str, Any]:
        return {"mitigation": self.mitigation, "title": self.title, "cause": self.cause, "model": self.model,
                "score": round(self.score, 4), "command": self.command, "change": self.change, "undo": self.undo,
                "executable": self.executable, "target": self.target, "unresolved": list(self.unresolved)}


@dataclass(frozen=True, slots=True)
class EscalationState:
    due: bool
    message: str
    incident_started: str | None  # RFC 3339, from the evidence
    incident_minutes: float | None
    walk_minutes: float

    def to_dict(self) -> dict[str, Any]:
        return {"due": self.due, "message": self.message, "incident_started": self.incident_started,
                "incident_minutes": self.incident_minutes, "walk_minutes": round(self.walk_minutes, 2)}


@dataclass(frozen=True, slots=True)
class Uncollected:
    """A metric a check reads that the server has no series of, and what would collect it."""

    metric: str
    install: str
    checks: tuple[str, ...]  # step/check

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "install": self.install, "checks": list(self.checks)}


@dataclass(frozen=True, slots=True)
class WalkResult:
    """The result of `runbook walk` / `latency` / `resume`."""

    runbook: str
    title: str
    walk_id: str | None
    at: str
    inputs: Mapping[str, Any]
    steps: tuple[StepOutcome, ...]
    path: tuple[str, ...]  # step ids in the order they ran or were skipped
    causes: tuple[Cause, ...]
    plans: tuple[Plan, ...]
    escalation: EscalationState | None
    timeline: tuple[Mapping[str, Any], ...]
    finished: bool  # False: quit or interrupted; `runbook resume` goes on

    columns = ("step", "state", "verdict", "findings", "checks")

    @property
    def step_findings(self) -> tuple[StepFinding, ...]:
        return tuple(f for s in self.steps for f in s.findings)

    @property
    def findings(self) -> tuple[Finding, ...]:
        order = {"ALERT": 0, "WARN": 1, "INFO": 2}
        return tuple(Finding(f"runbook/{f.step}/{f.check}", f.status.lower(), f.subject, f.message)
                     for f in sorted(self.step_findings, key=lambda f: order[f.status]))

    @property
    def errors(self) -> tuple[BackendError, ...]:
        return tuple(BackendError(e.source or e.kind, f"{s.step}/{e.check}: {e.error}")
                     for s in self.steps for e in s.evidence if e.state == ERROR)

    @property
    def complete(self) -> bool:
        return self.finished and not self.errors and not self.unconcluded and all(s.state == "done"
                                                                                  for s in self.steps)

    @property
    def unconcluded(self) -> bool:
        """A required check of a step that ran had no data, or reads a metric the server does not collect: the
        runbook cannot conclude without it. Other checks without data are shown UNKNOWN, and so is their step
        where they leave it without a conclusion, but do not make the walk incomplete."""
        return any(e.required and e.state in (NO_DATA, NOT_COLLECTED) for s in self.steps for e in s.evidence)

    @property
    def not_collected(self) -> tuple[Uncollected, ...]:
        """Every metric the walk's checks read that the server has no series of, with what to install."""
        found: dict[str, list[str]] = {}
        for s in self.steps:
            for e in s.evidence:
                if e.state == NOT_COLLECTED:
                    for metric in e.absent:
                        found.setdefault(metric, []).append(f"{s.step}/{e.check}")
        return tuple(Uncollected(m, exporter(m), tuple(c)) for m, c in sorted(found.items()))

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C (exit 130); its state is saved for `runbook resume`."""
        return bool(self.timeline) and self.timeline[-1]["event"] == "interrupted"

    @property
    def active(self) -> bool:
        """The runbook concludes there is an active problem."""
        return any(f.status in ACTIVE for f in self.step_findings)

    def rows(self) -> list[list[Any]]:
        return [[s.step, s.state, s.verdict, len(s.findings), len(s.evidence)] for s in self.steps]

    def exit_code(self, exit_zero: bool = False) -> ExitCode:
        """1 for an active problem (unless `exit_zero`), else 3 when a source was unreachable or failed, a
        required check had no data, or the walk was quit, else 0. A metric not collected here (listed in
        `not_collected`) and a check that is not required without data are shown, not counted."""
        # a walk quit before its end (or whose stdin closed) concluded nothing: never 0, `resume` goes on
        return combine(has_findings=self.active and not exit_zero,
                       has_backend_errors=bool(self.errors) or self.unconcluded or not self.finished)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook, "title": self.title, "walk_id": self.walk_id, "at": self.at,
            "inputs": dict(self.inputs), "finished": self.finished, "active_problem": self.active,
            "steps": [s.to_dict() for s in self.steps], "path": list(self.path),
            "causes": [c.to_dict() for c in self.causes], "mitigations": [p.to_dict() for p in self.plans],
            "escalation": self.escalation.to_dict() if self.escalation else None,
            "not_collected": [u.to_dict() for u in self.not_collected],
            "timeline": [dict(e) for e in self.timeline],
        }
