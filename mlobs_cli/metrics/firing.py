"""`alerts firing`: the alerts pending or firing now, from Prometheus or Alertmanager, each with what the seed's
escalation policy ("Escalation Policy" in the observability design) asks of the on-call engineer; oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlobs_cli.config import Settings
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.metrics.common import View
from mlobs_cli.results import BackendError
from mlobs_cli.timeparse import isoformat, parse_time


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of the seed's escalation policy."""

    severity: str
    response_time: str
    notification: str
    escalation: str


POLICIES = {p.severity: p for p in (
    Policy("info", "Best effort", "Slack channel", "None"),
    Policy("warning", "30 minutes", "Slack + Email", "After 2 hours"),
    Policy("critical", "5 minutes", "PagerDuty", "Immediate to manager"),
    Policy("emergency", "Immediate", "PagerDuty + Phone", "All hands"),
)}
# Severity labels rule files use for the same levels (Alertmanager configs routinely match both spellings).
ALIASES = {"warn": "warning", "crit": "critical", "page": "critical", "fatal": "emergency"}
ORDER = ("emergency", "critical", "warning", "info")


def policy(severity: str | None) -> Policy | None:
    """The escalation policy of a `severity` label value (case and the ALIASES ignored), None if unknown."""
    name = (severity or "").strip().lower()
    return POLICIES.get(ALIASES.get(name, name))


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    state: str  # firing | pending (Prometheus); firing | suppressed (Alertmanager)
    severity: str | None  # the label as written
    policy: Policy | None
    since: datetime | None  # activeAt (Prometheus) or startsAt (Alertmanager)
    labels: dict[str, str]
    summary: str
    value: float | None = None  # the expression's value (Prometheus only)

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.since).total_seconds() if self.since else None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        p = self.policy
        return {"name": self.name, "state": self.state, "severity": self.severity,
                "policy_severity": p.severity if p else None, "response_time": p.response_time if p else None,
                "notification": p.notification if p else None, "escalation": p.escalation if p else None,
                "since": isoformat(self.since) if self.since else None, "age_seconds": self.age_seconds(now),
                "labels": self.labels, "summary": self.summary, "value": self.value}


@dataclass(frozen=True, slots=True)
class FiringAlerts(View):
    source: str  # prometheus | alertmanager
    now: datetime
    alerts: tuple[Alert, ...]
    warnings: tuple[str, ...] = ()
    errors: tuple[BackendError, ...] = ()
    findings: tuple = ()
    columns: tuple[str, ...] = ("since", "age_seconds", "state", "severity", "name", "response_time",
                                "notification", "escalation", "labels", "summary")

    def rows(self) -> list[list[Any]]:
        rows = []
        for a in self.alerts:
            d = a.to_dict(self.now)
            d["labels"] = ",".join(f"{k}={v}" for k, v in sorted(_extra_labels(a).items()))
            rows.append([d[c] for c in self.columns])
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "time": isoformat(self.now), "alerts": [a.to_dict(self.now) for a in self.alerts],
                "warnings": list(self.warnings)}


def _extra_labels(alert: Alert) -> dict[str, str]:
    """The labels that say which thing is alerting: all but the name and severity, shown in their own columns."""
    return {k: v for k, v in alert.labels.items() if k not in ("alertname", "severity")}


def _time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-01-01"):  # Go's zero time: never active
        return None
    try:
        return parse_time(text, "activeAt")
    except InputError:  # the server's answer is at fault, not the user's input: exit 3, not 2
        raise BackendUnavailable(f"the server sent an alert whose start time is not a time: {text[:40]!r}") from None


def _value(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _alert(labels: dict[str, str], annotations: dict[str, str], state: str, since: str | None,
           value: Any = None) -> Alert:
    severity = labels.get("severity")
    return Alert(labels.get("alertname", ""), state, severity, policy(severity), _time(since), dict(labels),
                 annotations.get("summary") or annotations.get("description") or "", _value(value))


def _ordered(alerts: list[Alert]) -> tuple[Alert, ...]:
    """Oldest first; an alert with no start time last; ties by severity, most severe first, then name."""
    def key(a: Alert) -> tuple:
        rank = ORDER.index(a.policy.severity) if a.policy else len(ORDER)
        return (a.since is None, a.since.timestamp() if a.since else 0.0, rank, a.name)
    return tuple(sorted(alerts, key=key))


def from_prometheus(raw: list[dict[str, Any]], now: datetime, warnings: tuple[str, ...] = (),
                    errors: tuple[BackendError, ...] = ()) -> FiringAlerts:
    """The answer of Prometheus' `/api/v1/alerts` (pending and firing); `errors`: why it may be incomplete."""
    alerts = [_alert(a.get("labels") or {}, a.get("annotations") or {}, a.get("state", ""), a.get("activeAt"),
                     a.get("value")) for a in raw if a.get("state") in ("pending", "firing")]
    return FiringAlerts("prometheus", now, _ordered(alerts), warnings, errors)


def from_alertmanager(raw: list[dict[str, Any]], now: datetime, warnings: tuple[str, ...] = ()) -> FiringAlerts:
    """The answer of Alertmanager's `/api/v2/alerts`: its alerts are firing; a silenced or inhibited one is
    `suppressed`."""
    alerts = []
    for a in raw:
        status = (a.get("status") or {}).get("state", "active")
        alerts.append(_alert(a.get("labels") or {}, a.get("annotations") or {},
                             "firing" if status in ("active", "unprocessed") else status, a.get("startsAt")))
    return FiringAlerts("alertmanager", now, _ordered(alerts), warnings)


def fetch(settings: Settings, silenced: bool, now: datetime) -> FiringAlerts:
    """The alerts of `alertmanager.url` when set, else of `prometheus.url`.

    Raises:
        ConfigError: Neither is set.
        BackendUnavailable: The server cannot be reached, refuses, or does not answer its API.
    """
    if settings["alertmanager.url"]:
        from mlobs_cli.backends.alertmanager import AlertmanagerClient

        with AlertmanagerClient.from_settings(settings) as am:
            raw = am.alerts(silenced=silenced, inhibited=silenced)
            return from_alertmanager(raw, now, tuple(am.warnings))
    from mlobs_cli.backends.prometheus import PrometheusClient

    with PrometheusClient.from_settings(settings) as prom:
        raw = prom.alerts()
        errors = tuple(BackendError(prom.name, m) for m in prom.incomplete)
        return from_prometheus(raw, now, tuple(prom.warnings), errors)
