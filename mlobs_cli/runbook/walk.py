"""The walk: a state machine over the steps of a runbook, interactive or not, saved after every event.

Interactive, before each step the engineer chooses: run it, skip it, go back one step, add a note, or quit. A
skipped step runs nothing: no query is sent, no command is shown or run (braintree/runbook#24 executed skipped
steps). After the steps come the ranked causes and the mitigations; an executable one is shown resolved (the dry
run) and runs only after the engineer types the name of the deployment it changes. With `--no-input` every step
runs in order and nothing is ever executed.

The interface (`UI`) is implemented by render/runbook.py for a terminal; this module never prints.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from mlobs_cli.config import Settings, mask_secret
from mlobs_cli.runbook import engine
from mlobs_cli.runbook.checks.base import Prometheus
from mlobs_cli.runbook.model import Question, Runbook, Step
from mlobs_cli.runbook.result import NOT_RUN, SKIPPED, EscalationState, Plan, StepOutcome, WalkResult
from mlobs_cli.runbook.state import StateLog
from mlobs_cli.timeparse import isoformat, parse_time

EXECUTE_TIMEOUT = 120.0  # seconds a confirmed mitigation command may run

# What the engineer may answer before a step
RUN, SKIP, BACK, NOTE, QUIT = "run", "skip", "back", "note", "quit"


class UI(Protocol):
    """The terminal side of an interactive walk (render/runbook.py)."""

    def step_prompt(self, walk: Walk, index: int) -> str: ...

    def show_outcome(self, walk: Walk, step: Step, outcome: StepOutcome) -> None: ...

    def ask(self, question: Question) -> str | None: ...

    def note(self) -> str: ...

    def show_result(self, result: WalkResult) -> None: ...

    def choose(self, plans: tuple[Plan, ...]) -> Plan | None: ...

    def show_dry_run(self, plan: Plan, dry_run_only: bool) -> None: ...

    def confirm(self, plan: Plan) -> str: ...

    def show_executed(self, plan: Plan, returncode: int | None, output: str) -> None: ...


@dataclass(frozen=True)
class Setup:
    """Everything a walk is started with."""

    runbook: Runbook
    settings: Settings
    inputs: Mapping[str, Any]
    at: datetime
    prometheus: Callable[[], Prometheus]
    dry_run: bool = False


class Walk:
    """One walk of a runbook. A log with events already in it (a resume) is replayed first."""

    def __init__(self, setup: Setup, log: StateLog, mode: str) -> None:
        self.setup, self.log = setup, log
        self.runbook = setup.runbook
        questions = {q.id: None for q in self.runbook.questions}
        self.scope = engine.Scope(self.runbook, setup.settings, {**questions, **setup.inputs}, setup.at,
                                  setup.prometheus)
        self.outcomes: dict[str, StepOutcome] = {}
        self.notes: dict[str, list[str]] = {}
        self.answers: dict[str, dict[str, str]] = {}
        self.path: list[str] = []
        self.position = 0
        if log.events:
            self._replay()
        else:
            # the file's absolute path: `resume` may run from another directory than the walk did
            log.append("start", runbook=self.runbook.name, file=str(Path(self.runbook.path).resolve()),
                       inputs=_saved(setup.inputs),
                       at=isoformat(setup.at), mode=mode, dry_run=setup.dry_run)

    def close(self) -> None:
        self.scope.close()

    @property
    def started(self) -> datetime:
        return parse_time(self.log.start()["time"], "time")

    def elapsed(self) -> float:
        """Seconds since the walk began (a resumed walk keeps its clock)."""
        return (datetime.now(UTC) - self.started).total_seconds()

    # -- events ------------------------------------------------------------------------------------------------------

    def _replay(self) -> None:
        for event in self.log.events:
            kind, step = event["event"], event.get("step")
            if kind == "step":
                outcome = StepOutcome.from_dict(event["outcome"])
                self.outcomes[step] = outcome
                self.scope.restore(outcome)
                self.path.append(step)
            elif kind == "skip":
                self.outcomes[step] = StepOutcome(step, event["title"], SKIPPED, time=event["time"])
                self.path.append(step)
            elif kind == "note":
                self.notes.setdefault(step, []).append(event["text"])
            elif kind == "answer":
                self.answers.setdefault(step, {})[event["question"]] = event["answer"]
                self.scope.variables[event["question"]] = event["answer"]
            if "next" in event:
                self.position = event["next"]

    def start_at(self, step_id: str) -> None:
        """Begin at a step (`--start-at`): the steps before it are not run."""
        self.position = self.runbook.step_index(step_id)
        self.log.append("start_at", step=self.runbook.steps[self.position].id, next=self.position)

    def run_step(self, index: int) -> StepOutcome:
        step = self.runbook.steps[index]
        outcome = engine.run_step(step, self.scope, isoformat(datetime.now(UTC)))
        self.outcomes[step.id] = outcome
        self.path.append(step.id)
        self.log.append("step", step=step.id, verdict=outcome.verdict, outcome=outcome.to_dict(), next=index + 1)
        return outcome

    def skip(self, index: int) -> None:
        step = self.runbook.steps[index]
        self.outcomes[step.id] = StepOutcome(step.id, step.title, SKIPPED, time=isoformat(datetime.now(UTC)))
        self.path.append(step.id)
        self.log.append("skip", step=step.id, title=step.title, next=index + 1)

    def back(self, index: int) -> int:
        target = max(0, index - 1)
        self.log.append("back", step=self.runbook.steps[target].id, next=target)
        return target

    def note(self, index: int, text: str) -> None:
        step = self.runbook.steps[min(index, len(self.runbook.steps) - 1)].id
        self.notes.setdefault(step, []).append(text)
        self.log.append("note", step=step, text=text)

    def answer(self, step: Step, question: Question, value: str) -> None:
        self.answers.setdefault(step.id, {})[question.id] = value
        self.scope.variables[question.id] = value
        self.log.append("answer", step=step.id, question=question.id, answer=value)

    # -- the two ways to walk ----------------------------------------------------------------------------------------

    def automatic(self, skip: frozenset[str] = frozenset()) -> WalkResult:
        """`--no-input`: every step from the current position, in order (but those in `skip`: a fixture replays
        the skips of the walk it recorded); nothing asked, nothing executed."""
        index = self.position
        try:
            for index in range(self.position, len(self.runbook.steps)):
                if self.runbook.steps[index].id in skip:
                    self.skip(index)
                else:
                    self.run_step(index)
        except KeyboardInterrupt:
            self.log.append("interrupted", next=index)
            return self.result(finished=False)
        return self.finish()

    def interactive(self, ui: UI) -> WalkResult:
        """One step at a time, as the engineer chooses. Ctrl-C stops the walk with the state saved."""
        index = self.position
        try:
            while index < len(self.runbook.steps):
                step = self.runbook.steps[index]
                action = ui.step_prompt(self, index)
                if action == RUN:
                    outcome = self.run_step(index)
                    ui.show_outcome(self, step, outcome)
                    for question in step.questions:
                        value = ui.ask(question)
                        if value:
                            self.answer(step, question, value)
                    index += 1
                elif action == SKIP:
                    self.skip(index)
                    index += 1
                elif action == BACK:
                    index = self.back(index)
                elif action == NOTE:
                    text = ui.note().strip()
                    if text:
                        self.note(index, text)
                elif action == QUIT:
                    self.log.append("quit", step=step.id, next=index)
                    return self.result(finished=False)
            result = self.finish()
            ui.show_result(result)
            self._offer_execution(ui, result)
            return self.result(finished=True)
        except KeyboardInterrupt:
            self.log.append("interrupted", next=index)
            return self.result(finished=False)

    def _offer_execution(self, ui: UI, result: WalkResult) -> None:
        # an empty target would be confirmed by pressing Enter: such a plan is printed, never offered
        runnable = tuple(p for p in result.plans if p.executable and p.command and p.target and not p.unresolved)
        while runnable:
            plan = ui.choose(runnable)
            if plan is None:
                return
            # the dry run: the fully resolved command and its undo, always shown before anything can run
            ui.show_dry_run(plan, self.setup.dry_run)
            self.log.append("dry_run", mitigation=plan.mitigation, model=plan.model, command=plan.command,
                            undo=plan.undo)
            if self.setup.dry_run:
                continue
            typed = ui.confirm(plan).strip()
            if not typed or typed != plan.target:
                self.log.append("declined", mitigation=plan.mitigation, model=plan.model, typed=typed)
                continue
            returncode, output = execute(plan)
            self.log.append("executed", mitigation=plan.mitigation, model=plan.model, command=plan.command,
                            returncode=returncode, output=output[-2000:])
            ui.show_executed(plan, returncode, output)

    # -- conclusions -----------------------------------------------------------------------------------------------

    def finish(self) -> WalkResult:
        """Conclude, record the conclusion and the end of the walk."""
        result = self.result(finished=True)
        self.log.append("conclusion", active_problem=result.active,
                        causes=[c.to_dict() for c in result.causes],
                        mitigations=[p.to_dict() for p in result.plans],
                        escalation=result.escalation.to_dict() if result.escalation else None)
        self.log.append("end")
        return self.result(finished=True)

    def escalation_now(self) -> EscalationState | None:
        findings = tuple(f for o in self.outcomes.values() for f in o.findings)
        active = any(f.status in ("WARN", "ALERT") for f in findings)
        return engine.escalation(self.runbook, self.scope, active, self.elapsed(), self._all_answers())

    def _all_answers(self) -> dict[str, str]:
        return {q: a for answers in self.answers.values() for q, a in answers.items()}

    def result(self, *, finished: bool) -> WalkResult:
        steps = []
        for step in self.runbook.steps:
            outcome = self.outcomes.get(step.id) or StepOutcome(step.id, step.title, NOT_RUN)
            steps.append(dataclasses.replace(outcome, answers=dict(self.answers.get(step.id, {})),
                                             notes=tuple(self.notes.get(step.id, ()))))
        findings = tuple(f for s in steps for f in s.findings)
        causes = engine.rank_causes(self.runbook, findings)
        plans = engine.plan_mitigations(self.runbook, causes, self.scope)
        timeline = tuple({k: _shown(v) if k == "inputs" else v for k, v in e.items() if k != "outcome"}
                         for e in self.log.events)
        return WalkResult(self.runbook.name, self.runbook.title, self.log.walk_id, isoformat(self.setup.at),
                          _shown(self.setup.inputs), tuple(steps), tuple(self.path), causes, plans,
                          self.escalation_now(), timeline, finished)


def _shown(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as reports show them: a URL's user masked, its password (also `?password=`) left out."""
    return {k: mask_secret(_without_password(v)) if isinstance(v, str) and "://" in v else
            _CONNINFO_SECRET.sub("", v).strip() if isinstance(v, str) else v for k, v in inputs.items()}


