"""The table and the --watch view of `gpu status`."""

from __future__ import annotations

import pytest
from gpu_scenarios import FIXTURES, scenario

from mlobs_cli.render import gpu as gpu_view


def test_the_table_of_the_loaded_h200(cli, tmp_path):
    result = cli("gpu", "status", "--replay", scenario("vllm-process", tmp_path), env={"COLUMNS": "200"})
    lines = result.stdout.splitlines()
    assert result.exit_code == 1 and "\x1b[" not in result.stdout
    assert lines[0].endswith("vllm-process.json, captured 2026-11-26T08:39:55Z")
    assert lines[1] == "driver 580.159.04 · CUDA 13.0 · NVML 13.580.159.04"
    row = next(line for line in lines if line.strip().startswith("0  NVIDIA H200"))
    assert "GPU 0 GPU-1fe069ad-b11b-d233-9269-919fea2811e2: P0 · PCIe gen5 x16 / gen5 x16 · ECC on, uncorrected 0 / 0" \
        in result.stdout
    for cell in ("alert", "99% / 24%", "41.1 / 140.4 GiB 29%", "62 / 89",
                 "693 / 700 W", "1440 / 1980", "sw_power_cap", "0 / 0"):
        assert cell in row
    process = next(line for line in lines if line.strip().startswith("0  424"))
    assert "vllm.entrypoints" in process and "41.1 GiB" in process and "llama-8b-prod" in process
    assert lines[-1] == "1 GPU: 1 alert, 1 warn"
    assert [line.split()[0] for line in lines if line.startswith(("ALERT", "WARN"))] == ["ALERT", "WARN"]


def test_a_narrow_terminal_drops_columns_not_the_status(cli):
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-load.json", env={"COLUMNS": "80"})
    header = next(line for line in result.stdout.splitlines() if line.startswith("GPU "))
    assert "Status" in header and "Memory" in header and "Clock events" not in header


def test_markdown_for_the_incident_channel(cli):
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-load.json", "-o", "markdown")
    assert result.stdout.startswith("**GPU status** — recording ")
    assert "- **GPU 0** (alert): utilization 99% > 95%" in result.stdout
    assert "| sw_power_cap |" in result.stdout  # the clock events as text, not a Python tuple


def test_watch_redraws_until_ctrl_c_and_writes_one_report_a_tick_off_a_terminal(capsys):
    from mlobs_cli.config import resolve
    from mlobs_cli.gpu import service

    settings = resolve({})
    calls = []
    with service.Session(service.Request(replay=FIXTURES / "nvml-load.json"), settings) as session:
        def next_report():
            if len(calls) == 3:
                raise KeyboardInterrupt
            calls.append(1)
            return session.report()

        gpu_view.watch(next_report, 0.1)
    out = capsys.readouterr().out
    assert len(calls) == 3
    assert out.count("every 0.1 s, ") == 3 and out.count("1 GPU: 1 alert, 1 warn") == 3


def test_watch_needs_the_table(cli):
    result = cli("gpu", "status", "--replay", FIXTURES / "nvml-load.json", "--watch", "1", "-o", "csv")
    assert result.exit_code == 2


@pytest.mark.parametrize(("mask", "events"), [(0, ()), (0x4, ("sw_power_cap",)), (0x41, ("gpu_idle",
                         "hw_thermal_slowdown")), (0x1000, ("0x1000",)), (None, None)])
def test_clock_events_decoded(mask, events):
    from mlobs_cli.gpu.report import decode_clock_events

    assert decode_clock_events(mask) == events
