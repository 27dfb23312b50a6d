"""Terminal escape sequences in what servers and devices send never reach the terminal: a label value in a real
Prometheus, an annotation in a real Alertmanager, the GPU name of an NVML recording (a copy of the real H200's,
edited). Tables, messages, CSV and Markdown drop control characters; JSON keeps the text exact, escaped."""

from __future__ import annotations

import json

import pytest
from metrics_fakes import post_alerts

from tests.conftest import backfilled_prometheus
from tests.gpu.gpu_scenarios import real

HOSTILE = "\x1b[2J\x1b]0;pwn\x07"  # clear the screen, retitle the window
C1_AND_BIDI = "\x9b31m\u202e"  # a CSI of 8-bit terminals, a right-to-left override
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")
MODEL = f"evil{HOSTILE}{C1_AND_BIDI}model"


def clean(text: str) -> None:
    assert not any(c in text for c in CONTROLS), repr(text)


@pytest.fixture(scope="module")
def hostile_prometheus(tmp_path_factory: pytest.TempPathFactory):
    """A real Prometheus whose `model` label values hold escape sequences, in two series of one model (so that
    matching them many-to-many fails with the server's message quoting the labels)."""
    end = 1795690000.0
    lines = []
    for replica in ("a", "b"):
        for n in range(41):
            lines.append(f'inference_requests_total{{model="{MODEL}",version="v1",status="200",replica="{replica}"}} '
                         f"{n * 10.0} {end - 600 + n * 15:.3f}")
    with backfilled_prometheus(tmp_path_factory.mktemp("hostile"), "\n".join(lines) + "\n# EOF\n") as url:
        yield url, end


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_a_label_value_shows_without_its_escapes(cli, hostile_prometheus, fmt):
    url, end = hostile_prometheus
    result = cli("metrics", "query", "inference_requests_total", "--at", end, "--prometheus", url, "-o", fmt)
    assert result.exit_code == 0, result.stderr
    clean(result.stdout)
    assert "evil[2J]0;pwn31mmodel" in result.stdout  # what is left shows that something was there


def test_json_keeps_the_label_value_exact(cli, hostile_prometheus):
    url, end = hostile_prometheus
    result = cli("metrics", "query", "inference_requests_total", "--at", end, "--prometheus", url, "-o", "json")
    assert "\x1b" not in result.stdout  # escaped by json.dumps
    assert {r["labels"]["model"] for r in json.loads(result.stdout)["result"]} == {MODEL}


def test_the_servers_error_message_shows_without_escapes(cli, hostile_prometheus):
    """Prometheus quotes label values in its own messages (Go's %q: `\\x1b`): no raw control character comes back."""
    url, end = hostile_prometheus
    result = cli("metrics", "query", "inference_requests_total * on (model) inference_requests_total", "--at", end,
                 "--prometheus", url)
    assert result.exit_code == 3 and "many-to-many" in result.stderr, result.stderr
    clean(result.stderr)


@pytest.mark.parametrize("status", [422, 503, 200], ids=["error", "retried error", "warning"])
def test_a_message_from_any_server_shows_without_escapes(cli, fake_server, status):
    """What a real server quotes for us, a proxy or another implementation need not: its error, or its warning."""
    body = ({"status": "success", "data": {"resultType": "vector", "result": []}, "warnings": [f"w{HOSTILE}w"]}
            if status == 200 else {"status": "error", "errorType": "execution", "error": f"e{HOSTILE}e"})
    url = fake_server(lambda path: (status, json.dumps(body)))
    result = cli("metrics", "query", "up", "--prometheus", url)
    assert result.exit_code == 3
    assert "[2J]0;pwn" in result.stderr
    clean(result.stderr)


@pytest.mark.parametrize("command", [["metrics", "summary"], ["dashboard", "--once"]], ids=["summary", "dashboard"])
def test_the_views_show_the_model_without_escapes(cli, hostile_prometheus, command):
    url, end = hostile_prometheus
    result = cli(*command, "--at", end, "--window", "5m", "--prometheus", url, env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1, 3), (result.stderr, result.exception)
    assert "evil[2J]0;pwn31mmodel" in result.stdout
    clean(result.stdout + result.stderr)


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_an_alertmanager_annotation_shows_without_its_escapes(cli, alertmanager, fmt):
    post_alerts(alertmanager, [{"labels": {"alertname": "Pwn", "severity": "critical", "model": MODEL},
                                "annotations": {"summary": f"see{HOSTILE}this"}}])
    result = cli("alerts", "firing", "--alertmanager", alertmanager, "-o", fmt, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.stderr
    clean(result.stdout)
    assert "see[2J]0;pwnthis" in result.stdout
    exact = cli.json("alerts", "firing", "--alertmanager", alertmanager, expect=0)
    assert exact["alerts"][0]["summary"] == f"see{HOSTILE}this"


def test_an_nvml_string_shows_without_its_escapes(cli, tmp_path):
    recording = real("load")
    recording["devices"][0]["nvmlDeviceGetName"] = {"ok": f"NVIDIA H200{HOSTILE}{C1_AND_BIDI}"}
    path = tmp_path / "nvml-hostile.json"
    path.write_text(json.dumps(recording), encoding="utf-8")
    for fmt in ("table", "csv", "markdown"):
        result = cli("gpu", "status", "--replay", path, "-o", fmt, env={"COLUMNS": "250"})
        assert result.exit_code in (0, 1), (result.stderr, result.exception)
        clean(result.stdout + result.stderr)
        assert "NVIDIA H200[2J]0;pwn31m" in result.stdout
    exact = cli.json("gpu", "status", "--replay", path)
    assert exact["gpus"][0]["name"] == f"NVIDIA H200{HOSTILE}{C1_AND_BIDI}"
