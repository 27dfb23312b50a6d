"""`mlobs dashboard --once` on the scenario, in Prometheus and VictoriaMetrics: every panel's numbers against
metrics_reference.py (tolerance: its TOLERANCE), the layout drawn without a terminal, and panels as data."""

from __future__ import annotations

import math

import pytest
from canary import canary, imported
from metrics_reference import TOLERANCE, close, gauge_at, gauges, increase, quantiles, rates
from scenario import STEP, VERSIONS

from mlobs_cli.metrics import dashboard as db
from tests.conftest import backfilled_prometheus

W = 300.0


def panels(report):
    return {p["title"]: p for p in report["panels"]}


def test_stat_cards(cli, server, scenario):
    at = scenario.end
    shown = panels(cli.json("dashboard", "--once", "--prometheus", server.url, "--at", int(at), expect=0))

    def expected(t):
        requests = sum(rates(scenario, "inference_requests_total", t, W, ()).values())
        errors = sum(rates(scenario, "inference_errors_total", t, W, ()).values())
        util = [v for _, v in gauges(scenario, "gpu_utilization_percent", t)]
        return {"Requests/s": requests, "Error Rate": errors / requests, "GPU Util": sum(util) / len(util),
                "P99 Latency": quantiles(scenario, 0.99, "inference_latency_seconds", t, W, ())[()]}

    now, before = expected(at), expected(at - 3600)
    for title in now:
        data = shown[title]["data"]
        assert close(data["value"], now[title], server.kind), (title, data, now[title])
        assert close(data["previous"], before[title], server.kind), (title, data, before[title])
    assert shown["Error Rate"]["data"]["level"] == "alert"  # fraud-det's spike lifts the fleet over 0.1%
    assert shown["P99 Latency"]["data"]["level"] == "warn"
    assert shown["Requests/s"]["data"]["level"] is None


def test_request_rate_by_model_over_24h(cli, server, scenario):
    """Every 15 min over 24 h, each point a rate over the 15 min before it (the step, longer than the 5m window):
    the points cover the whole day, so traffic that stops between two of them still shows."""
    at = scenario.end
    step = 900.0  # 24 h every 15 min: a nice step for ~120 points, and a whole number of the scenario's STEP
    data = panels(cli.json("dashboard", "--once", "--prometheus", server.url, "--at", int(at), expect=0))[
        "Request Rate by Model (24h)"]["data"]
    assert [s["name"] for s in data["series"]] == sorted({v.model for v in VERSIONS})
    for s in data["series"]:
        expected = {p["time"]: rates(scenario, "inference_requests_total", _seconds(p["time"]), step, ("model",),
                                     model=s["name"])[(s["name"],)] for p in s["points"]}
        assert len(s["points"]) == 97  # both ends included
        assert [_seconds(p["time"]) for p in s["points"]] == [at - 86400 + i * step for i in range(97)]
        for p in s["points"]:
            assert close(p["value"], expected[p["time"]], server.kind), (s["name"], p)
        assert close(s["last"], expected[s["points"][-1]["time"]], server.kind)
        assert close(s["max"], max(expected.values()), server.kind)
        # the points after the first count every request of the day once: none falls between two points
        day = sum(increase(times, values, at, 86400) for _, times, values in
                  scenario.select("inference_requests_total", model=s["name"]))
        assert close(sum(p["value"] * step for p in s["points"][1:]), day, server.kind)


def test_requests_per_second_warns_below_half_the_baseline(cli, tmp_path):
    """The catalogue's inference_requests_rate threshold (under 50% of the baseline: warn), on the stat card as in
    `metrics summary`: traffic falling from 10/s to 4/s over the hour before `at`."""
    at = 1795690000
    samples = "".join(f'inference_requests_total{{model="m",version="v1"}} {_requests(t, at)} {t}\n'
                      for t in range(at - 7200, at + 1, 15))
    with backfilled_prometheus(tmp_path, samples + "# EOF\n") as url:
        card = panels(cli.json("dashboard", "--once", "--prometheus", url, "--at", at, expect=0))["Requests/s"]["data"]
        (row,) = cli.json("metrics", "summary", "--prometheus", url, "--at", at, expect=0)["models"]
    assert (card["value"], card["previous"]) == (4, 10)
    assert card["level"] == row["requests_per_second"]["level"] == "warn"


