"""mlobs_cli.backends.pushgateway against a real Pushgateway, and its failures where a real one cannot fail on cue."""

from __future__ import annotations

import base64
import json
import math
import types
from pathlib import Path

import certifi
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from mlobs_cli.app import app
from mlobs_cli.backends import pushgateway
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.results import Gauge

HELP = "Population Stability Index of the feature"


def psi(feature: str, value: float) -> Gauge:
    return Gauge("feature_psi", HELP, (("feature", feature),), value)


def values(samples, name: str) -> dict[str, float]:
    """feature label -> value of the samples named `name`."""
    return {s.labels.get("feature", ""): s.value for s in samples if s.name == name}


# --- against a real Pushgateway -------------------------------------------------------------------------------


def test_push_reads_back_with_group_labels(gateway, scrape):
    gauges = [psi("latency", 0.2951306175534117), psi("tokens", 1e-07), psi("region", 3.0),
              Gauge("feature_drift_alerts", "Features whose drift alerts", (), 1.0)]

    pushgateway.push(gateway, "readback", {"model": "llm-7b"}, gauges)

    samples = scrape("readback")
    assert values(samples, "feature_psi") == pytest.approx({"latency": 0.2951306175534117, "tokens": 1e-07,
                                                             "region": 3.0}, rel=1e-12)
    assert values(samples, "feature_drift_alerts") == {"": 1.0}
    assert {s.labels["model"] for s in samples if s.name.startswith("feature_")} == {"llm-7b"}


def test_second_push_replaces_the_group(gateway, scrape):
    pushgateway.push(gateway, "replace", {"model": "m"}, [psi("a", 0.1), psi("gone", 0.5)])
    pushgateway.push(gateway, "replace", {"model": "m"}, [psi("a", 0.3)])

    assert values(scrape("replace"), "feature_psi") == {"a": pytest.approx(0.3, rel=1e-12)}


def test_groups_of_other_models_are_kept(gateway, scrape):
    pushgateway.push(gateway, "two-models", {"model": "a"}, [psi("x", 0.1)])
    pushgateway.push(gateway, "two-models", {"model": "b"}, [psi("x", 0.2)])

    by_model = {s.labels["model"]: s.value for s in scrape("two-models") if s.name == "feature_psi"}
    assert by_model == {"a": 0.1, "b": 0.2}


@pytest.mark.parametrize(("model", "feature"), [
    pytest.param("llm-7b", 'say "hi"', id="quotes"),
    pytest.param("llm-7b", "C:\\temp\\x", id="backslashes"),
    pytest.param("llm-7b", "line one\nline two", id="newline"),
    pytest.param("org/llm-7b", "f", id="model-with-slash"),
    pytest.param("a/b\\c\"d\ne", 'q"\\\n', id="everything-at-once"),
    pytest.param("", "f", id="empty-model"),
    pytest.param("..", "f", id="model-dot-dot"),
    pytest.param("50% ?#&+ é", "ü €", id="reserved-and-unicode"),
])
def test_label_values_round_trip(gateway, scrape, model, feature):
    job = "roundtrip/" + model  # a job with "/" takes the base64 path too
    pushgateway.push(gateway, job, {"model": model}, [psi(feature, 0.25)])

    [sample] = [s for s in scrape(job) if s.name == "feature_psi"]
    assert sample.labels == {"job": job, "model": model, "feature": feature, "instance": ""}
    assert sample.value == 0.25


@pytest.mark.parametrize("value", [
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="plus-inf"),
    pytest.param(float("-inf"), id="minus-inf"),
    pytest.param(5e-324, id="smallest-subnormal"),
    pytest.param(1.7976931348623157e308, id="largest-float"),
])
def test_special_values_round_trip(gateway, scrape, value):
    pushgateway.push(gateway, "special", {"model": "m"}, [psi("f", value)])

    [got] = values(scrape("special"), "feature_psi").values()
    assert (math.isnan(got) and math.isnan(value)) or got == value


# --- the text format itself ---------------------------------------------------------------------------------------


def test_exposition_escapes_and_groups_families():
    text = pushgateway.exposition([
        Gauge("m", "back\\slash\nnew \"line\"", (("a", 'q"b\\n\n'),), 1.5),
        Gauge("other", "o", (), -0.0),
        Gauge("m", "ignored: the family's first help wins", (("a", "x"), ("b", "y")), float("-inf")),
    ])

    assert text == (
        '# HELP m back\\\\slash\\nnew "line"\n'
        "# TYPE m gauge\n"
        'm{a="q\\"b\\\\n\\n"} 1.5\n'
        'm{a="x",b="y"} -Inf\n'
        "# HELP other o\n"
        "# TYPE other gauge\n"
        "other -0.0\n"
    )


