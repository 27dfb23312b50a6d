"""The saved state of a walk: an append-only JSON Lines file, one event a line, written after every step.

The file is the walk's timeline too: `resume` replays it to pick up where a crashed or interrupted walk stopped,
and `--report` writes it as the incident timeline. Nothing is ever rewritten; a line cut short by a crash is
ignored when read back.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlobs_cli.errors import InputError
from mlobs_cli.timeparse import isoformat

SUFFIX = ".jsonl"


class StateLog:
    """The events of one walk, kept in memory and, when `path` is set, appended to its file."""

    def __init__(self, walk_id: str | None, path: Path | None, events: list[dict[str, Any]] | None = None) -> None:
        self.walk_id, self.path = walk_id, path
        self.events: list[dict[str, Any]] = events or []

    @classmethod
    def create(cls, directory: Path | None, runbook: str) -> StateLog:
        """A new walk's log in `directory` (None: kept in memory only, as `runbook test` does).

        Raises:
            InputError: The directory cannot be created.
        """
        if directory is None:
            return cls(None, None)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        walk_id = f"{stamp}-{runbook}-{secrets.token_hex(3)}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create the state directory {directory} (runbook.state_dir): {e}") from e
        return cls(walk_id, directory / f"{walk_id}{SUFFIX}")

    @classmethod
    def open(cls, directory: Path, walk_id: str | None) -> StateLog:
        """The log of `walk_id`, or of the most recent walk that did not finish.

        Raises:
            InputError: No such walk, or none left to resume.
        """
        if walk_id:
            if Path(walk_id).name != walk_id or walk_id.startswith("."):  # a walk id, never a path out of the dir
                raise InputError(f"{walk_id!r} is not a walk id (see the files in {directory})")
            path = directory / f"{walk_id.removesuffix(SUFFIX)}{SUFFIX}"
            if not path.is_file():
                raise InputError(f"no saved walk {walk_id!r} in {directory} (runbook.state_dir)")
            return cls(path.stem, path, _read(path))
        candidates = sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True) \
            if directory.is_dir() else []
        for path in candidates:
            events = _read(path)
            if events and not any(e["event"] == "end" for e in events):
                return cls(path.stem, path, events)
        raise InputError(f"no unfinished walk to resume in {directory} (runbook.state_dir)")

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Record an event, with the current time, and write it through to the file."""
        record = {"event": event, "time": isoformat(datetime.now(UTC)), **fields}
        self.events.append(record)
        if self.path is not None:
            line = json.dumps(record, sort_keys=True, allow_nan=False, default=str) + "\n"
            # only its owner may read it: the inputs may name a log store's URL
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        return record

    def start(self) -> Mapping[str, Any]:
        """The `start` event: the runbook, its inputs and the walk's time."""
        for event in self.events:
            if event["event"] == "start":
                return event
        raise InputError(f"saved walk {self.walk_id} has no start event: it cannot be resumed")


def _read(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read saved walk {path}: {e}") from e
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the last line of a walk killed while writing it
    return events
