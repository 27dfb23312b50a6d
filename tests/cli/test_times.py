"""Every command that reads a time refuses one Prometheus cannot hold, or Python cannot count back from, in one line
naming the option as typed (exit 2), before it asks any server: the port given here is closed."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "option", "typed"),
    [
        pytest.param(["metrics", "summary", "--at", "0001-01-01"], "--at", "0001-01-01", id="summary, year 1"),
        pytest.param(["metrics", "summary", "--at", "5000y"], "--at", "5000y", id="summary, 5000y ago"),
        pytest.param(["metrics", "summary", "--at", "10000y"], "--at", "10000y", id="summary, past timedelta"),
        pytest.param(["dashboard", "--at", "0001-01-01T00:30:00Z"], "--at", "0001-01-01T00:30:00Z",
                     id="dashboard, 24 h before it overflows"),
        pytest.param(["dashboard", "--at", "1970-01-01T06:00:00Z"], "--at", "1970-01-01T06:00:00Z",
                     id="dashboard, its 24 h would start before 1970"),
        pytest.param(["metrics", "query", "sum(up)", "--range", "--start", "9999-12-31", "--end", "10000y"],
                     "--start", "9999-12-31", id="query, start after 9999-01-01"),
        pytest.param(["metrics", "query", "sum(up)", "--range", "--end", "10000y"], "--end", "10000y",
                     id="query, end past timedelta"),
        pytest.param(["metrics", "query", "up", "--at", "-0s"], "--at", "-0s", id="zero ago, as typed"),
    ],
)
def test_a_time_out_of_range_is_a_usage_error(cli, closed_port, args, option, typed):
    result = cli(*args, "--prometheus", f"http://127.0.0.1:{closed_port}")
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert f"{option} '{typed}'" in result.stderr and "internal error" not in result.stderr
