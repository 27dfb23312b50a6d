"""Evidence -> verdicts -> causes -> mitigations, and the saved state, without a server or a terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mlobs_cli.config import resolve
from mlobs_cli.runbook import engine, model, paths
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Evidence, Row
from mlobs_cli.runbook.result import StepFinding
from mlobs_cli.runbook.state import StateLog

AT = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def latency():
    return model.load(paths.shipped_dir() / "latency.yaml")


def scope_of(runbook, **evidence):
    settings = resolve({"runbook.llm_models": ["llm-7b"]}, env={})
    scope = engine.Scope(runbook, settings, {name: i.default for name, i in runbook.inputs.items()}, AT,
                         lambda: pytest.fail("no query in these tests"))
    scope.evidence.update(evidence)
    return scope


def finding(step, weight, cause, model="m"):
    return StepFinding(step, "c", "ALERT", model, "msg", {"model": model}, {cause: weight})


def test_causes_are_ranked_by_noisy_or_per_model(latency):
    causes = engine.rank_causes(latency, (finding("scope", 0.6, "bad_deploy"), finding("scope", 0.3, "bad_deploy"),
                                          finding("drift", 0.7, "data_drift"),
                                          finding("drift", 0.9, "data_drift", model="other")))
    assert [(c.cause, c.model, round(c.score, 2)) for c in causes] == [
        ("data_drift", "other", 0.9), ("bad_deploy", "m", 0.72), ("data_drift", "m", 0.7)]
    assert causes[1].steps == ("scope",)


def test_a_mitigation_with_missing_data_is_unresolved_and_never_runnable(latency):
    causes = engine.rank_causes(latency, (finding("batching", 0.7, "batch_at_max"),))
    scale = next(p for p in engine.plan_mitigations(latency, causes, scope_of(latency)) if p.mitigation == "scale_out")
    assert scale.command == "kubectl -n ml-serving scale deployment/m --replicas=?"
    assert scale.unresolved == ("needed", "replicas")  # the undo needs today's replicas too


def test_scale_out_sizes_from_the_evidence(latency):
    rows = {"replicas": 4.0, "throughput": 40.0, "queue_trend": 400.0}
    evidence = {name: Evidence(name, "promql", OK, rows=(Row({"model": "m"}, {"value": value}),))
                for name, value in rows.items()}
    causes = engine.rank_causes(latency, (finding("batching", 0.7, "batch_at_max"),))
    scope = scope_of(latency, **evidence)
    scale = next(p for p in engine.plan_mitigations(latency, causes, scope) if p.mitigation == "scale_out")
    assert scale.command == "kubectl -n ml-serving scale deployment/m --replicas=5" and scale.unresolved == ()
    assert scale.undo == "kubectl -n ml-serving scale deployment/m --replicas=4"


@pytest.mark.parametrize(("states", "findings", "verdict"), [
    pytest.param({"p99": OK, "latency_alerts": NO_DATA}, (), "OK", id="an optional check without data"),
    pytest.param({"p99": NO_DATA, "latency_alerts": OK}, (), "UNKNOWN", id="a required check without data"),
    pytest.param({"p99": ERROR, "latency_alerts": OK}, (), "UNKNOWN", id="a backend error"),
    pytest.param({"p99": ERROR, "latency_alerts": OK}, ("WARN",), "WARN", id="a finding outranks missing data"),
    pytest.param({"p99": OK, "latency_alerts": OK}, ("INFO",), "OK", id="an observation is not a problem"),
    pytest.param({"p99": OK, "latency_alerts": OK}, ("WARN", "ALERT"), "ALERT", id="the worst finding"),
])
def test_verdicts(latency, states, findings, verdict):
    step = latency.steps[0]
    # the flags the engine copies from each check (`optional: true` as a team's runbook would write it)
    flags = {c.id: c for c in step.checks}
    evidence = [Evidence(check, "promql", state, required=flags[check].required,
                         optional=check == "latency_alerts") for check, state in states.items()]
    found = [StepFinding("symptoms", "p99", status, "m", "x") for status in findings]
    assert engine._verdict(step, evidence, found, []) == verdict


def test_a_line_cut_by_a_crash_is_ignored_on_resume(tmp_path):
    log = StateLog.create(tmp_path, "latency")
    log.append("start", runbook="latency", file="x", inputs={}, at="2026-11-02T03:00:00Z")
    log.append("skip", step="symptoms", title="Symptoms", next=1)
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"event": "step", "step": "immed')  # killed while writing
    reopened = StateLog.open(tmp_path, None)
    assert [e["event"] for e in reopened.events] == ["start", "skip"]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(log.path.read_text(encoding="utf-8").splitlines()[0])["event"] == "start"


def test_a_model_label_that_fails_the_input_pattern_is_never_runnable(latency):
    """The model of a cause comes from a label of the evidence and goes into commands: validated like --model."""
    causes = engine.rank_causes(latency, (finding("scope", 0.6, "bad_deploy", model="m --all-namespaces"),))
    rollback = next(p for p in engine.plan_mitigations(latency, causes, scope_of(latency))
                    if p.mitigation == "rollback")
    assert rollback.unresolved and "does not match" in rollback.unresolved[0]


def test_a_required_check_without_data_is_not_a_clean_exit(latency):
    """A required check without data (or not collected) concludes nothing: exit 3; a check that is not
    required, without data, is shown UNKNOWN but does not make the walk incomplete."""
    from mlobs_cli.errors import ExitCode
    from mlobs_cli.runbook.checks.base import NOT_COLLECTED
    from mlobs_cli.runbook.result import DONE, StepOutcome, WalkResult

    def result(state, required):
        evidence = Evidence("p99", "promql", state, required=required)
        step = StepOutcome("symptoms", "Symptoms", DONE, "UNKNOWN", (evidence,))
        return WalkResult("latency", "t", None, "x", {}, (step,), ("symptoms",), (), (), None, (), True)

    assert result(NO_DATA, True).exit_code() == ExitCode.BACKEND and result(NO_DATA, True).complete is False
    assert result(NOT_COLLECTED, True).exit_code() == ExitCode.BACKEND
    assert result(NO_DATA, False).exit_code() == ExitCode.OK
    assert result(NOT_COLLECTED, False).exit_code() == ExitCode.OK
    assert result(ERROR, False).exit_code() == ExitCode.BACKEND  # a source that failed: always incomplete


def _walk_with_log_source(latency, tmp_path, log_source: str):
    """A walk started with `log_source` and no query, and the text of its state file."""
    from mlobs_cli.runbook import service

    settings = resolve({"runbook.state_dir": str(tmp_path)}, env={})
    inputs = {name: i.default for name, i in latency.inputs.items()}
    inputs["log_source"] = log_source
    walk = service.start(latency, settings, inputs, AT, lambda: pytest.fail("no query"), mode="no_input")
    return walk, walk.log.path.read_text(encoding="utf-8")


def test_the_state_file_keeps_no_password(latency, tmp_path):
    walk, text = _walk_with_log_source(
        latency, tmp_path, "postgresql://mlobs:pw-in-url@db/serving?password=pw-in-query&sslmode=require")
    assert "pw-in-" not in text and "postgresql://mlobs@db/serving?sslmode=require" in text
    shown = walk.result(finished=False).inputs["log_source"]
    assert "pw-in-" not in shown and "sslmode=require" in shown


def test_an_empty_target_is_never_offered_to_run(latency):
    """Pressing Enter would "type" an empty deployment name: such a plan is printed, never executable."""
    from mlobs_cli.runbook.result import Plan, WalkResult
    from mlobs_cli.runbook.walk import Setup, Walk

    class UI:
        def choose(self, plans):
            pytest.fail(f"offered {plans}")

    walk = Walk(Setup(latency, resolve({}, env={}), {}, AT, lambda: pytest.fail("no query")),
                StateLog(None, None), "interactive")
    plan = Plan("rollback", "Roll back", "bad_deploy", "", 0.6, "kubectl rollout undo deployment/", None, None,
                True, "")
    walk._offer_execution(UI(), WalkResult("latency", "t", None, "x", {}, (), (), (), (plan,), None, (), True))


def test_a_value_with_a_space_never_makes_an_executable_command(latency):
    """Commands are split into arguments without a shell: a value with a space would add arguments."""
    causes = engine.rank_causes(latency, (finding("scope", 0.6, "bad_deploy"),))
    scope = scope_of(latency)
    scope.variables["namespace"] = "ml-serving --all"
    rollback = next(p for p in engine.plan_mitigations(latency, causes, scope) if p.mitigation == "rollback")
    assert rollback.unresolved == ("namespace='ml-serving --all' has a space or a quote",)


def test_a_hostile_model_label_never_reaches_a_pasted_command(latency, tmp_path):
    """Issue 12 §5: a model label `x';touch /tmp/p;echo '` from Prometheus printed into `-p '{...}'` would run
    `touch` when pasted. Pasting every shown command into a real shell must create no file."""
    import subprocess

    marker = tmp_path / "p"
    hostile = f"x';touch {marker};echo '"
    causes = engine.rank_causes(latency, (finding("scope", 0.6, "bad_deploy", model=hostile),
                                          finding("batching", 0.6, "batch_at_max", model=hostile)))
    plans = engine.plan_mitigations(latency, causes, scope_of(latency))
    shown = [text for p in plans for text in (p.command, p.undo) if text]
    assert shown and all(p.unresolved for p in plans)
    assert all(hostile not in text and "INVALID-MODEL-LABEL" in text for text in shown)
    for text in shown:  # `kubectl` is swapped for `true`: the shell parses the whole line, runs nothing harmful
        subprocess.run(["sh", "-c", "true " + text.partition(" ")[2]], check=False, capture_output=True)
    assert not marker.exists()


def test_a_text_value_in_a_shown_command_is_one_shell_word(latency):
    """Values in shell commands are shlex-quoted for display; a plain name is left as it is."""
    import shlex

    run = next(c.run for s in latency.steps for c in s.commands if "namespace" in c.run.names)
    scope = scope_of(latency)
    scope.variables["namespace"] = "ml serving;id"
    text, _ = run.render(scope.variables, scope.functions, quote=shlex.quote)
    assert "'ml serving;id'" in text and shlex.split(text)[shlex.split(text).index("-n") + 1] == "ml serving;id"
    scope.variables["namespace"] = "ml-serving"
    text, _ = run.render(scope.variables, scope.functions, quote=shlex.quote)
    assert "-n ml-serving" in text and "'ml-serving'" not in text


def test_the_state_file_keeps_no_sslpassword_nor_conninfo_password(latency, tmp_path):
    _, text = _walk_with_log_source(
        latency, tmp_path, "postgresql://mlobs@db/serving?sslpassword=key-pw&sslmode=require&token=tk-pw")
    assert "key-pw" not in text and "tk-pw" not in text and "sslmode=require" in text
    from mlobs_cli.runbook.walk import _saved
    assert _saved({"s": "host=db sslpassword=k1 password='a b' dbname=x"}) == {"s": "host=db   dbname=x"}


def test_resume_validates_the_saved_inputs_again(latency, tmp_path):
    """An edited state file cannot smuggle a value the command line would refuse."""
    from mlobs_cli.errors import InputError
    from mlobs_cli.runbook import service

    settings = resolve({"runbook.state_dir": str(tmp_path), "prometheus.url": "http://127.0.0.1:9"}, env={})
    inputs = {name: i.default for name, i in latency.inputs.items()}
    walk = service.start(latency, settings, inputs, AT, lambda: pytest.fail("no query"), mode="no_input")
    lines = walk.log.path.read_text(encoding="utf-8").splitlines()
    start = json.loads(lines[0])
    start["inputs"]["namespace"] = "ml-serving --all-namespaces;id"
    walk.log.path.write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="namespace=.* does not match"):
        service.resume(walk.log.walk_id, settings, lambda: pytest.fail("no query"))
