"""`alerts validate --prometheus`: the SeriesSource the online checks ask, answered by a Prometheus server.

Every answer is cached for the run (rules repeat their selectors, and files repeat their metrics), whether metrics
exist is asked for many names in one request, and a server that cannot be reached is tried once: after the first
failure every question raises `SeriesUnavailable` at once, so a run with 500 rules costs one timeout, not 500.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from mlobs_cli.alerts.base import SeriesUnavailable
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.timeparse import parse_duration

if TYPE_CHECKING:
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.config import Settings

DEFAULT_LOOKBACK = "1h"
# Metric names per existence request: `{__name__=~"a|b|..."}` stays far below the 8 KiB URL limit of common proxies.
NAMES_PER_REQUEST = 50
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


class ServerSeries:
    """The SeriesSource of a Prometheus-compatible server, over the window [now - lookback, now].

    Args:
        client: The Prometheus client (closed by the caller).
        lookback: The window as the user wrote it (`1h`).
        strict: Whether an unreachable server is an error finding (`--strict`).
        now: The clock (tests fix it).
    """

    def __init__(self, client: PrometheusClient, lookback: str = DEFAULT_LOOKBACK, strict: bool = False,
                 now: Callable[[], float] = time.time) -> None:
        self.lookback = lookback
        self.strict = strict
        self._client = client
        end = now()
        self._window = (end - parse_duration(lookback, "--lookback").total_seconds(), end)
        self._exists: dict[str, bool] = {}
        self._labels: dict[str, frozenset[str]] = {}
        self._failure: str | None = None

    @property
    def warnings(self) -> list[str]:
        """What the server warned about in its answers (a partial response, a limit)."""
        return self._client.warnings

    def existing(self, metrics: Collection[str]) -> frozenset[str]:
        unknown = sorted(set(metrics) - set(self._exists))
        for i in range(0, len(unknown), NAMES_PER_REQUEST):
            chunk = unknown[i:i + NAMES_PER_REQUEST]
            pattern = "|".join(_RE2_SPECIAL.sub(r"\\\1", name) for name in chunk)
            found = set(self._ask(partial(self._client.label_values, "__name__",
                                          [f"{{__name__=~{json.dumps(pattern)}}}"], *self._window)))
            self._exists.update((name, name in found) for name in chunk)
        return frozenset(m for m in metrics if self._exists[m])

    def label_names(self, metric: str) -> frozenset[str]:
        if metric not in self._labels:
            self._labels[metric] = frozenset(self._ask(partial(self._client.label_names,
                                                               [f"{{__name__={json.dumps(metric)}}}"], *self._window)))
        return self._labels[metric]

    def _ask(self, request: Callable[[], list[str]]) -> list[str]:
        if self._failure is not None:
            raise SeriesUnavailable(self._failure, first=False)
        try:
            return request()
        except (BackendUnavailable, InputError) as e:
            # InputError too: a server that calls our own generated selector bad_data is not usable either
            self._failure = str(e)
            raise SeriesUnavailable(self._failure, first=True) from None


@contextmanager
def series_source(settings: Settings, lookback: str | None, strict: bool) -> Iterator[ServerSeries | None]:
    """The server's series for the online checks when `prometheus.url` is set, else None (offline).

    Raises:
        InputError: `lookback` is not a duration, the URL is not http(s), or the CA bundle cannot be read.
    """
    lookback = DEFAULT_LOOKBACK if lookback is None else lookback
    parse_duration(lookback, "--lookback")  # a bad --lookback is a usage error also offline
    if not settings["prometheus.url"]:
        yield None
        return
    from mlobs_cli.backends.prometheus import PrometheusClient  # httpx loads only for an online run

    with PrometheusClient.from_settings(settings) as client:
        yield ServerSeries(client, lookback, strict)