def _requests(t: int, at: int) -> float:
    """A counter of 10 requests a second until half an hour before `at`, 4 a second since."""
    drop = at - 1800
    return 10.0 * (min(t, drop) - (at - 7200)) + 4.0 * max(0, t - drop)


def test_gpu_memory_bars_name_the_instance(cli, tmp_path):
    """Two nodes each with a GPU "0": one bar each, named instance/gpu_id, sorted by instance then GPU."""
    at = 1795690000
    used = {("node-b", "0"): 0.5, ("node-a", "1"): 0.25, ("node-a", "0"): 0.75, ("node-a10", "0"): 0.95}
    samples = "".join(
        f'gpu_memory_{kind}_bytes{{gpu_id="{gpu}",instance="{node}"}} {value} {at - n * 15}\n'
        for kind in ("total", "used") for (node, gpu), share in used.items() for n in range(20, -1, -1)
        for value in [80 * share if kind == "used" else 80])
    with backfilled_prometheus(tmp_path, samples + "# EOF\n") as url:
        bars = panels(cli.json("dashboard", "--once", "--prometheus", url, "--at", at, expect=0))[
            "GPU Memory by Instance"]["data"]["bars"]
    assert [(b["name"], b["value"], b["level"]) for b in bars] == [
        ("node-a/0", 0.75, None), ("node-a/1", 0.25, None), ("node-a10/0", 0.95, "alert"), ("node-b/0", 0.5, None)]


def test_latency_distribution(cli, server, scenario):
    at = scenario.end
    data = panels(cli.json("dashboard", "--once", "--prometheus", server.url, "--at", int(at), expect=0))[
        "Latency Distribution"]["data"]
    cumulative = sorted((float(k[0]), v) for k, v in rates(scenario, "inference_latency_seconds_bucket", at, W,
                                                           ("le",)).items())
    total = cumulative[-1][1]
    shares = [(c - p) / total for (_, c), (_, p) in zip(cumulative, [(0.0, 0.0), *cumulative[:-1]], strict=True)]
    assert [b["upper"] for b in data["buckets"][:-1]] == [le for le, _ in cumulative[:-1]]
    assert all(close(b["share"], e, server.kind) for b, e in zip(data["buckets"], shares, strict=True))
    for q in (50, 95, 99):
        expected = quantiles(scenario, q / 100, "inference_latency_seconds", at, W, ())[()]
        assert close(data[f"p{q}"], expected, server.kind), q


def test_gpu_memory_bars_and_queue(cli, server, scenario):
    at = scenario.end
    shown = panels(cli.json("dashboard", "--once", "--prometheus", server.url, "--at", int(at), expect=0))
    total = {_gpu(labels): v for labels, v in gauges(scenario, "gpu_memory_total_bytes", at)}
    expected = {_gpu(labels): v / total[_gpu(labels)] for labels, v in gauges(scenario, "gpu_memory_used_bytes", at)}
    bars = shown["GPU Memory by Instance"]["data"]["bars"]
    assert [b["name"] for b in bars] == sorted(expected)
    for b in bars:
        assert close(b["value"], expected[b["name"]], server.kind)
        assert b["level"] == ("alert" if b["name"] == "node-b/gpu-3" else None)  # the saturation: 95% > 90%
    (queue,) = shown["Request Queue Depth"]["data"]["series"]
    samples = list(scenario.select("request_queue_depth"))
    for p in queue["points"]:  # every 30 s, on the scenario's grid
        t = _seconds(p["time"])
        assert (t - at) % STEP == 0
        assert close(p["value"], sum(gauge_at(times, values, t) for _, times, values in samples), server.kind)
    assert _seconds(queue["points"][-1]["time"]) == at and queue["last"] == queue["points"][-1]["value"]
    assert close(queue["max"], max(p["value"] for p in queue["points"]), server.kind)


