"""Times, durations and windows as users type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlobs_cli.errors import InputError
from mlobs_cli.timeparse import isoformat, parse_duration, parse_time, parse_window, prometheus_duration

REF = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("2w", 1209600), ("1y", 31536000),
    ("250ms", 0.25), (" 1h ", 3600),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--window").total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0s", "5", "m5", "5x", "1m1h", "-5m", "1.5h"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--window"):
        parse_duration(text, "--window")


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(minutes=90), "1h30m"), (timedelta(seconds=15), "15s"), (timedelta(days=1, seconds=1), "1d1s"),
    (timedelta(milliseconds=1500), "1s500ms"),
])
def test_prometheus_duration_round_trips(delta: timedelta, text: str) -> None:
    assert prometheus_duration(delta) == text
    assert parse_duration(text, "x") == delta


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-26T02:00:00Z", datetime(2026, 11, 26, 2, tzinfo=UTC)),
    ("2026-11-26T04:00:00+02:00", datetime(2026, 11, 26, 2, tzinfo=UTC)),
    ("2026-11-26T02:00:00", datetime(2026, 11, 26, 2, tzinfo=UTC)),  # no offset: UTC, not the local zone
    ("2026-11-26", datetime(2026, 11, 26, tzinfo=UTC)),
    ("1795654800", datetime(2026, 11, 26, 1, tzinfo=UTC)),
    ("1795654800.5", datetime(2026, 11, 26, 1, 0, 0, 500000, tzinfo=UTC)),
    ("now", REF),
    ("2h", datetime(2026, 11, 26, 1, tzinfo=UTC)),
    ("-2h", datetime(2026, 11, 26, 1, tzinfo=UTC)),
    ("1d12h", datetime(2026, 11, 24, 15, tzinfo=UTC)),
])
def test_times(text: str, expected: datetime) -> None:
    assert parse_time(text, "--at", reference=REF) == expected


def test_milliseconds_are_named() -> None:
    with pytest.raises(InputError, match="milliseconds"):
        parse_time("1795654800000", "--at")


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01", "-", "12:00"])
def test_bad_times_name_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--at"):
        parse_time(text, "--at", reference=REF)


def test_windows() -> None:
    assert parse_window("14d..7d", "--baseline", reference=REF) == (REF - timedelta(days=14), REF - timedelta(days=7))
    assert parse_window("2026-11-01..2026-11-08", "--baseline") == (
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))


@pytest.mark.parametrize("text", ["7d", "7d..", "..7d", "7d..14d", "1h..1h"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(InputError, match="--baseline"):
        parse_window(text, "--baseline", reference=REF)


def test_isoformat_is_utc_with_z() -> None:
    assert isoformat(datetime(2026, 11, 26, 4, tzinfo=UTC).astimezone()) == "2026-11-26T04:00:00Z"
    assert isoformat(datetime(2026, 11, 26, 4, 0, 0, 250000, tzinfo=UTC)) == "2026-11-26T04:00:00.250Z"
