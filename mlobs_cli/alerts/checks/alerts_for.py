"""alerts/for: `for` and `keep_firing_for` are Prometheus durations."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity

# prometheus/common model.ParseDuration: units y w d h m s ms, in that order, each at most once.
DURATION = re.compile(r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?")
UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
MAX_MS = (2**63 - 1) // 1_000_000  # a Go time.Duration, in milliseconds


def duration_error(text: str) -> str | None:
    """Why `text` is not a duration Prometheus accepts, or None when it is."""
    if text == "0":
        return None
    if text == "":
        return "empty duration"
    if text.startswith("-"):
        return f"{text!r} is negative"
    m = DURATION.fullmatch(text)
    if not m:
        return f"{text!r} is not a duration like 30s, 5m or 1h30m (units y w d h m s ms, largest first, no spaces)"
    total = sum(int(n) * unit for n, unit in zip(m.groups(), UNIT_MS) if n)
    if total > MAX_MS:
        return f"{text!r} is out of range"
    return None


class AlertsFor(Check):
    """`for` and `keep_firing_for` are durations Prometheus can read.

    What it checks:
        The values of `for` and `keep_firing_for` against Prometheus's duration syntax: a number and a unit,
        units y, w, d, h, m, s, ms in that order and each at most once (`5m`, `1h30m`, `0s`, or a bare `0`).
        A negative, empty, unit-less (`300`) or out-of-range value is an error.

    Why it matters:
        Prometheus refuses a rule file with a duration it cannot parse ("not a valid duration string"), so none
        of the file's rules load. `300` does not mean 300 seconds; `1.5h` and `5 m` are not accepted either.

    Example:
        - alert: QueueDepthHigh
          expr: request_queue_depth > 100
          for: 300

    How to fix:
        Write the duration with its unit, largest unit first: `for: 5m`, `for: 1h30m`.
    """

    NAME = "alerts/for"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        for key, value in (("for", rule.for_), ("keep_firing_for", rule.keep_firing_for)):
            if value is not None:
                error = duration_error(value)
                if error:
                    yield self.problem(f"invalid `{key}`: {error}", rule.line_of(key), rule.name)


CHECK = AlertsFor()
