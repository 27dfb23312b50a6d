"""Helpers of the metrics tests that are not fixtures: an API answer for conftest.fake_server, and what a test
sends an Alertmanager (alerts, silences)."""

from __future__ import annotations

import json

import httpx


def ok(data: object, **extra: object) -> tuple[int, str]:
    return 200, json.dumps({"status": "success", "data": data, **extra})


def post_alerts(url: str, alerts: list[dict]) -> None:
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()


def silence(url: str, alertname: str, starts: str, ends: str) -> None:
    body = {"matchers": [{"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True}],
            "startsAt": starts, "endsAt": ends, "createdBy": "tests", "comment": "maintenance"}
    httpx.post(f"{url}/api/v2/silences", json=body, timeout=5).raise_for_status()

