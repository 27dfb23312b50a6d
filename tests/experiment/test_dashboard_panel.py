"""The experiment panel of `dashboard model MODEL` on the real Prometheus of the planted experiments: it holds
`experiment status`'s own result for the experiment of the model's logged predictions (or the one named)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def panel(cli, server, logs, *args: str) -> dict:
    out = cli.json("dashboard", "model", "ranker", "--source", str(logs.jsonl), "--baseline",
                   f"{_iso(server.end - 7200)}..{_iso(server.end - 3600)}", "--current",
                   f"{_iso(server.end - 3600)}..{_iso(server.end)}", "--prometheus", server.url, "--once", *args)
    return {p["kind"]: p for p in out["panels"]}["experiment"]


def status(cli, server, experiment: str, expect: int) -> dict:
    return cli.json("experiment", "status", experiment, "--prometheus", server.url, "--at", str(server.end),
                    "--since", "1h", expect=expect)


@pytest.mark.parametrize(("named", "experiment", "code"), [(None, "errors-canary", 0), ("winner", "winner", 0),
                                                           ("loser", "loser", 1)])
def test_panel_is_experiment_status(cli, experiments_prometheus, experiment_logs, named, experiment, code):
    # without --experiment: every logged prediction of `ranker` in the window is of errors-canary
    got = panel(cli, experiments_prometheus, experiment_logs, *(["--experiment", named] if named else []))
    want = status(cli, experiments_prometheus, experiment, code)
    assert got["empty"] is None
    data = {k: v for k, v in got["data"].items() if k != "rows"}
    # the same counts, p-values and verdict (the command's JSON adds its envelope: complete, errors, ...)
    assert data == {k: v for k, v in want.items() if k not in ("complete", "errors", "findings", "version")}
    assert [r["variant"] for r in got["data"]["rows"]] == [v["name"] for v in want["variants"]]


def test_table_shows_the_verdict_line(cli, experiments_prometheus, experiment_logs):
    server = experiments_prometheus
    result = cli("dashboard", "model", "ranker", "--source", str(experiment_logs.jsonl), "--baseline",
                 f"{_iso(server.end - 7200)}..{_iso(server.end - 3600)}", "--current",
                 f"{_iso(server.end - 3600)}..{_iso(server.end)}", "--prometheus", server.url, "--experiment",
                 "loser", env={"NO_COLOR": "1"})
    want = status(cli, server, "loser", 1)
    assert f"loser: {want['verdict'].upper()} - {want['reason']}" in result.stdout


def test_unknown_experiment_says_so_in_its_panel(cli, experiments_prometheus, experiment_logs):
    got = panel(cli, experiments_prometheus, experiment_logs, "--experiment", "nope")
    assert got["data"] == {} and "no experiment 'nope'" in got["empty"] and "winner" in got["empty"]