def _saved(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as the state file keeps them: a URL without its password (in the user part or a `password=` query
    parameter), so no secret is written to disk. A resumed walk that needs one reads it where `mlobs logs` does
    (log.password / MLOBS_LOG_PASSWORD, PGPASSWORD, ~/.pgpass)."""
    return {k: _without_password(v) if isinstance(v, str) and "://" in v else
            _CONNINFO_SECRET.sub("", v).strip() if isinstance(v, str) else v for k, v in inputs.items()}


# a secret's parameter in a URL query or a libpq conninfo (`host=db sslpassword=x`): dropped before saving
_SECRET_KEY = re.compile(r"(ssl)?pass(word)?|.*(token|secret|api[_-]?key)", re.IGNORECASE)
_CONNINFO_SECRET = re.compile(r"\b(ssl)?password\s*=\s*('(\\.|[^'])*'|\S*)", re.IGNORECASE)


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_secret(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.partition(':')[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&") if not _SECRET_KEY.fullmatch(p.partition("=")[0]))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def execute(plan: Plan) -> tuple[int | None, str]:
    """Run a confirmed mitigation's command (no shell), within EXECUTE_TIMEOUT; (return code, output)."""
    assert plan.command is not None
    try:
        argv = shlex.split(plan.command)
    except ValueError as e:  # an unbalanced quote in the runbook's command
        return None, f"cannot split the command into arguments: {e}"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=EXECUTE_TIMEOUT,
                              check=False)
    except OSError as e:  # not found, not executable...: the walk's report says so, it does not crash
        return None, f"cannot run: {e}"
    except subprocess.TimeoutExpired:
        return None, f"stopped after {EXECUTE_TIMEOUT:g} s"
    return done.returncode, (done.stdout + done.stderr).strip()
