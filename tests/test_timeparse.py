"""Times, durations and windows as users type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlobs_cli.errors import InputError
from mlobs_cli.timeparse import ago, isoformat, parse_duration, parse_time, parse_window, prometheus_duration

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


@pytest.mark.parametrize("text", [
    pytest.param("0001-01-01", id="year 1: a day before it overflows"),
    pytest.param("0001-01-01T00:30:00Z", id="half an hour into year 1"),
    pytest.param("1969-12-31T23:59:59Z", id="before the epoch"),
    pytest.param("1970-01-01T12:00:00Z", id="less than a day after the epoch: the dashboard looks back 24 h"),
    pytest.param("9999-12-31", id="after 9999-01-01"),
    pytest.param("9999-12-31T23:00:00-02:00", id="an offset past year 9999"),
    pytest.param("5000y", id="relative, before year 1"),
    pytest.param("10000y", id="relative, past what timedelta holds"),
    pytest.param("99999999999y", id="a duration past what timedelta holds"),
])
def test_times_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(InputError, match=rf"--at '{text}': out of range"):
        parse_time(text, "--at", reference=REF)


def test_the_range_ends_are_times() -> None:
    assert parse_time("1970-01-02", "--at") == datetime(1970, 1, 2, tzinfo=UTC)
    assert parse_time("9999-01-01", "--at") == datetime(9999, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["-0s", "0s", "0h0m"])
def test_a_zero_relative_time_shows_what_was_typed(text: str) -> None:
    with pytest.raises(InputError, match=rf"^--at '{text}': "):
        parse_time(text, "--at", reference=REF)


def test_a_duration_too_long_is_an_input_error() -> None:
    with pytest.raises(InputError, match="too long"):
        parse_duration("99999999999y", "--window")


def test_ago_is_a_duration_back_within_the_range() -> None:
    assert ago("24h", "--current", reference=REF) == REF - timedelta(hours=24)
    for text in ("60y", "3000y", "99999y"):  # before 1970-01-02, or past what a datetime can count back
        with pytest.raises(InputError, match=rf"^--baseline '{text}': "):
            ago(text, "--baseline", reference=REF)
    with pytest.raises(InputError, match="expected a duration"):  # a time is not a duration before now
        ago("2026-11-01", "--current", reference=REF)


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