def test_model_health(cli, server, scenario):
    at = scenario.end
    models = panels(cli.json("dashboard", "--once", "--prometheus", server.url, "--at", int(at), expect=0))[
        "Model Health Summary"]["data"]["models"]
    rps = rates(scenario, "inference_requests_total", at, W, ("model", "version"))
    total = sum(rps.values())
    for m in models:
        ups = [v for _, v in gauges(scenario, "up", at, model=m["model"], version=m["version"])]
        assert (m["replicas_up"], m["replicas"]) == (sum(ups), len(ups))
        assert close(m["requests_per_second"], rps[m["model"], m["version"]], server.kind)
        assert close(m["traffic_share"], rps[m["model"], m["version"]] / total, server.kind)
        # the version's own error ratio, from its 5xx requests (the scenario's error counter has no version)
        failed = rates(scenario, "inference_requests_total", at, W, ("model", "version", "status"))
        assert close(m["error_ratio"], failed[m["model"], m["version"], "500"] / rps[m["model"], m["version"]],
                     server.kind)
        assert m["error_ratio_scope"] == "version"
    health = {(m["model"], m["version"]): (m["health"], m["reasons"]) for m in models}
    assert health == {
        ("cv-resnet", "v1.5.2"): ("healthy", []),
        ("embedding", "v3.0.0"): ("healthy", []),
        ("fraud-det", "v2.2.0"): ("degraded", ["1 of 2 replicas down", "error rate over the catalogue threshold"]),
        ("llm-7b", "v2.1.0"): ("degraded", ["p99 latency over the catalogue threshold"]),
        ("llm-7b", "v2.2.0"): ("healthy", []),
    }


