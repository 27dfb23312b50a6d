"""`validate` lints many files in forked workers: the report is the one a single process gives, in the same
order, and an exception in a worker surfaces as it would in one process."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from mlobs_cli.alerts import validate as lint
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity
from mlobs_cli.catalogue import load as load_catalogue

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
CORPUS = SHARED / "corpus" / "rules"

CTX = Context(load_catalogue())


def run(paths: list[str], processes: int, monkeypatch: pytest.MonkeyPatch,
        checks: Iterable[Check] | None = None, debug: bool = False) -> lint.LintReport:
    """`validate` with `processes` processes (1: no worker), whatever the machine's cores."""
    with monkeypatch.context() as m:
        m.setattr(lint.os, "cpu_count", lambda: processes)
        m.setattr(lint, "FILES_PER_PROCESS", 1 if processes > 1 else 10**9)
        return lint.validate(paths, CTX, checks, debug=debug)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the corpus in ../shared is not beside this clone")
@pytest.mark.parametrize("processes", [2, 3])
def test_parallel_and_serial_reports_are_identical_on_the_corpus(processes, monkeypatch):
    paths = [str(p) for p in sorted(CORPUS.glob("*/*.y*ml"))]
    serial = run(paths, 1, monkeypatch)
    parallel = run(paths, processes, monkeypatch)
    assert parallel.findings == serial.findings
    assert parallel.files == serial.files
    assert parallel.file_errors == serial.file_errors
    assert parallel.rules_checked == serial.rules_checked


def test_split_keeps_order_and_every_path(tmp_path):
    paths = []
    for n, size in enumerate([10, 5000, 20, 20, 90000, 30, 10, 10]):
        path = tmp_path / f"{n}.yml"
        path.write_text("#" * size, encoding="utf-8")
        paths.append(str(path))
    parts = lint._split([*paths, str(tmp_path / "missing.yml")], 3)
    assert len(parts) == 3
    assert [p for part in parts for p in part] == [*paths, str(tmp_path / "missing.yml")]


class Boom(Check):
    """Raises on some files, as a check with a bug would."""

    NAME = "test/boom"
    SEVERITY = Severity.ERROR

    def __init__(self, *paths: str) -> None:
        self.names = {Path(p).stem for p in paths}

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if rule.name in self.names:
            raise ValueError(f"boom in {rule.name}")
        return ()


def rule_files(tmp_path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = tmp_path / f"r{n}.yml"
        path.write_text(f"groups:\n  - name: g\n    rules:\n      - record: r{n}\n        expr: up\n", encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("failing", [[5], [0], [2, 13], [13, 14, 15]])
def test_the_first_failing_file_in_order_raises_as_in_one_process(tmp_path, monkeypatch, failing):
    """With --debug, whichever process takes the failing parts (the parts are handed out as processes free up),
    the exception raised is the one a single process meets first."""
    paths = rule_files(tmp_path, 16)
    check = Boom(*(paths[n] for n in failing))
    for processes in (1, 2, 3):
        with pytest.raises(ValueError, match=f"boom in r{failing[0]}$"):
            run(paths, processes, monkeypatch, [check], debug=True)


@pytest.mark.parametrize("processes", [1, 3])
def test_without_debug_a_failing_file_is_reported_and_the_others_linted(tmp_path, monkeypatch, processes):
    paths = rule_files(tmp_path, 16)
    report = run(paths, processes, monkeypatch, [Boom(paths[2], paths[13])])
    assert [e.path for e in report.file_errors] == [paths[2], paths[13]]
    assert "ValueError: boom in r2" in report.file_errors[0].message and "bug" in report.file_errors[0].message
    assert [f.path for f in report.files] == [p for n, p in enumerate(paths) if n not in (2, 13)]
    assert report.exit_code(Severity.ERROR) == 2


def test_online_checks_lint_in_one_process(tmp_path, monkeypatch):
    """A series source holds per-run state (cached answers, 'unreachable' reported once): no worker gets a copy."""
    paths = rule_files(tmp_path, 4)

    def no_pool(*args, **kwargs):
        raise AssertionError("forked a worker with a series source")

    monkeypatch.setattr(lint, "ProcessPoolExecutor", no_pool)
    monkeypatch.setattr(lint.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(lint, "FILES_PER_PROCESS", 1)
    report = lint.validate(paths, Context(CTX.catalogue, series=object()), [])
    assert [f.path for f in report.files] == paths
