"""`runbook list`, `show`, inputs, and a team's own runbook added as a file, with no code."""

from __future__ import annotations

import os
from pathlib import Path

from tests.runbook.test_model import GOOD


def team_dir() -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "mlobs" / "runbooks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_list_has_the_shipped_runbook_and_the_teams(cli):
    (team_dir() / "mini.yaml").write_text(GOOD, encoding="utf-8")
    (team_dir() / "broken.yaml").write_text(GOOD.replace("check: p99", "check: nope"), encoding="utf-8")
    report = cli.json("runbook", "list", expect=0)
    by_name = {r["name"]: r for r in report["runbooks"]}
    assert by_name["latency"]["origin"] == "shipped" and by_name["latency"]["steps"] == 7
    assert "high-latency" in by_name["latency"]["aliases"]
    assert by_name["mini"]["origin"] == str(team_dir()) and by_name["mini"]["error"] is None
    assert "line 16" in by_name["broken"]["error"]
    assert [f["check"] for f in report["findings"]] == ["runbook/invalid"]


def test_a_teams_runbook_walks_by_name(cli, scenario_server, walk_config):
    (team_dir() / "mini.yaml").write_text(GOOD.replace("x_bucket", "inference_latency_seconds_bucket"),
                                          encoding="utf-8")
    report = cli.json("runbook", "walk", "mini", "--no-input", "--at", scenario_server.at("gpu_memory"),
                      "--prometheus", scenario_server.url, "--config", walk_config, expect=1)
    assert report["runbook"] == "mini"
    assert [f"{c['cause']}@{c['model']}" for c in report["causes"]] == ["slow@resnet50"]
    assert report["mitigations"][0]["command"] == "kubectl scale deployment/resnet50 --replicas=2"


def test_show_prints_the_steps_as_a_page(cli):
    result = cli("runbook", "show", "latency")
    assert result.exit_code == 0
    out = result.stdout
    assert "High latency investigation (latency)" in out
    assert "3. Step 1 - scope" in out and "$ nvidia-smi --query-gpu=memory.used,memory.total --format=csv" in out
    assert "Escalation: after 15 minutes without resolution: page the ML Platform on-call" in out
    page = cli.json("runbook", "show", "high-latency", expect=0)  # by alias
    assert [s["id"] for s in page["steps"]][:2] == ["symptoms", "immediate"]
    assert page["mitigations"][1]["executable"] is True


def test_an_unknown_runbook_or_input_is_a_usage_error(cli, walk_config):
    missing = cli("runbook", "walk", "nope", "--no-input", "--config", walk_config)
    assert missing.exit_code == 2 and "no runbook 'nope' (known: latency" in missing.stderr
    unknown = cli("runbook", "latency", "--no-input", "--set", "modle=x", "--config", walk_config)
    assert unknown.exit_code == 2 and "has no input 'modle'" in unknown.stderr
    injected = cli("runbook", "latency", "--no-input", "--model", 'x"} or vector(1) #', "--config", walk_config)
    assert injected.exit_code == 2 and "does not match" in injected.stderr


def test_from_alert_must_be_an_alert(cli, walk_config, tmp_path):
    path = tmp_path / "alert.json"
    path.write_text('{"status": "firing"}', encoding="utf-8")
    result = cli("runbook", "latency", "--no-input", "--from-alert", path, "--config", walk_config)
    assert result.exit_code == 2 and "expected an Alertmanager alert" in result.stderr


def test_report_and_record_never_overwrite_a_file(cli, walk_config, tmp_path):
    for flag in ("--report", "--record"):
        kept = tmp_path / f"kept{flag}"
        kept.write_text("the engineer's notes\n", encoding="utf-8")
        result = cli("runbook", "latency", "--no-input", flag, kept, "--prometheus", "http://127.0.0.1:9",
                     "--config", walk_config)
        assert result.exit_code == 2 and "the file exists" in result.stderr
        assert kept.read_text(encoding="utf-8") == "the engineer's notes\n"
    assert not (tmp_path / "walks").exists() or not list((tmp_path / "walks").iterdir())  # refused before the walk
