"""The results of `runbook list`, `runbook show`, `runbook lint` and `runbook test`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlobs_cli.errors import ExitCode
from mlobs_cli.results import Finding
from mlobs_cli.runbook import model
from mlobs_cli.runbook.model import Runbook
from mlobs_cli.runbook.service import Entry


@dataclass(frozen=True, slots=True)
class RunbookList:
    entries: tuple[Entry, ...]
    columns = ("name", "title", "steps", "aliases", "origin", "path")
    errors = ()

    @property
    def complete(self) -> bool:
        return True

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(Finding("runbook/invalid", "error", e.path, e.error) for e in self.entries if e.error)

    def rows(self) -> list[list[Any]]:
        return [[e.name, e.title or f"(invalid: {e.error})", e.steps, list(e.aliases), e.origin, e.path]
                for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        return {"runbooks": [{"name": e.name, "title": e.title, "steps": e.steps, "aliases": list(e.aliases),
                              "origin": e.origin, "path": e.path, "error": e.error} for e in self.entries]}


@dataclass(frozen=True, slots=True)
class RunbookPage:
    """A runbook as a readable page (`runbook show`)."""

    runbook: Runbook
    columns = ("step", "title", "checks", "rules", "questions", "commands")
    findings = ()
    errors = ()

    @property
    def complete(self) -> bool:
        return True

    def rows(self) -> list[list[Any]]:
        return [[s.id, s.title, len(s.checks), len(s.rules), len(s.questions), len(s.commands)]
                for s in self.runbook.steps]

    def to_dict(self) -> dict[str, Any]:
        rb = self.runbook
        return {
            "name": rb.name, "title": rb.title, "path": rb.path, "description": rb.description,
            "aliases": list(rb.aliases), "symptoms": list(rb.symptoms),
            "inputs": {n: {"description": i.description, "default": i.default, "pattern": i.pattern, "type": i.type}
                       for n, i in rb.inputs.items()},
            "steps": [{
                "id": s.id, "title": s.title, "why": s.why,
                "checks": [{"id": c.id, "kind": c.kind, "title": c.title, "optional": c.optional, "timeout": c.timeout,
                            **{k: c.spec[k] for k in ("query", "range", "reference", "current", "source", "if")
                               if k in c.spec}} for c in s.checks],
                "rules": [{"check": r.check, "when": r.when.source, "status": r.status, "message": r.message.source,
                           "supports": dict(r.supports)} for r in s.rules],
                "questions": [{"id": q.id, "ask": q.ask, "choices": list(q.choices)} for q in s.questions],
                "commands": [{"run": c.run.source, "why": c.why} for c in s.commands],
            } for s in rb.steps],
            "causes": {k: dict(v) for k, v in rb.causes.items()},
            "mitigations": [{"id": m.id, "title": m.title, "for": dict(m.fits), "executable": m.executable,
                             **{k: getattr(m, k).source for k in ("command", "change", "undo", "target")
                                if getattr(m, k) is not None}} for m in rb.mitigations],
            "escalation": None if rb.escalation is None else {
                "after_seconds": rb.escalation.after, "page": rb.escalation.page,
                "customer_impact": rb.escalation.customer_impact},
        }


@dataclass(frozen=True, slots=True)
class FileProblems:
    path: str
    problems: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class LintReport:
    """`runbook lint`: every problem of every file, with its line."""

    files: tuple[FileProblems, ...]
    columns = ("path", "line", "message")
    errors = ()

    @property
    def complete(self) -> bool:
        return True

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(Finding("runbook/lint", "error", f"{f.path}:{line}", message)
                     for f in self.files for line, message in f.problems)

    def rows(self) -> list[list[Any]]:
        return [[f.path, line, message] for f in self.files for line, message in f.problems]

    def to_dict(self) -> dict[str, Any]:
        return {"files": [{"path": f.path, "valid": not f.problems,
                           "problems": [{"line": line, "message": m} for line, m in f.problems]} for f in self.files]}

    def exit_code(self) -> ExitCode:
        return ExitCode.FINDINGS if any(f.problems for f in self.files) else ExitCode.OK


def lint(files: list[Path]) -> LintReport:
    """Validate runbook files: schema, templates, expressions, references (and PromQL syntax)."""
    return LintReport(tuple(FileProblems(str(p), tuple(model.problems(p))) for p in files))


@dataclass(frozen=True, slots=True)
class FixtureResult:
    fixture: str
    runbook: str
    passed: bool
    differences: tuple[str, ...]
    top_cause: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"fixture": self.fixture, "runbook": self.runbook, "passed": self.passed,
                "differences": list(self.differences), "top_cause": self.top_cause}


@dataclass(frozen=True, slots=True)
class TestReport:
    """`runbook test`: each fixture replayed, and how its conclusions differ from the expected ones."""

    __test__ = False  # not a pytest test class
    results: tuple[FixtureResult, ...]
    columns = ("fixture", "runbook", "result", "top_cause", "differences")
    errors = ()

    @property
    def complete(self) -> bool:
        return True

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(Finding("runbook/test", "error", r.fixture, d) for r in self.results for d in r.differences)

    def rows(self) -> list[list[Any]]:
        return [[r.fixture, r.runbook, "pass" if r.passed else "FAIL", r.top_cause, list(r.differences)]
                for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        return {"fixtures": [r.to_dict() for r in self.results],
                "passed": sum(r.passed for r in self.results), "failed": sum(not r.passed for r in self.results)}

    def exit_code(self) -> ExitCode:
        return ExitCode.FINDINGS if any(not r.passed for r in self.results) else ExitCode.OK
