"""`alerts validate`: read every rule file, run every check, and report what they found."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Check, Context, LintFinding, RuleFile, Severity
from mlobs_cli.alerts.registry import all_checks
from mlobs_cli.errors import ExitCode, InputError

RULE_SUFFIXES = (".yml", ".yaml")
# Below this many files per process, forking a worker and sending its results (their linted files, pickled) back costs
# more than it saves.
FILES_PER_PROCESS = 50
PARTS_PER_PROCESS = 4  # parts of the files each process takes, one at a time, from a shared counter
FILE_COST = 2000  # what reading and checking any file costs besides its size, in bytes of rules (see _cost)


@dataclass(frozen=True, slots=True)
class LintedFile:
    """What the report keeps of a file once it is linted: the names of its rules, in order, and the lines its
    findings point at. Not the whole RuleFile, which a worker would pickle and send back for nothing."""

    path: str
    rule_names: tuple[str, ...]
    source: Mapping[int, str]  # line number -> text, for the lines the findings point at


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that could not be read or parsed as YAML at all: exit 2, the other files still checked."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class LintReport:
    files: tuple[LintedFile, ...]
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


def validate(paths: Sequence[str], ctx: Context, checks: Iterable[Check] | None = None, *,
             debug: bool = False) -> LintReport:
    """Lint every rule file under `paths`. A file that makes mlobs itself fail (a bug) is a FileError, and the
    other files are still linted; with `debug` the exception is raised instead, for its traceback.

    Raises:
        InputError: a path does not exist, or names no rule file.
    """
    files_to_read = rule_files(paths)
    if not files_to_read:
        raise InputError(f"no .yml or .yaml file under {', '.join(paths)}")
    chosen = tuple(checks if checks is not None else all_checks())
    with _collector_paused():
        files, findings, file_errors = _lint_in_parallel(files_to_read, ctx, chosen, debug)
    findings.sort(key=lambda f: (f.path, f.line, f.column or 0, f.check))
    return LintReport(tuple(files), tuple(findings), tuple(file_errors), sum(len(f.rule_names) for f in files))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Linting allocates a great many objects that live on in the report (YAML nodes, rules, ASTs, findings) and
    next to no reference cycles, so the garbage collector's passes over them find nothing and take about a tenth
    of the time: pause it meanwhile (forked workers inherit the pause)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_Linted = tuple[list[LintedFile], list[LintFinding], list[FileError]]


def _lint_paths(paths: Sequence[str], ctx: Context, checks: tuple[Check, ...], debug: bool) -> _Linted:
    """Read and lint each file: the files read, their findings, and the files that could not be read, in order."""
    files, findings, file_errors = [], [], []
    for path in paths:
        try:
            rule_file = loader.load(path)
            found = _lint(rule_file, ctx, checks)
        except loader.RuleFileError as e:
            file_errors.append(FileError(path, str(e)))
            continue
        except Exception as e:
            if debug:
                raise
            # a bug of mlobs met on this file must not cost the findings of every other file
            file_errors.append(FileError(path, f"mlobs failed on this file ({type(e).__name__}: {e}); it is a bug, "
                                               "please report it (--debug shows the traceback)"))
            continue
        lines = rule_file.lines
        source = {f.line: lines[f.line - 1] for f in found if 0 < f.line <= len(lines)}
        files.append(LintedFile(path, tuple(r.name for r in rule_file.rules), source))
        findings += found
    return files, findings, file_errors


def _lint_in_parallel(paths: list[str], ctx: Context, checks: tuple[Check, ...], debug: bool) -> _Linted:
    """`_lint_paths(paths, ...)`, using every core when there are enough files, with the same result.

    The paths are cut into contiguous parts (PARTS_PER_PROCESS per process) of about equal cost. This process and
    forked workers take the next part from a shared counter until none is left, so a process slowed by anything
    (a forked one by its copy-on-write page faults) simply takes fewer; the parts are joined in order, so files,
    findings and file errors come out as one process would give them. Fork, not spawn: a worker starts with the
    imports, the catalogue and the checks already loaded, and gets `ctx` and `checks` without pickling.

    An exception stops the process it happens in. The first failed part in order is the one one process would
    have failed on (every earlier part was handed out earlier and finished); its exception is raised here: this
    process's own, or, for a worker's, the same part linted again here so that its exception and traceback are
    local.
    """
    processes = min(os.cpu_count() or 1, len(paths) // FILES_PER_PROCESS)
    # The online checks share one server's answers across files, and report an unreachable server once per run:
    # state one process must hold.
    if processes < 2 or ctx.series is not None or "fork" not in multiprocessing.get_all_start_methods():
        return _lint_paths(paths, ctx, checks, debug)
    parts = _split(paths, processes * PARTS_PER_PROCESS)
    fork = multiprocessing.get_context("fork")
    counter = fork.Value("i", 0)
    with ProcessPoolExecutor(processes - 1, mp_context=fork, initializer=_start_worker,
                             initargs=(ctx, checks, parts, counter, debug)) as pool:
        futures = [pool.submit(_lint_in_worker) for _ in range(processes - 1)]
        done, error = _take_parts(parts, counter, ctx, checks, debug)
        for future in futures:
            done |= future.result()
    files, findings, file_errors = [], [], []
    for index, part in enumerate(parts):
        if index in done:
            part_files, part_findings, part_errors = done[index]
        elif error is not None and index == error[0]:
            raise error[1]
        else:  # a worker's failed part (or, were it possible, one never taken): lint it here
            part_files, part_findings, part_errors = _lint_paths(part, ctx, checks, debug)
        files += part_files
        findings += part_findings
        file_errors += part_errors
    return files, findings, file_errors


def _take_parts(parts: list[list[str]], counter: Any, ctx: Context, checks: tuple[Check, ...], debug: bool
                ) -> tuple[dict[int, _Linted], tuple[int, Exception] | None]:
    """Lint the next untaken part until none is left or one fails: the results by part, and the failed part with
    its exception."""
    done: dict[int, _Linted] = {}
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        if index >= len(parts):
            return done, None
        try:
            done[index] = _lint_paths(parts[index], ctx, checks, debug)
        except Exception as e:  # noqa: BLE001 - re-raised in order by _lint_in_parallel
            return done, (index, e)


def _split(paths: list[str], parts: int) -> list[list[str]]:
    """`paths` cut into `parts` contiguous lists that take about as long to lint."""
    costs = [_cost(p) for p in paths]
    total = sum(costs)
    result: list[list[str]] = [[] for _ in range(parts)]
    done = 0
    for path, cost in zip(paths, costs, strict=True):
        result[min(int((done + cost / 2) * parts / total), parts - 1)].append(path)  # where its middle falls
        done += cost
    return result


def _cost(path: str) -> int:
    """The time to lint a file, in bytes: measured on the corpus, about 0.4 ms per KB plus 0.7 ms per file."""
    try:
        return FILE_COST + os.path.getsize(path)
    except OSError:  # the loader reports it
        return FILE_COST


# What a forked worker lints with, set once when it starts (from the parent's memory, not pickled).
_worker_job: tuple[Context, tuple[Check, ...], list[list[str]], Any, bool] | None = None


def _start_worker(ctx: Context, checks: tuple[Check, ...], parts: list[list[str]], counter: Any,
                  debug: bool) -> None:
    global _worker_job
    _worker_job = (ctx, checks, parts, counter, debug)


def _lint_in_worker() -> dict[int, _Linted]:
    """The parts this worker linted. A part it failed on is missing: the parent lints it again and raises."""
    assert _worker_job is not None, "_start_worker runs first in every worker"
    ctx, checks, parts, counter, debug = _worker_job
    return _take_parts(parts, counter, ctx, checks, debug)[0]


def _lint(file: RuleFile, ctx: Context, checks: tuple[Check, ...]) -> list[LintFinding]:
    rules = tuple(file.rules)  # once, not once per check
    by_name = {r.name: r for r in rules}
    found = []
    for check in checks:
        if check.NAME in file.disabled:
            continue
        problems = list(check.check_file(file, ctx))
        for rule in rules:
            if check.NAME not in rule.disabled:
                problems += check.check_rule(rule, ctx)
        for p in problems:
            owner = by_name.get(p.rule) if p.rule else None
            if owner is not None and p.check in owner.disabled:
                continue
            found.append(LintFinding(p.check, p.severity, file.path, p.line, p.column, p.rule, p.message))
    return found