# --- failures -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "job", "grouping", "gauges", "message"), [
    pytest.param("ftp://gw:9091", "j", {}, [], "expected http", id="not-http"),
    pytest.param("localhost:9091", "j", {}, [], "expected http", id="no-scheme"),
    pytest.param("user:s3cret@gw:9091", "j", {}, [], "expected http", id="no-scheme-with-password"),
    pytest.param("http://user:s3cret@gw:abc", "j", {}, [], "not valid: expected http.*port of 0-65535", id="port-not-number"),
    pytest.param("http://gw:99999", "j", {}, [], "not valid: expected http.*port of 0-65535", id="port-out-of-range"),
    pytest.param("http://user:s3cret@[::1:9091", "j", {}, [], "not valid: expected http.*IPv6", id="broken-ipv6"),
    pytest.param("http://:9091", "j", {}, [], "expected http", id="no-host"),
    pytest.param("http://gw:9091", "", {}, [], "job must not be empty", id="empty-job"),
    pytest.param("http://gw:9091", "j", {"bad-name": "x"}, [], "invalid label name 'bad-name'", id="grouping-name"),
    pytest.param("http://gw:9091", "j", {}, [Gauge("1psi", "h", (), 1.0)], "invalid metric name", id="metric-name"),
    pytest.param("http://gw:9091", "j", {}, [Gauge("psi", "h", (("a:b", "x"),), 1.0)], "invalid label name",
                 id="label-name"),
])
def test_invalid_input_is_refused_before_sending(url, job, grouping, gauges, message):
    sent = []
    client = httpx.Client(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)))

    with pytest.raises(InputError, match=message) as e:
        pushgateway.push(url, job, grouping, gauges, client=client)

    assert sent == []
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize(("bundle", "error"), [
    pytest.param(certifi.where(), None, id="ca-bundle"),
    pytest.param("/nonexistent/ca.pem", "CA bundle /nonexistent/ca.pem: No such file or directory", id="missing"),
    pytest.param(__file__, "CA bundle .*test_pushgateway.py", id="not-a-bundle"),
])
def test_ca_bundle_path(gateway, scrape, bundle, error):
    if error is None:
        pushgateway.push(gateway, "ca-bundle", {}, [psi("f", 0.5)], verify=bundle)
        assert values(scrape("ca-bundle"), "feature_psi") == {"f": 0.5}
    else:
        with pytest.raises(InputError, match=error):
            pushgateway.push(gateway, "ca-bundle", {}, [psi("f", 0.5)], verify=bundle)


@pytest.mark.parametrize("url", [
    pytest.param("http://127.0.0.1:{port}", id="plain"),
    pytest.param("http://user:s3cret@127.0.0.1:{port}", id="with-password"),
])
def test_closed_port_is_unavailable_and_says_refused(closed_port, url):
    url = url.format(port=closed_port)
    with pytest.raises(BackendUnavailable) as e:
        pushgateway.push(url, "j", {"model": "m"}, [psi("f", 0.1)], timeout=2)

    message = str(e.value)
    assert message.startswith("cannot reach pushgateway http://")
    assert "refused" in message.lower()
    assert "s3cret" not in message


@pytest.mark.parametrize(("answers", "tries", "error"), [
    pytest.param([503, 200], 2, None, id="503-then-ok"),
    pytest.param([502, 504, 202], 3, None, id="502-504-then-ok"),
    pytest.param([503, 503, 503], 3, "answered 503 Service Unavailable: busy 503", id="503-every-try"),
    pytest.param(["refused", 200], 2, None, id="refused-then-ok"),
    pytest.param(["refused"] * 3, 3, "cannot reach pushgateway http://gw:9091: refused", id="refused-every-try"),
    pytest.param([400], 1, "answered 400 Bad Request: busy 400", id="400-not-retried"),
    pytest.param([401], 1, "answered 401 Unauthorized", id="401-not-retried"),
    pytest.param([500], 1, "answered 500", id="500-not-retried"),
    pytest.param([301], 1, "answered 301 Moved Permanently", id="redirect-is-a-failure"),
])
def test_retries_only_what_may_pass(monkeypatch, answers, tries, error):
    pauses = []
    monkeypatch.setattr(pushgateway, "time", types.SimpleNamespace(sleep=pauses.append))
    requests = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        status = answers[len(requests) - 1]
        if status == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, text=f"busy {status}\nsecond line")

    client = httpx.Client(transport=httpx.MockTransport(answer))
    gauges = [psi("f", 0.1)]
    if error is None:
        pushgateway.push("http://gw:9091", "j", {"model": "m"}, gauges, client=client)
    else:
        with pytest.raises(BackendUnavailable, match=error) as e:
            pushgateway.push("http://gw:9091", "j", {"model": "m"}, gauges, client=client)
        assert "second line" not in str(e.value)

    assert len(requests) == tries
    assert pauses == [0.2, 0.4][: tries - 1]
    assert {(r.method, r.url.path) for r in requests} == {("PUT", "/metrics/job/j/model/m")}
    assert requests[0].headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert requests[0].content == pushgateway.exposition(gauges).encode()


