"""The interactive walk, driven for real through a pseudo-terminal; skip, resume, --start-at; execution safety."""

from __future__ import annotations

import json
import random
import signal
import textwrap
from pathlib import Path

import pytest

PROMPT = r"\(r\)un, \(s\)kip, \(b\)ack, \(n\)ote, \(q\)uit \[r\]: "


def events(state_dir: Path) -> list[dict]:
    (path,) = state_dir.glob("*.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_interactive_walk_then_resume(terminal, cli, scenario_server, walk_config, tmp_path):
    t = terminal("runbook", "latency", "--at", scenario_server.at("bad_deploy"), "--prometheus", scenario_server.url,
                 "--config", walk_config, "--model", "llm-7b")
    assert "elapsed] Step 1/7: Symptoms" in t.expect(PROMPT)  # the escalation clock is on screen
    t.type("")  # Enter: run the step
    screen = t.expect(r"Is there customer-facing impact\? \(yes/no\) \[skip\]: ")
    assert "[ALERT]" in screen and "llm-7b: p99 latency 497 ms is over the SLO of 200 ms" in screen
    t.type("maybe")  # not a choice: asked again
    t.expect(r"answer one of yes, no, or Enter to skip")
    t.type("yes")
    assert "Step 2/7: Immediate actions" in t.expect(PROMPT)
    t.type("s")
    assert "Step 3/7: Step 1 - scope" in t.expect(PROMPT)
    t.type("n")
    t.expect("note: ")
    t.type("v2 rolled out by the release train at 02:40")
    t.expect(PROMPT)
    t.type("r")
    screen = t.expect(PROMPT)
    assert "version v2 first served at 2026-11-05T02:40:00Z" in screen
    assert "ESCALATE: not resolved after 15 minutes: page the ML Platform on-call; customer-facing impact: notify " \
           "the incident commander" in screen
    t.type("b")
    assert "Step 3/7" in t.expect(PROMPT)
    t.type("q")
    assert t.wait() == 1  # the steps so far conclude an active problem

    state = tmp_path / "walks"
    kinds = [e["event"] for e in events(state)]
    assert kinds == ["start", "step", "answer", "skip", "note", "step", "back", "quit"]

    report = cli.json("runbook", "resume", "--no-input", "--prometheus", scenario_server.url, "--config",
                      walk_config, expect=1)
    assert report["path"] == ["symptoms", "immediate", "scope", "scope", "saturation", "time_breakdown", "batching", "drift"]
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["immediate"]["state"] == "skipped" and steps["immediate"]["evidence"] == []
    assert steps["symptoms"]["answers"] == {"customer_impact": "yes"}
    assert steps["scope"]["notes"] == ["v2 rolled out by the release train at 02:40"]
    assert report["causes"][0]["cause"] == "bad_deploy" and report["finished"] is True
    assert "customer-facing impact: notify the incident commander" in report["escalation"]["message"]
    # the state is append-only: the resumed walk added to the same file
    assert [e["event"] for e in events(state)][:8] == kinds and events(state)[-1]["event"] == "end"
    nothing = cli("runbook", "resume", "--no-input", "--config", walk_config)
    assert nothing.exit_code == 2 and "no unfinished walk to resume" in nothing.stderr


def marker_runbook(tmp_path: Path, executable: bool = True) -> tuple[Path, int, int]:
    """Two steps whose queries carry numbers no other test sends, and an executable mitigation."""
    first, second = random.sample(range(10**8, 10**9), 2)
    path = tmp_path / "markers.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        name: markers
        title: Markers
        inputs:
          out: {{description: file the mitigation touches, default: "", pattern: "[A-Za-z0-9/_.-]*"}}
        steps:
          - id: first
            title: First step
            checks:
              - {{id: one, kind: promql, title: one, query: vector({first})}}
            commands:
              - run: touch {{{{ out }}}}.shown
          - id: second
            title: Second step
            checks:
              - {{id: two, kind: promql, title: two, query: vector({second})}}
            rules:
              - {{check: two, when: value > 0, status: ALERT, message: "always", supports: {{demo: 1.0}}}}
        causes:
          demo: {{title: A demonstration}}
        mitigations:
          - id: touch
            title: Touch the file
            for: {{demo: 1.0}}
            command: touch {{{{ out }}}}
            undo: rm {{{{ out }}}}
            executable: {str(executable).lower()}
            target: demo-deploy
        """), encoding="utf-8")
    return path, first, second


def test_skipping_a_step_never_executes_it(terminal, scenario_server, walk_config, tmp_path):
    """braintree/runbook#24: answering "skip" still ran the step. Here the skipped step's query never reaches
    Prometheus (its own query log says so) and its command is never shown."""
    runbook, first, second = marker_runbook(tmp_path)
    t = terminal("runbook", "walk", runbook, "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--set", f"out={tmp_path / 'touched'}")
    assert "Step 1/2: First step" in t.expect(PROMPT)
    t.type("s")
    assert "Step 2/2: Second step" in t.expect(PROMPT)
    t.type("r")
    t.expect(r"run one\? number, or Enter for none: ")
    t.type("")
    assert t.wait() == 1
    log = scenario_server.queries()
    assert f"vector({second})" in log
    assert f"vector({first})" not in log
    assert "touch" not in t.seen.split("Step 2/2")[0].split("[r]: s")[1]  # nothing of step 1 shown after the skip
    assert not (tmp_path / "touched").exists()


def test_start_at_never_runs_the_steps_before(cli, scenario_server, walk_config, tmp_path):
    runbook, first, second = marker_runbook(tmp_path)
    report = cli.json("runbook", "walk", runbook, "--no-input", "--start-at", "second", "--at",
                      scenario_server.at("healthy"), "--prometheus", scenario_server.url, "--config", walk_config,
                      expect=1)
    assert [s["state"] for s in report["steps"]] == ["not_run", "done"] and report["path"] == ["second"]
    log = scenario_server.queries()
    assert f"vector({second})" in log and f"vector({first})" not in log
    bad = cli("runbook", "walk", runbook, "--no-input", "--start-at", "third", "--config", walk_config)
    assert bad.exit_code == 2 and "has no step 'third' (steps: 1:first, 2:second)" in bad.stderr


def test_executing_needs_the_dry_run_and_the_deployment_name_typed(terminal, scenario_server, walk_config, tmp_path):
    runbook, _, _ = marker_runbook(tmp_path)
    out = tmp_path / "touched"
    t = terminal("runbook", "walk", runbook, "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--set", f"out={out}")
    for _ in range(2):
        t.expect(PROMPT)
        t.type("r")
    t.expect(r"run one\? number, or Enter for none: ")
    t.type("1")
    screen = t.expect(r"type the deployment's name \(demo-deploy\) to run it, anything else to cancel: ")
    assert f"dry run: touch {out}" in screen and f"undo:    rm {out}" in screen
    t.type("y")  # `y` is not the deployment's name: nothing runs
    t.expect(r"run one\? number, or Enter for none: ")
    assert not out.exists()
    t.type("1")
    t.expect(r"to run it, anything else to cancel: ")
    t.type("demo-deploy")
    assert f"ran: touch {out} (exit 0)" in t.expect(r"run one\? number, or Enter for none: ")
    t.type("")
    assert t.wait() == 1
    assert out.exists()
    kinds = [e["event"] for e in events(tmp_path / "walks")]
    assert kinds[-5:] == ["end", "dry_run", "declined", "dry_run", "executed"]


def test_dry_run_shows_and_never_executes(terminal, scenario_server, walk_config, tmp_path):
    runbook, _, _ = marker_runbook(tmp_path)
    out = tmp_path / "touched"
    t = terminal("runbook", "walk", runbook, "--dry-run", "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--set", f"out={out}")
    for _ in range(2):
        t.expect(PROMPT)
        t.type("r")
    t.expect(r"run one\? number, or Enter for none: ")
    t.type("1")
    screen = t.expect(r"run one\? number, or Enter for none: ")
    assert f"dry run: touch {out}" in screen and "--dry-run: nothing is executed" in screen
    t.type("")
    assert t.wait() == 1
    assert not out.exists()


def test_no_input_prints_mitigations_and_executes_none(cli, scenario_server, walk_config, tmp_path):
    runbook, _, _ = marker_runbook(tmp_path)
    out = tmp_path / "touched"
    report = cli.json("runbook", "walk", runbook, "--no-input", "--at", scenario_server.at("healthy"),
                      "--prometheus", scenario_server.url, "--config", walk_config, "--set", f"out={out}", expect=1)
    assert report["mitigations"][0]["command"] == f"touch {out}" and report["mitigations"][0]["executable"] is True
    assert report["steps"][0]["commands"] == [f"touch {out}.shown"]  # shown, never run
    assert not out.exists() and not Path(f"{out}.shown").exists()


def test_a_mitigation_not_marked_executable_is_never_offered(terminal, scenario_server, walk_config, tmp_path):
    runbook, _, _ = marker_runbook(tmp_path, executable=False)
    t = terminal("runbook", "walk", runbook, "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--set", f"out={tmp_path / 'x'}")
    for _ in range(2):
        t.expect(PROMPT)
        t.type("r")
    assert t.wait() == 1
    assert "Touch the file" in t.seen and "run one?" not in t.seen


def _interrupt_after_the_first_step(t) -> None:
    """Run the first step, answer its question "no", and press Ctrl-C at the next prompt: exit 130."""
    t.expect(PROMPT)
    t.type("r")
    t.expect(r"\[skip\]: ")
    t.type("no")
    t.expect(PROMPT)
    t.proc.send_signal(signal.SIGINT)
    assert t.wait() == 130


def test_ctrl_c_leaves_the_state_and_exits_130(terminal, cli, scenario_server, walk_config, tmp_path):
    t = terminal("runbook", "latency", "--at", scenario_server.at("healthy"), "--prometheus", scenario_server.url,
                 "--config", walk_config)
    _interrupt_after_the_first_step(t)
    assert [e["event"] for e in events(tmp_path / "walks")] == ["start", "step", "answer", "interrupted"]
    report = cli.json("runbook", "resume", "--no-input", "--prometheus", scenario_server.url, "--config",
                      walk_config, expect=0)
    assert report["path"] == ["symptoms", "immediate", "scope", "saturation", "time_breakdown", "batching", "drift"]


def test_ctrl_c_writes_neither_the_report_nor_the_fixture(terminal, scenario_server, walk_config, tmp_path):
    """Issue 12 §5: a walk cut short concludes nothing: no report saying "active problem: no", no fixture that
    expects nothing of the steps never run."""
    report, record = tmp_path / "report.md", tmp_path / "walk.fixture.yaml"
    t = terminal("runbook", "latency", "--at", scenario_server.at("healthy"), "--prometheus", scenario_server.url,
                 "--config", walk_config, "--report", report, "--record", record)
    _interrupt_after_the_first_step(t)
    assert not report.exists() and not record.exists()
    assert "--report and --record not written" in t.seen


def test_a_recorded_walk_with_a_skip_replays_its_path(terminal, cli, scenario_server, walk_config, tmp_path):
    runbook, first, _ = marker_runbook(tmp_path)
    fixture = tmp_path / "walk.json"
    t = terminal("runbook", "walk", runbook, "--at", scenario_server.at("healthy"), "--prometheus",
                 scenario_server.url, "--config", walk_config, "--record", fixture)
    t.expect(PROMPT)
    t.type("s")
    t.expect(PROMPT)
    t.type("r")
    t.expect(r"run one\? number, or Enter for none: ")
    t.type("")
    assert t.wait() == 1
    data = json.loads(fixture.read_text(encoding="utf-8"))
    assert data["skip"] == ["first"] and data["expect"]["path"] == ["first", "second"]
    assert all(str(first) not in q["promql"] for q in data["queries"])
    report = cli.json("runbook", "test", fixture, "--config", walk_config, expect=0)
    assert report["fixtures"][0]["passed"] is True


def test_a_refused_walk_saves_no_state(cli, walk_config, tmp_path):
    result = cli("runbook", "latency", "--no-input", "--start-at", "nope", "--config", walk_config)
    assert result.exit_code == 2
    assert not (tmp_path / "walks").exists() or not list((tmp_path / "walks").iterdir())


def test_no_prometheus_url_is_refused_before_the_walk(cli, walk_config, tmp_path):
    result = cli("runbook", "latency", "--no-input", "--config", walk_config)
    assert result.exit_code == 2 and "runbook latency queries Prometheus: pass --prometheus URL" in result.stderr
    assert not (tmp_path / "walks").exists() or not list((tmp_path / "walks").iterdir())


def test_the_end_of_input_quits_with_the_state_saved(terminal, scenario_server, walk_config, tmp_path):
    t = terminal("runbook", "latency", "--at", scenario_server.at("healthy"), "--prometheus", scenario_server.url,
                 "--config", walk_config)
    t.expect(PROMPT)
    t.type("r")
    t.expect(r"\[skip\]: ")
    t.send("\x04")  # Ctrl-D: the end of input, at a question...
    t.expect(PROMPT)
    t.send("\x04")  # ...and at the step prompt: quit
    assert t.wait() == 3  # a walk that stopped before its end concluded nothing: never 0
    assert [e["event"] for e in events(tmp_path / "walks")] == ["start", "step", "quit"]


@pytest.mark.parametrize("args", [["--source", "postgresql://mlobs:hunter2@127.0.0.1/logs"],
                                  ["--set", "log_source=postgresql://mlobs@127.0.0.1/logs?password=hunter2"]],
                         ids=["--source", "--set log_source"])
def test_a_password_in_the_walk_s_log_source_on_the_command_line_is_refused(cli, tmp_path, args):
    result = cli("runbook", "latency", "--no-input", "--prometheus", "http://127.0.0.1:1", *args,
                 env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "visible to every user" in result.stderr and "hunter2" not in result.stderr + result.stdout
    assert not any(tmp_path.rglob("*.jsonl"))  # refused before a walk's state is written
