"""Runbooks are code: `runbook test` replays fixtures; `--record` turns a live walk into one."""

from __future__ import annotations

import json

import pytest

from mlobs_cli.runbook import paths
from tests.runbook import scenarios

SHIPPED = paths.shipped_dir() / "fixtures"


def test_the_shipped_fixtures_pass(cli):
    report = cli.json("runbook", "test", expect=0)
    assert report["passed"] == len(scenarios.SCENARIOS) and report["failed"] == 0
    firsts = {r["fixture"]: r["top_cause"] for r in report["fixtures"]}
    assert firsts == {f"latency-{s.replace('_', '-')}.json": scenarios.EXPECTED[s] for s in scenarios.SCENARIOS}


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS)
def test_a_recorded_walk_is_a_fixture_that_agrees_with_the_shipped_one(cli, scenario_server, walk_config, tmp_path,
                                                                         scenario):
    recorded = tmp_path / "walk.json"
    result = cli("runbook", "latency", "--no-input", "--at", scenario_server.at(scenario), "--prometheus",
                 scenario_server.url, "--config", walk_config, "-o", "json", "--record", recorded)
    assert result.exit_code == (0 if scenario == "healthy" else 1), result.stderr
    fixture = json.loads(recorded.read_text(encoding="utf-8"))
    shipped = json.loads((SHIPPED / f"latency-{scenario.replace('_', '-')}.json").read_text(encoding="utf-8"))
    assert fixture["expect"] == shipped["expect"]  # the shipped fixtures are current with the scenarios
    assert fixture["settings"]["runbook.llm_models"] == ["llm-7b"]
    replay = cli.json("runbook", "test", recorded, expect=0)
    assert replay["fixtures"][0]["passed"] is True


def test_a_fixture_whose_conclusion_changed_fails(cli, tmp_path):
    data = json.loads((SHIPPED / "latency-batch-wait.json").read_text(encoding="utf-8"))
    data["expect"]["causes"] = ["batch_at_max@resnet50"]
    data["expect"]["verdicts"]["batching"] = "OK"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = cli.json("runbook", "test", path, expect=1)
    differences = report["fixtures"][0]["differences"]
    assert any(d.startswith("causes: expected ['batch_at_max@resnet50']") for d in differences)
    assert any(d.startswith("verdicts:") for d in differences)


def test_a_query_the_fixture_lacks_is_named(cli, tmp_path):
    data = json.loads((SHIPPED / "latency-healthy.json").read_text(encoding="utf-8"))
    data["queries"] = [q for q in data["queries"] if "batch_size_sum" not in q.get("promql", "")]
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = cli.json("runbook", "test", path, expect=1)
    differences = report["fixtures"][0]["differences"]
    assert any(d.startswith("query not in the fixture:") and "batch_size_sum" in d for d in differences)


def test_a_file_that_is_not_a_fixture_is_refused(cli, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}", encoding="utf-8")
    result = cli("runbook", "test", path)
    assert result.exit_code == 2 and "not a runbook fixture" in result.stderr