def test_drawn_once_without_a_terminal(cli, scenario_prometheus, scenario):
    result = cli("dashboard", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end),
                 env={"COLUMNS": "130"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for title in ("Requests/s", "P99 Latency", "Error Rate", "GPU Util", "Request Rate by Model (24h)",
                  "Latency Distribution", "GPU Memory by Instance", "Request Queue Depth", "Model Health Summary"):
        assert title in out
    assert "95.0% ⚠" in out and "◐ Degraded" in out and "1/2" in out and "\x1b[" not in out  # NO_COLOR


def test_csv_lists_every_number_shown(cli, scenario_prometheus, scenario):
    result = cli("dashboard", "--prometheus", scenario_prometheus.url, "--at", int(scenario.end), "-o", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "panel,item,value,change"
    assert any(line.startswith("GPU Memory by Instance,node-b/gpu-3,0.95") for line in lines)


def test_a_panel_of_ones_own(scenario_prometheus, scenario):
    """A team's panel is data: a query and a renderer name."""
    from mlobs_cli.backends.prometheus import PrometheusClient
    from mlobs_cli.metrics.common import utc

    mine = db.Panel("Loaded models", "bars", {"value": "count by (model) (model_load_seconds_count)"}, legend="model")
    with PrometheusClient(scenario_prometheus.url) as client:
        result = db.build(client, utc(scenario.end), _minutes(5), (mine,))
    (panel,) = result.panels
    assert {b["name"]: b["value"] for b in panel.data["bars"]} == {"cv-resnet": 1, "embedding": 1, "fraud-det": 1,
                                                                   "llm-7b": 2}
    assert set(db.RENDERERS) == {"stat", "sparklines", "distribution", "bars", "health"}


def _gpu(labels: dict[str, str]) -> str:
    return f"{labels['instance']}/{labels['gpu_id']}"


def _seconds(text: str) -> float:
    from mlobs_cli.timeparse import parse_time

    return parse_time(text, "time").timestamp()


def _minutes(n: int):
    from datetime import timedelta

    return timedelta(minutes=n)


def test_live_on_a_terminal_until_ctrl_c(scenario_prometheus):
    """On a TTY (a pseudo-terminal here) the dashboard draws in the alternate screen and refreshes until Ctrl-C,
    which exits 130; it restores the screen on the way out."""
    import os

    out, status = _live(scenario_prometheus.url, b"Model Health Summary")
    assert b"Model Health Summary" in out and b"Requests/s" in out
    assert os.waitstatus_to_exitcode(status) == 130
    assert out.rstrip().endswith(b"\x1b[?1049l")  # left the alternate screen


def test_live_shows_the_errors_and_warnings_in_a_footer(fake_server):
    """A failed panel says "see the errors": the errors, and the server's warnings, are on screen under the
    panels. No real server fails one request of a view on demand, or warns, hence a fake one."""
    from metrics_fakes import ok

    def answer(path: str) -> tuple[int, str]:
        if path.startswith("/api/v1/query_range"):
            return 500, '{"status": "error", "errorType": "internal", "error": "range store down"}'
        return ok({"resultType": "vector", "result": []}, warnings=["store eu-1 unreachable"])

    out, _ = _live(fake_server(answer), b"store eu-1 unreachable")
    screen = out.decode(errors="replace")
    assert "a query of this panel failed (see the errors)" in screen
    assert "range store down" in screen and "store eu-1 unreachable" in screen


def _live(url: str, until: bytes) -> tuple[bytes, int]:
    """`mlobs dashboard` on a pseudo-terminal 130 x 60 until `until` is drawn (30 s at most), then Ctrl-C: what
    it wrote, and its wait status."""
    import os
    import pty
    import select
    import signal
    import sys
    import time
    from pathlib import Path

    mlobs = str(Path(sys.executable).with_name("mlobs"))
    pid, fd = pty.fork()
    if pid == 0:  # the child: mlobs on the terminal's side; never back into pytest
        try:
            os.environ.update({"COLUMNS": "130", "LINES": "60"})
            os.execv(mlobs, [mlobs, "dashboard", "--prometheus", url, "--refresh", "1"])
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + 30
    try:
        while until not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                out += os.read(fd, 65536)
    finally:
        os.kill(pid, signal.SIGINT)
        while select.select([fd], [], [], 1)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
        _, status = os.waitpid(pid, 0)
    return out, status


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
@pytest.mark.parametrize("versioned_errors", [True, False], ids=["errors-by-version", "errors-by-status"])
def test_a_broken_canary_is_the_degraded_row(cli, tmp_path, kind, versioned_errors):
    """v1 at 0% errors, v2 at 20%: only v2 is degraded (model-wide, 6.7%, both rows would be)."""
    at = 1795690000
    with imported(kind, tmp_path, canary(at, versioned_errors)) as url:
        report = cli.json("dashboard", "--once", "--prometheus", url, "--at", at, expect=0)
    models = {m["version"]: m for m in panels(report)["Model Health Summary"]["data"]["models"]}
    assert math.isclose(models["v1"]["error_ratio"], 0.0, abs_tol=1e-12)
    assert math.isclose(models["v2"]["error_ratio"], 0.2, rel_tol=TOLERANCE[kind])
    assert (models["v1"]["health"], models["v2"]["health"]) == ("healthy", "degraded")
    assert models["v2"]["reasons"] == ["error rate over the catalogue threshold"]
    assert models["v1"]["error_ratio_scope"] == models["v2"]["error_ratio_scope"] == "version"


@pytest.mark.parametrize("kind", ["prometheus", "victoriametrics"])
def test_a_model_wide_error_rate_says_so(cli, tmp_path, kind):
    """Errors counted per model only and requests without status: every row gets the model's rate, marked."""
    at = 1795690000
    text = "\n".join(line for line in canary(at, False).splitlines() if 'status="503"' not in line)
    with imported(kind, tmp_path, text.replace(',status="200"', "") + "\n") as url:
        report = cli.json("dashboard", "--once", "--prometheus", url, "--at", at, expect=0)
    for m in panels(report)["Model Health Summary"]["data"]["models"]:
        assert math.isclose(m["error_ratio"], 10 / 140, rel_tol=TOLERANCE[kind])  # v2's 10 failed of 140 req/s
        assert m["error_ratio_scope"] == "model"
        assert m["reasons"] == ["error rate over the catalogue threshold (model-wide)"]
