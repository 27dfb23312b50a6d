"""Runbooks are code: record a live walk's queries as a fixture, and replay fixtures to test a runbook.

A fixture is JSON: the runbook, the walk's time and inputs, the runbook settings it ran with (SLOs, LLM models),
where it started and the steps it skipped, every Prometheus answer it got (as the API gave it: values as strings, so NaN survives), and what the walk
concluded: the verdict of each step, the causes ranked (`cause@model`), the path taken. `runbook test` walks the
runbook again against the recorded answers and reports every difference (StackStorm's rehearsals, st2#5829: a
real run turned into a test).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlobs_cli.backends.prometheus import Sample, Series
from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.runbook import service
from mlobs_cli.runbook.checks.base import Prometheus
from mlobs_cli.runbook.reports import FixtureResult, TestReport
from mlobs_cli.runbook.result import WalkResult
from mlobs_cli.timeparse import parse_time

FIXTURE_VERSION = 1
# runbook settings a fixture keeps: they change the conclusions (an LLM's SLO), not where things are stored
SETTINGS = ("runbook.llm_models", "runbook.slo_ms", "runbook.llm_slo_ms")


def _number(value: float) -> str:
    """A value as the Prometheus API writes it (JSON has no NaN or infinity)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _key(api: str, promql: str, *times: float) -> str:
    return json.dumps([api, promql, *(round(float(t), 3) for t in times)])


class Recorder:
    """Wraps a Prometheus client (opened on the first query) and keeps every answer, for `--record FILE`."""

    def __init__(self, opener: Callable[[], Prometheus]) -> None:
        self.opener = opener
        self._client: Prometheus | None = None
        self.queries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def client(self) -> Prometheus:
        with self._lock:
            if self._client is None:
                self._client = self.opener()
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[attr-defined]

    def query(self, promql: str, at: Any = None) -> list[Any]:
        samples = self.client.query(promql, at)
        entry = {"api": "query", "promql": promql, "time": _seconds(at),
                 "result": [{"labels": s.labels, "time": s.time, "value": _number(s.value)} for s in samples]}
        with self._lock:
            self.queries.append(entry)
        return samples

    def query_range(self, promql: str, start: Any, end: Any, step: float) -> list[Any]:
        series = self.client.query_range(promql, start, end, step)
        entry = {"api": "query_range", "promql": promql, "start": _seconds(start), "end": _seconds(end),
                 "step": step, "result": [{"labels": s.labels, "points": [[t, _number(v)] for t, v in s.points]}
                                          for s in series]}
        with self._lock:
            self.queries.append(entry)
        return series

    def label_values(self, name: str) -> list[str]:
        values = self.client.label_values(name)  # type: ignore[attr-defined]
        with self._lock:
            self.queries.append({"api": "label_values", "name": name, "result": list(values)})
        return values


class Replay:
    """Answers queries from a fixture's recording; a query it has no answer for is a backend error (named)."""

    def __init__(self, queries: list[Mapping[str, Any]]) -> None:
        self.answers: dict[str, Any] = {}
        self.labels: dict[str, list[str]] = {}
        for q in queries:
            if q["api"] == "label_values":
                self.labels[q["name"]] = q["result"]
                continue
            times = (q["time"],) if q["api"] == "query" else (q["start"], q["end"], q["step"])
            self.answers[_key(q["api"], q["promql"], *times)] = q["result"]
        self.missing: list[str] = []

    def label_values(self, name: str) -> list[str]:
        """The recorded values; a fixture recorded before walks asked for metric names has none, and its walk
        replays as it was recorded: empty answers are "no data" (the walk's Scope takes the error so)."""
        if name not in self.labels:
            raise BackendUnavailable(f"the fixture has no recorded values of label {name!r}")
        return list(self.labels[name])

    def query(self, promql: str, at: Any = None) -> list[Sample]:
        result = self._answer(_key("query", promql, _seconds(at)), promql)
        return [Sample(dict(r["labels"]), float(r["time"]), float(r["value"])) for r in result]

    def query_range(self, promql: str, start: Any, end: Any, step: float) -> list[Series]:
        result = self._answer(_key("query_range", promql, _seconds(start), _seconds(end), step), promql)
        return [Series(dict(r["labels"]), tuple((float(t), float(v)) for t, v in r["points"])) for r in result]

    def _answer(self, key: str, promql: str) -> Any:
        if key not in self.answers:
            self.missing.append(promql)
            raise BackendUnavailable(f"the fixture has no recorded answer for {promql!r}")
        return self.answers[key]


