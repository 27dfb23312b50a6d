"""Alertmanager's API v2 (`/api/v2/alerts`): the alerts it holds, with their silences and inhibitions.

The transport is the Prometheus client's (auth, TLS, timeouts, bounded retries, errors with the URL masked); only the
answer differs: API v2 answers a bare JSON document, with no `status`/`data` envelope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mlobs_cli.backends.prometheus import PrometheusClient, checked_alerts, max_response
from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, ConfigError

__all__ = ["AlertmanagerClient"]


class AlertmanagerClient(PrometheusClient):
    """A connection to one Alertmanager (or an Alertmanager-compatible API: Mimir's, Cortex's, with `tenant`).
    The constructor takes the arguments of PrometheusClient."""

    name = "alertmanager"
    auth_hint = "alertmanager.token, or a user:password@ in alertmanager.url"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AlertmanagerClient:
        """A client for `alertmanager.url` and `alertmanager.token`; TLS, tenant, timeout and the bound on an
        answer's size as for Prometheus.

        Raises:
            ConfigError: No `alertmanager.url` is set.
        """
        url = settings["alertmanager.url"]
        if not url:
            raise ConfigError("no Alertmanager URL: pass --alertmanager URL or set MLOBS_ALERTMANAGER_URL")
        verify: bool | str = False if settings["prometheus.insecure"] else (settings["prometheus.ca_file"] or True)
        return cls(url, token=settings["alertmanager.token"], tenant=settings["prometheus.tenant"], verify=verify,
                   timeout=settings["prometheus.timeout"], max_response=max_response(settings), **kwargs)

    def alerts(self, *, silenced: bool = False, inhibited: bool = False) -> list[dict[str, Any]]:
        """`/api/v2/alerts`: the active alerts, each with labels, annotations, startsAt (RFC 3339), status
        {state, silencedBy, inhibitedBy} and fingerprint; silenced and inhibited ones only when asked for."""
        params = [("active", "true"), ("silenced", str(silenced).lower()), ("inhibited", str(inhibited).lower()),
                  ("unprocessed", "true")]
        body = self.get("/api/v2/alerts", params)
        try:
            return checked_alerts(body)
        except TypeError:
            raise BackendUnavailable(f"alertmanager {self.shown} answered something that is not a list of alerts: "
                                     "check the URL") from None

    def get(self, path: str, params: Iterable[tuple[str, str]]) -> Any:
        """GET `path` and return the decoded JSON answer.

        Raises:
            BackendUnavailable: Not reachable, not 2xx after the retries, or not JSON.
            InputError: The server calls the request bad (400 with its message).
        """
        response = self._send(path, list(params))
        if not response.is_success:
            raise self._refusal(response, self._error_body(response))
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendUnavailable(f"alertmanager {self.shown} answered {response.status_code} with something "
                                     "that is not JSON: check the URL") from None
