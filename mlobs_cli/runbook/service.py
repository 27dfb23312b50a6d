"""The seam between the commands and the engine: finding runbooks, resolving a walk's inputs, starting walks."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlobs_cli.config import Settings
from mlobs_cli.errors import ConfigError, InputError
from mlobs_cli.runbook import model, paths
from mlobs_cli.runbook.model import Runbook
from mlobs_cli.runbook.state import StateLog
from mlobs_cli.runbook.walk import Setup, Walk
from mlobs_cli.timeparse import now, parse_duration, parse_time

# Alert labels that name a runbook input under another name: the seed's alert rules say `model_id`.
ALERT_LABEL_ALIASES = {"model_id": "model"}
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Entry:
    """A runbook file as `runbook list` shows it."""

    name: str
    title: str
    path: str
    origin: str  # "shipped", or the directory of the team's runbooks
    steps: int
    aliases: tuple[str, ...]
    error: str | None = None  # why it cannot be used


def directories(settings: Settings) -> list[tuple[Path, str]]:
    """Where runbooks are looked up, first match wins: the team's directories, then the shipped runbooks."""
    return [*((d, str(d)) for d in paths.user_dirs(settings["runbook.dir"])), (paths.shipped_dir(), "shipped")]


def catalogue(settings: Settings) -> list[Entry]:
    """Every runbook file found, valid or not (a broken one says why); a name found twice: the first wins."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for directory, origin in directories(settings):
        for path in sorted(p for p in directory.glob("*") if p.suffix in SUFFIXES) if directory.is_dir() else ():
            try:
                rb = model.load(path)
            except InputError as e:
                entries.append(Entry(path.stem, "", str(path), origin, 0, (), str(e)))
                continue
            if rb.name in seen:
                continue
            seen.add(rb.name)
            entries.append(Entry(rb.name, rb.title, str(path), origin, len(rb.steps), rb.aliases))
    return entries


def is_file(name: str) -> bool:
    """Whether a runbook argument is a file path rather than a name or alias."""
    return Path(name).suffix in SUFFIXES or "/" in name


def find(name: str, settings: Settings) -> Runbook:
    """A runbook by file path, name or alias.

    Raises:
        RunbookError: The runbook is malformed (exit 2, with the line).
        InputError: No such runbook.
    """
    if is_file(name):
        if not Path(name).is_file():
            raise InputError(f"runbook file not found: {name}")
        return model.load(name)
    for directory, _ in directories(settings):
        for suffix in SUFFIXES:
            if (directory / f"{name}{suffix}").is_file():
                return model.load(directory / f"{name}{suffix}")
    for entry in catalogue(settings):
        if entry.error is None and (name == entry.name or name in entry.aliases):
            return model.load(entry.path)
    known = ", ".join(e.name for e in catalogue(settings) if e.error is None)
    raise InputError(f"no runbook {name!r} (known: {known or 'none'}; see `mlobs runbook list`)")


def parse_sets(values: Sequence[str]) -> dict[str, str]:
    """`--set name=value` options -> {name: value}."""
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def alert_labels(path: str) -> dict[str, str]:
    """The labels of an Alertmanager alert (`--from-alert FILE`): one alert, a list, or a webhook payload.

    Raises:
        InputError: The file cannot be read or is not an alert.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--from-alert {path}: cannot read: {e}") from e
    except json.JSONDecodeError as e:
        raise InputError(f"--from-alert {path} line {e.lineno}: not JSON: {e.msg}") from e
    alerts = data.get("alerts") if isinstance(data, dict) and "alerts" in data else data
    alert = alerts[0] if isinstance(alerts, list) and alerts else alerts
    if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
        raise InputError(f"--from-alert {path}: expected an Alertmanager alert (an object with `labels`)")
    labels = {str(k): str(v) for k, v in alert["labels"].items()}
    for alias, name in ALERT_LABEL_ALIASES.items():
        if alias in labels and name not in labels:
            labels[name] = labels[alias]
    return labels