def _seconds(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def expectation(result: WalkResult) -> dict[str, Any]:
    """What a walk concluded, in the form a fixture expects it."""
    return {"verdicts": {s.step: s.verdict for s in result.steps if s.verdict},
            "causes": [f"{c.cause}@{c.model}" for c in result.causes], "path": list(result.path),
            "active_problem": result.active}


def save(path: Path, result: WalkResult, recorder: Recorder, settings: Settings, runbook_file: str | None) -> None:
    """Write a live walk as a fixture: its answers, and its conclusions as the expected ones. `runbook_file`: the
    runbook's file when the walk named one, rather than a runbook `runbook list` finds by name."""
    data = {"version": FIXTURE_VERSION, "runbook": runbook_file or result.runbook, "description": "",
            "at": result.at,
            "inputs": dict(result.inputs), "settings": {k: settings[k] for k in SETTINGS},
            "start_at": result.path[0] if result.path else None,
            "skip": [s.step for s in result.steps if s.state == "skipped"],
            "queries": recorder.queries, "expect": expectation(result)}
    try:
        # "x": never over a file that appeared since the walk began (refuse_existing checked before it)
        with path.open("x", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
    except FileExistsError:
        raise InputError(f"--record {path}: the file exists; not overwritten") from None
    except OSError as e:
        raise InputError(f"--record {path}: cannot write: {e}") from e


def shipped_fixtures() -> list[Path]:
    from mlobs_cli.runbook import paths

    return sorted((paths.shipped_dir() / "fixtures").glob("*.json"))


def run_fixture(path: Path, settings: Settings) -> FixtureResult:
    """Replay one fixture.

    Raises:
        InputError: The fixture cannot be read, or its runbook is missing or malformed.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"fixture {path}: cannot read: {e}") from e
    if not isinstance(data, dict) or data.get("version") != FIXTURE_VERSION or "expect" not in data:
        raise InputError(f"fixture {path}: not a runbook fixture (version {FIXTURE_VERSION} with `expect`)")
    try:
        runbook = service.find(str(data["runbook"]), settings)
        replayed = dataclasses.replace(settings, values={**settings.values, **data.get("settings", {})})
        replay = Replay(data["queries"])
        inputs = service.resolve_inputs(runbook, {k: str(v) for k, v in data.get("inputs", {}).items()})
        at = parse_time(str(data["at"]), "at")
    except (KeyError, TypeError, AttributeError) as e:  # a fixture edited by hand: one line, not a traceback
        raise InputError(f"fixture {path}: malformed ({type(e).__name__}: {e})") from e
    walk = service.start(runbook, replayed, inputs, at, lambda: replay, mode="no_input", save=False)
    if data.get("start_at"):
        walk.start_at(data["start_at"])
    got = expectation(walk.automatic(frozenset(data.get("skip", ()))))
    differences = [f"{key}: expected {data['expect'].get(key)!r}, got {got[key]!r}"
                   for key in got if data["expect"].get(key) != got[key]]
    differences += [f"query not in the fixture: {q}" for q in dict.fromkeys(replay.missing)]
    return FixtureResult(path.name, runbook.name, not differences, tuple(differences),
                         got["causes"][0] if got["causes"] else None)


def run_all(paths_: list[Path], settings: Settings) -> TestReport:
    """Replay every fixture (the shipped ones when none is given)."""
    chosen = paths_ or shipped_fixtures()
    if not chosen:
        raise InputError("no fixture to run")
    return TestReport(tuple(run_fixture(p, settings) for p in chosen))
