"""`mlobs alerts firing`: from a real Prometheus evaluating rules over the scenario (conftest.RULES), and from a real
Alertmanager holding alerts a test posts with known start times; severities mapped to the seed's escalation policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from metrics_fakes import post_alerts, silence

from mlobs_cli.metrics.firing import POLICIES, policy
from mlobs_cli.timeparse import isoformat, parse_time


def test_prometheus_alerts_with_their_policy(cli, alerting_prometheus):
    server, _ = alerting_prometheus
    report = cli.json("alerts", "firing", "--prometheus", server.url, expect=0)
    assert report["source"] == "prometheus"
    shown = [(a["name"], a["state"], a["severity"], a["response_time"], a["notification"], a["escalation"])
             for a in report["alerts"]]
    # all four became active at the group's first evaluation: same age, so most severe first, then by name
    assert len({a["since"] for a in report["alerts"]}) == 1
    assert shown == [
        ("CriticalErrorRate", "firing", "critical", "5 minutes", "PagerDuty", "Immediate to manager"),
        ("GpuMemoryHigh", "pending", "warning", "30 minutes", "Slack + Email", "After 2 hours"),
        ("HighLatencyP99", "firing", "warning", "30 minutes", "Slack + Email", "After 2 hours"),
        ("GpuUtilizationLow", "firing", "info", "Best effort", "Slack channel", "None"),
    ]
    by_name = {a["name"]: a for a in report["alerts"]}
    assert by_name["HighLatencyP99"]["labels"] == {"alertname": "HighLatencyP99", "model": "llm-7b",
                                                   "version": "v2.1.0", "severity": "warning", "team": "ml-platform"}
    assert by_name["HighLatencyP99"]["summary"] == "High p99 latency for llm-7b"


def test_prometheus_alert_values_are_the_scenarios(cli, alerting_prometheus):
    """The rules evaluate at wall-clock now over windows inside the incident, spike and saturation, where the
    scenario holds each value constant: p99 by hand from the incident's bucket shares, 8% errors, 95% memory, 20%
    utilization."""
    server, _ = alerting_prometheus
    values = {a["name"]: a["value"] for a in cli.json("alerts", "firing", "--prometheus", server.url,
                                                       expect=0)["alerts"]}
    expected = {"HighLatencyP99": 0.25 + 0.25 * (0.99 - 0.90) / (0.995 - 0.90), "CriticalErrorRate": 0.08,
                "GpuMemoryHigh": 0.95, "GpuUtilizationLow": 20.0}
    for name, value in expected.items():
        assert math.isclose(values[name], value, rel_tol=1e-9), name


def test_table(cli, alerting_prometheus):
    server, _ = alerting_prometheus
    result = cli("alerts", "firing", "--prometheus", server.url, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "CriticalErrorRate" in result.stdout and "PagerDuty" in result.stdout and "pending" in result.stdout


@pytest.fixture
def posted(alertmanager):
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [
        ("QueueDepthHigh", "warn", timedelta(minutes=10)),
        ("NoHealthyReplicas", "critical", timedelta(hours=3)),
        ("DataDriftDetected", "warning", timedelta(hours=2)),
        ("CustomThing", "sev9", timedelta(hours=1)),
        ("NightlyBatchLate", "info", timedelta(hours=5)),
    ]
    post_alerts(alertmanager, [{"labels": {"alertname": name, "severity": sev, "model": "llm-7b"},
                                "annotations": {"summary": f"{name} on llm-7b"},
                                "startsAt": isoformat(now - age), "endsAt": isoformat(now + timedelta(hours=1))}
                               for name, sev, age in alerts])
    silence(alertmanager, "NightlyBatchLate", isoformat(now - timedelta(minutes=1)), isoformat(now + timedelta(hours=1)))
    return now, {name: now - age for name, _, age in alerts}


def test_alertmanager_oldest_first_with_policy(cli, alertmanager, posted):
    _, starts = posted
    before = datetime.now(UTC)
    report = cli.json("alerts", "firing", "--alertmanager", alertmanager, expect=0)
    after = datetime.now(UTC)
    assert report["source"] == "alertmanager"
    assert [(a["name"], a["state"], a["policy_severity"]) for a in report["alerts"]] == [
        ("NoHealthyReplicas", "firing", "critical"),
        ("DataDriftDetected", "firing", "warning"),
        ("CustomThing", "firing", None),  # no policy for an unknown severity: shown, never dropped
        ("QueueDepthHigh", "firing", "warning"),  # `warn` is the warning level
    ]
    for a in report["alerts"]:
        start = starts[a["name"]]
        assert parse_time(a["since"], "since") == start
        assert (before - start).total_seconds() - 1 <= a["age_seconds"] <= (after - start).total_seconds() + 1


def test_alertmanager_silenced_on_request(cli, alertmanager, posted):
    report = cli.json("alerts", "firing", "--alertmanager", alertmanager, "--silenced", expect=0)
    states = {a["name"]: a["state"] for a in report["alerts"]}
    assert report["alerts"][0]["name"] == "NightlyBatchLate" and states["NightlyBatchLate"] == "suppressed"


def test_alertmanager_down(cli, closed_port):
    result = cli("alerts", "firing", "--alertmanager", f"http://127.0.0.1:{closed_port}")
    assert result.exit_code == 3 and "cannot reach alertmanager" in result.stderr


@pytest.mark.parametrize(
    ("label", "expected"),
    [("info", "info"), ("Warning", "warning"), ("warn", "warning"), ("critical", "critical"), ("page", "critical"),
     ("emergency", "emergency"), ("fatal", "emergency"), ("sev9", None), (None, None)],
)
def test_policy_of_a_severity_label(label, expected):
    found = policy(label)
    assert (found.severity if found else None) == expected


def test_the_seed_escalation_policy():
    assert [(p.severity, p.response_time, p.notification, p.escalation) for p in POLICIES.values()] == [
        ("info", "Best effort", "Slack channel", "None"),
        ("warning", "30 minutes", "Slack + Email", "After 2 hours"),
        ("critical", "5 minutes", "PagerDuty", "Immediate to manager"),
        ("emergency", "Immediate", "PagerDuty + Phone", "All hands"),
    ]


def test_rules_of_the_server(alerting_prometheus):
    from mlobs_cli.backends.prometheus import PrometheusClient

    server, _ = alerting_prometheus
    with PrometheusClient(server.url) as client:
        (group,) = client.rules("alert")
    assert group["name"] == "serving"
    assert [r["name"] for r in group["rules"]] == ["HighLatencyP99", "CriticalErrorRate", "GpuMemoryHigh",
                                                    "GpuUtilizationLow"]


def test_prometheus_flag_pointing_at_an_alertmanager(cli, alertmanager):
    # Alertmanager 0.25 answers /api/v1/alerts with its own API v1: {"status": "success", "data": [...]}
    result = cli("alerts", "firing", "--prometheus", alertmanager)
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"prometheus {alertmanager} answered something that is not the Prometheus API on /api/v1/alerts" in \
        result.stderr


@pytest.mark.parametrize("active_at", ["yesterday", "2026-13-40T00:00:00Z"])
def test_an_alert_whose_start_is_not_a_time_is_the_servers_fault(active_at):
    from mlobs_cli.errors import BackendUnavailable
    from mlobs_cli.metrics.firing import from_prometheus

    raw = [{"labels": {"alertname": "A", "severity": "critical"}, "state": "firing", "activeAt": active_at}]
    with pytest.raises(BackendUnavailable, match="start time is not a time"):
        from_prometheus(raw, datetime(2026, 11, 26, tzinfo=UTC))
