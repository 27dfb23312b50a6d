"""Times and durations as users type them, for every command that reads a time or a window.

- A duration is Prometheus' syntax: `30s`, `5m`, `1h30m`, `7d`, `2w` (units y w d h m s ms, largest first).
- A time is RFC 3339 (`2026-11-26T03:00:00Z`, an offset, or a date alone meaning midnight UTC), a Unix timestamp
  in seconds (`1764126000`, `1764126000.5`), `now`, or a duration before now (`2h` or `-2h`: two hours ago).
- A window `FROM..TO` is two times; the window includes FROM and excludes TO.
- Every time lies from 1970-01-02 to 9999-01-01 UTC (EARLIEST, LATEST); anything else is an InputError.

Every time is returned as an aware datetime in UTC: a time without an offset is UTC, never the local zone, so the
same command gives the same answer on a laptop in Berlin and a server in Virginia.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mlobs_cli.errors import InputError

# prometheus/common model.ParseDuration: units in this order, each at most once
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_UNIX = re.compile(r"\d{9,11}(?:\.\d+)?")  # 1973..5138 in seconds; 13 digits would be milliseconds
_UNIX_MS = re.compile(r"\d{12,14}(?:\.\d+)?")
DURATION_HELP = "like 30m, 1h or 7d"
TIME_HELP = "RFC 3339, Unix seconds, `now`, or a duration before now like 2h"
# Prometheus holds nothing before the epoch, and a view looks back up to a day before the time given (the
# dashboard's 24 h sparkline), so every time sent to a server is at or after 1970-01-01; the upper bound keeps
# datetime arithmetic clear of year 9999, where Python's datetime ends.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str, option: str) -> timedelta:
    """A positive Prometheus duration.

    Raises:
        InputError: Not such a duration, or zero. `option` names where it came from (`--window`).
    """
    seconds = _seconds(text)
    if seconds is None:
        raise InputError(f"{option} {text!r}: expected a duration {DURATION_HELP} (units y w d h m s ms)")
    if seconds <= 0:
        raise InputError(f"{option} {text!r}: the duration must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise InputError(f"{option} {text!r}: the duration is too long") from None


def _seconds(text: str) -> float | None:
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None:
        return None
    return sum(int(n) * unit for n, unit in zip(m.groups(), _UNIT_SECONDS) if n)


def prometheus_duration(delta: timedelta) -> str:
    """The shortest Prometheus duration for a whole number of milliseconds (`timedelta(minutes=90)` -> `1h30m`)."""
    ms = round(delta.total_seconds() * 1000)
    if ms <= 0:
        raise ValueError(f"not a positive duration: {delta}")
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_time(text: str, option: str, *, reference: datetime | None = None) -> datetime:
    """A point in time, in UTC, from EARLIEST to LATEST. Relative times count back from `reference` (default: now).

    Raises:
        InputError: Not a time mlobs reads, or out of that range; a 13-digit number is named as milliseconds.
    """
    try:
        moment = _time(text, option, reference or now())
    except OverflowError:  # a relative time or an offset past year 1 or 9999
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise InputError(f"{option} {text!r}: out of range; give a time from {isoformat(EARLIEST)} to "
                         f"{isoformat(LATEST)}")
    return moment


def ago(text: str, option: str, *, reference: datetime | None = None) -> datetime:
    """`reference` (default: now) minus the duration `text` (`24h`), from EARLIEST to LATEST.

    Raises:
        InputError: Not a duration (a time of day is not one here), or reaching back past EARLIEST.
    """
    parse_duration(text, option)
    return parse_time(text, option, reference=reference)


def _time(text: str, option: str, base: datetime) -> datetime:
    value = text.strip()
    if value.lower() == "now":
        return base
    if _UNIX.fullmatch(value):
        return datetime.fromtimestamp(float(value), UTC)
    if _UNIX_MS.fullmatch(value):
        raise InputError(f"{option} {text!r}: looks like milliseconds; give Unix time in seconds")
    relative = value.removeprefix("-")
    if relative and relative[0].isdigit() and (seconds := _seconds(relative)) is not None:
        if seconds <= 0:
            raise InputError(f"{option} {text!r}: a time before now must be longer than zero")
        return base - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a time ({TIME_HELP})") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(text: str, option: str, *, reference: datetime | None = None) -> tuple[datetime, datetime]:
    """`FROM..TO` -> (from, to), from before to.

    Raises:
        InputError: No `..`, either side not a time, or an empty or reversed window.
    """
    start_text, sep, end_text = text.partition("..")
    if not sep or not start_text.strip() or not end_text.strip():
        raise InputError(f"{option} {text!r}: expected FROM..TO, e.g. 2026-11-01..2026-11-08 or 14d..7d")
    base = reference or now()
    start = parse_time(start_text, option, reference=base)
    end = parse_time(end_text, option, reference=base)
    if start >= end:
        raise InputError(f"{option} {text!r}: FROM must be before TO")
    return start, end


def isoformat(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the millisecond where it has one: how mlobs prints every time."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
