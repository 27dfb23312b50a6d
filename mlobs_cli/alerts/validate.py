"""`alerts validate`: read every rule file, run every check, and report what they found."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Check, Context, LintFinding, RuleFile, Severity
from mlobs_cli.alerts.registry import all_checks
from mlobs_cli.errors import ExitCode, InputError

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that could not be read or parsed as YAML at all: exit 2, the other files still checked."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class LintReport:
    files: tuple[RuleFile, ...]
    findings: tuple[LintFinding, ...]
    file_errors: tuple[FileError, ...]
    rules_checked: int

    columns = ("path", "line", "column", "severity", "check", "rule", "message")
    errors = ()  # no backend is involved offline

    @property
    def complete(self) -> bool:
        return not self.file_errors

    def rows(self) -> list[list[Any]]:
        return [[f.path, f.line, f.column, str(f.severity), f.check, f.rule, f.message] for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.path for f in self.files],
            "rules_checked": self.rules_checked,
            "file_errors": [e.to_dict() for e in self.file_errors],
        }

    def shown(self, min_severity: Severity) -> LintReport:
        """The same report with only the findings at or above `min_severity`."""
        kept = tuple(f for f in self.findings if f.severity >= min_severity)
        return LintReport(self.files, kept, self.file_errors, self.rules_checked)

    def exit_code(self, fail_on: Severity, exit_zero: bool = False) -> ExitCode:
        if self.file_errors:
            return ExitCode.USAGE
        failing = not exit_zero and any(f.severity >= fail_on for f in self.findings)
        return ExitCode.FINDINGS if failing else ExitCode.OK


def rule_files(paths: Sequence[str]) -> list[str]:
    """The files to check: files as given, directories searched recursively for .yml and .yaml."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found += [os.path.join(root, n) for n in sorted(names) if n.endswith(RULE_SUFFIXES)]
        elif os.path.exists(path):
            found.append(path)
        else:
            raise InputError(f"no such file or directory: {path}")
    return found


def validate(paths: Sequence[str], ctx: Context, checks: Iterable[Check] | None = None) -> LintReport:
    """Lint every rule file under `paths`.

    Raises:
        InputError: a path does not exist, or names no rule file.
    """
    files_to_read = rule_files(paths)
    if not files_to_read:
        raise InputError(f"no .yml or .yaml file under {', '.join(paths)}")
    chosen = tuple(checks if checks is not None else all_checks())
    files, findings, file_errors = [], [], []
    for path in files_to_read:
        try:
            rule_file = loader.load(path)
        except loader.RuleFileError as e:
            file_errors.append(FileError(path, str(e)))
            continue
        files.append(rule_file)
        findings += _lint(rule_file, ctx, chosen)
    findings.sort(key=lambda f: (f.path, f.line, f.column or 0, f.check))
    return LintReport(tuple(files), tuple(findings), tuple(file_errors), sum(1 for f in files for _ in f.rules))


def _lint(file: RuleFile, ctx: Context, checks: tuple[Check, ...]) -> list[LintFinding]:
    rules = {r.name: r for r in file.rules}
    found = []
    for check in checks:
        if check.NAME in file.disabled:
            continue
        problems = list(check.check_file(file, ctx))
        for rule in file.rules:
            if check.NAME not in rule.disabled:
                problems += check.check_rule(rule, ctx)
        for p in problems:
            owner = rules.get(p.rule) if p.rule else None
            if owner is not None and p.check in owner.disabled:
                continue
            found.append(LintFinding(p.check, p.severity, file.path, p.line, p.column, p.rule, p.message))
    return found
