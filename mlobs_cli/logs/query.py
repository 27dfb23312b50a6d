"""What a `mlobs logs` command asks: the time window, the filters, the grouping, and the names it may use.

Every name that ends up in SQL as an identifier is one of the constants below or a feature name that passed
`check_feature_name`; every value the user typed travels as a query parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from mlobs_cli import timeparse
from mlobs_cli.errors import InputError

# The seed's PredictionLog fields that the commands read.
TIMESTAMP = "timestamp"
TOTAL_LATENCY = "total_latency_ms"
PHASES = ("queue_wait_ms", "inference_ms", "preprocessing_ms", "postprocessing_ms")
FEATURES = "feature_values"
PERCENTILES = (0.5, 0.95, 0.99)

# --by NAME -> column
GROUP_COLUMNS = {
    "model": "model_id",
    "version": "model_version",
    "endpoint": "endpoint",
    "experiment": "experiment_id",
    "variant": "variant_id",
    "status": "status",
}
# Columns `logs search` shows, when the source has them; the identifiers and PII are shown hashed or redacted.
SEARCH_COLUMNS = (
    "timestamp", "model_id", "model_version", "status", "total_latency_ms", "request_id", "trace_id",
    "prediction_id", "endpoint", "user_id", "client_ip_hash", "error_message", "output_class", "output_score",
    "input_features", "output",
)
EXPORT_COLUMNS = ("timestamp", "model_id", "model_version")
EXPORT_OUTPUT_COLUMNS = ("output_class", "output_score")
STATUSES = ("SUCCESS", "ERROR", "TIMEOUT")

_FEATURE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}")


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in UTC; None: unbounded (only `logs search`)."""

    start: datetime | None
    end: datetime | None

    def to_dict(self) -> dict[str, str | None]:
        return {"from": _iso(self.start), "to": _iso(self.end)}

    def label(self) -> str:
        if self.start is None and self.end is None:
            return "all time"
        return f"{_iso(self.start) or '…'} .. {_iso(self.end) or '…'}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else timeparse.isoformat(moment)


@dataclass(frozen=True, slots=True)
class Filters:
    """Row filters; None: not filtered. Values are compared as parameters, never spliced into SQL."""

    model: str | None = None
    version: str | None = None
    status: str | None = None
    trace_id: str | None = None
    request_id: str | None = None
    min_latency_ms: float | None = None

    def columns(self) -> tuple[str, ...]:
        """The columns these filters read."""
        named = {"model": "model_id", "version": "model_version", "status": "status", "trace_id": "trace_id",
                 "request_id": "request_id", "min_latency_ms": TOTAL_LATENCY}
        return tuple(col for attr, col in named.items() if getattr(self, attr) is not None)


def window(since: str | None, start: str | None, end: str | None, default: str | None) -> Window:
    """The window of --since / --from / --to: [from, to), `to` defaulting to now.

    --since is a duration before --to (`1h`) or a time; --from is a time. `default` (a duration) applies when
    neither is given; None leaves the start open.

    Raises:
        InputError: both --since and --from, a time that does not parse, or FROM not before TO.
    """
    if since is not None and start is not None:
        raise InputError("give --since or --from, not both")
    now = timeparse.now()
    stop = timeparse.parse_time(end, "--to", reference=now) if end is not None else None
    anchor = stop or now
    if since is not None:
        begin = timeparse.parse_time(since, "--since", reference=anchor)
    elif start is not None:
        begin = timeparse.parse_time(start, "--from", reference=now)
    elif default is not None:
        begin = anchor - timeparse.parse_duration(default, "--since")
    else:
        begin = None
    if begin is not None and stop is None and default is not None:
        stop = now
    if begin is not None and stop is not None and begin >= stop:
        raise InputError(f"the window is empty: from {timeparse.isoformat(begin)} is not before "
                         f"to {timeparse.isoformat(stop)}")
    return Window(begin, stop)


def period(text: str, option: str) -> Window:
    """`FROM..TO`, or a duration before now (`24h`)."""
    if ".." in text:
        start, stop = timeparse.parse_window(text, option)
        return Window(start, stop)
    now = timeparse.now()
    return Window(timeparse.ago(text, option, reference=now), now)


def group_columns(names: tuple[str, ...]) -> tuple[str, ...]:
    """--by model,version -> ("model_id", "model_version")."""
    unknown = [n for n in names if n not in GROUP_COLUMNS]
    if unknown:
        raise InputError(f"--by {unknown[0]!r}: expected one of {', '.join(GROUP_COLUMNS)}")
    return tuple(dict.fromkeys(GROUP_COLUMNS[n] for n in names))


def check_feature_name(name: str) -> str:
    """A feature name the user typed: letters, digits and `_.:/-`, at most 128 characters."""
    if not _FEATURE_NAME.fullmatch(name):
        raise InputError(f"feature name {name!r}: use letters, digits and _ . : / - (at most 128 characters)")
    return name


def status(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().upper()
    if value not in STATUSES:
        raise InputError(f"--status {text!r}: expected one of {', '.join(STATUSES)}")
    return value