def resolve_inputs(runbook: Runbook, given: Mapping[str, str], alert: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """The value of every input: --set / --model, then the alert's labels, then the runbook's default; each
    checked against its pattern (values go into queries and commands) and type.

    Raises:
        InputError: An unknown input, or a value that does not match.
    """
    unknown = sorted(set(given) - set(runbook.inputs))
    if unknown:
        raise InputError(f"runbook {runbook.name} has no input {unknown[0]!r} "
                         f"(inputs: {', '.join(runbook.inputs) or 'none'})")
    values: dict[str, Any] = {}
    for name, spec in runbook.inputs.items():
        raw = given.get(name)
        if raw is None and alert and name in alert:
            raw = alert[name]
        if raw is None:
            raw = spec.default
        value = "" if raw is None else raw
        if spec.pattern and not re.fullmatch(spec.pattern, str(value)):
            raise InputError(f"input {name}={value!r} does not match {spec.pattern}")
        if spec.type == "number" and value != "":
            try:
                number = float(value)
                value = int(number) if number.is_integer() else number
            except ValueError:
                raise InputError(f"input {name}={value!r}: expected a number") from None
        elif spec.type == "duration" and value != "":
            parse_duration(str(value), f"input {name}")
        values[name] = value
    return values


def refuse_existing(path: Path | None, flag: str) -> None:
    """Refuse, before a walk starts, to write `--report` / `--record` over a file the user already has.

    Raises:
        InputError: The file exists.
    """
    if path is not None and (path.exists() or path.is_symlink()):
        raise InputError(f"{flag} {path}: the file exists; choose another name or remove it (mlobs never "
                         "overwrites it)")


def walk_time(at: str | None) -> datetime:
    return parse_time(at, "--at") if at else now()


@dataclass(frozen=True, slots=True)
class Request:
    """A walk as the command line asks for it."""

    runbook: str  # name, alias or file
    sets: tuple[str, ...] = ()  # --set NAME=VALUE
    given: Mapping[str, str | None] = field(default_factory=dict)  # options that set an input (--model...)
    alert: Path | None = None  # --from-alert
    at: str | None = None
    start_at: str | None = None
    dry_run: bool = False


def open_walk(request: Request, settings: Settings, prometheus: Any, *, mode: str) -> Walk:
    """Find the runbook, resolve its inputs (options, then --set, then the alert's labels, then defaults), and
    start a walk, saved under runbook.state_dir.

    Raises:
        RunbookError: The runbook is malformed (exit 2, with the line).
        InputError: No such runbook, an unknown input or step, a value that does not match its pattern.
    """
    runbook = find(request.runbook, settings)
    given = parse_sets(request.sets)
    given.update({k: v for k, v in request.given.items() if v is not None})
    alert = alert_labels(str(request.alert)) if request.alert else None
    inputs = resolve_inputs(runbook, given, alert)
    if request.start_at:
        runbook.step_index(request.start_at)  # refused before any state is saved
    _require_prometheus(runbook, settings)
    walk = start(runbook, settings, inputs, walk_time(request.at), prometheus, mode=mode, dry_run=request.dry_run)
    if request.start_at:
        walk.start_at(request.start_at)
    return walk


def _require_prometheus(runbook: Runbook, settings: Settings) -> None:
    """Refuse a walk that will query Prometheus without knowing where, before any state is saved."""
    if not settings["prometheus.url"] and any(c.kind == "promql" for step in runbook.steps for c in step.checks):
        raise ConfigError(f"runbook {runbook.name} queries Prometheus: pass --prometheus URL or --context NAME, "
                          "or set MLOBS_PROMETHEUS_URL")


def start(runbook: Runbook, settings: Settings, inputs: Mapping[str, Any], at: datetime, prometheus: Any,
          *, mode: str, dry_run: bool = False, save: bool = True) -> Walk:
    """A new walk, its state saved under runbook.state_dir (unless `save` is False)."""
    log = StateLog.create(paths.state_dir(settings["runbook.state_dir"]) if save else None, runbook.name)
    return Walk(Setup(runbook, settings, inputs, at, prometheus, dry_run), log, mode)


def resume(walk_id: str | None, settings: Settings, prometheus: Any) -> Walk:
    """The walk `walk_id` (else the latest unfinished one), replayed from its saved state.

    Raises:
        InputError: No such walk, or its runbook is gone or now malformed.
    """
    log = StateLog.open(paths.state_dir(settings["runbook.state_dir"]), walk_id)
    begin = log.start()
    file = Path(begin["file"])
    runbook = model.load(file) if file.is_file() else find(begin["runbook"], settings)
    _require_prometheus(runbook, settings)
    at = parse_time(begin["at"], "at")
    # the state file is a file anyone with the account may edit: its inputs go into queries and commands, so
    # they pass the runbook's patterns again, as on the command line
    saved = {str(k): "" if v is None else str(v) for k, v in dict(begin.get("inputs") or {}).items()}
    try:
        inputs = resolve_inputs(runbook, saved)
    except InputError as e:
        raise InputError(f"saved walk {log.walk_id}: {e}") from None
    setup = Setup(runbook, settings, inputs, at, prometheus, bool(begin.get("dry_run")))
    return Walk(setup, log, begin.get("mode", "interactive"))
