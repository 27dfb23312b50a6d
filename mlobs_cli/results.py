"""Types shared by every domain result: findings and backend errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a command judged worth the user's attention."""

    check: str  # e.g. "drift/alert"; stable, documented
    severity: str  # in the order its domain defines
    subject: str  # what it is about: a feature, a GPU, a rule
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "subject": self.subject, "message": self.message}


@dataclass(frozen=True, slots=True)
class BackendError:
    """An external system that failed, so the result is incomplete."""

    backend: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"backend": self.backend, "message": self.message}


@dataclass(frozen=True, slots=True)
class Gauge:
    """One gauge sample to publish (Pushgateway): a metric name, its labels and its value."""

    name: str
    help: str
    labels: tuple[tuple[str, str], ...]
    value: float