def test_password_is_sent_as_basic_auth_and_never_shown():
    requests = []

    def echo_back(request: httpx.Request) -> httpx.Response:
        requests.append(request)  # a misbehaving gateway that quotes the credentials in its error
        return httpx.Response(403, text=f"user {request.headers['authorization']} s3cret denied")

    client = httpx.Client(transport=httpx.MockTransport(echo_back))
    with pytest.raises(BackendUnavailable) as e:
        pushgateway.push("http://user:s3cret@127.0.0.1:9091", "j", {}, [psi("f", 0.1)], client=client)

    assert requests[0].headers["authorization"] == "Basic " + base64.b64encode(b"user:s3cret").decode()
    assert "s3cret" not in str(e.value)
    assert str(e.value).startswith("pushgateway http://****@127.0.0.1:9091 answered 403 Forbidden")


def test_long_body_line_is_truncated():
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(400, text="x" * 1000)))

    with pytest.raises(BackendUnavailable) as e:
        pushgateway.push("http://gw:9091", "j", {}, [], client=client)

    assert str(e.value) == "pushgateway http://gw:9091 answered 400 Bad Request: " + "x" * 200


# --- end to end through the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def samples(tmp_path: Path) -> tuple[str, str]:
    """A reference and a current CSV: `latency` drifts, `tokens` and `region` do not."""
    rng = np.random.default_rng(20240601)
    n = 400

    def write(name: str, shift: float) -> str:
        latency, tokens = rng.normal(shift, 1, n), rng.normal(100, 10, n)
        region = rng.choice(["eu", "us", "ap"], n)
        path = tmp_path / name
        path.write_text("latency,tokens,region\n"
                        + "".join(f"{a:.6f},{b:.6f},{c}\n" for a, b, c in zip(latency, tokens, region)))
        return str(path)

    return write("ref.csv", 0.0), write("cur.csv", 1.0)


def run_cli(*args: str, url: str = ""):
    # MLOBS_CONFIG=/dev/null: no config file of the machine running the tests can change the result
    return CliRunner().invoke(app, list(args), env={"MLOBS_CONFIG": "/dev/null", "MLOBS_PUSHGATEWAY_URL": url,
                                                    "MLOBS_PUSHGATEWAY_JOB": "", "MLOBS_OUTPUT": ""})


def test_cli_publishes_the_json_report_psi(gateway, scrape, samples):
    result = run_cli("drift", "compare", *samples, "--pushgateway", gateway, "--job", "drift-test",
                     "--model", "llm-7b", "-o", "json")

    assert result.exit_code == 1, result.output  # latency drifted: a finding
    report = json.loads(result.stdout)
    assert report["complete"] is True and report["errors"] == []
    expected = {f["name"]: f["psi"] for f in report["features"] if f["psi"] is not None}
    assert set(expected) == {"latency", "tokens", "region"}
    gateway = scrape("drift-test")
    assert {s.labels["model"] for s in gateway if s.name == "feature_psi"} == {"llm-7b"}
    assert values(gateway, "feature_psi") == pytest.approx(expected, rel=1e-12)
    assert values(gateway, "feature_drift_alerts") == {"": len(report["alerts"])}
    assert len(report["alerts"]) == 1


def test_cli_unreachable_pushgateway_is_an_incomplete_report(closed_port, samples):
    url = f"http://user:s3cret@127.0.0.1:{closed_port}"

    result = run_cli("drift", "compare", *samples, "--model", "llm-7b", "-o", "json", "--exit-zero", url=url)

    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert [f["name"] for f in report["features"]] == ["latency", "tokens", "region"]
    assert report["complete"] is False
    [error] = report["errors"]
    assert error["backend"] == "pushgateway"
    assert error["message"].startswith("cannot reach pushgateway http://****@127.0.0.1:")
    assert result.stderr.startswith("mlobs: warning: pushgateway: cannot reach pushgateway http://****@127.0.0.1:")
    assert "s3cret" not in result.output


def test_credentials_in_the_pushgateway_flag_are_refused(samples):
    # a command line is visible to every user of the machine (ps): the URL with a password goes in the environment
    result = run_cli("drift", "compare", *samples, "--model", "llm-7b", "--pushgateway",
                     "http://user:s3cret@127.0.0.1:9091")
    assert result.exit_code == 2 and result.stdout == ""
    assert "MLOBS_PUSHGATEWAY_URL" in result.stderr and "s3cret" not in result.stderr
