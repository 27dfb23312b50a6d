"""`gpu status --prometheus`: every GPU of the fleet from dcgm-exporter series in a real Prometheus (conftest.py)."""

from __future__ import annotations

import json

import pytest

GIB = 1 << 30


@pytest.fixture
def fleet(cli, dcgm_prometheus):
    def run(*args, expect=1):
        return cli.json("gpu", "status", "--prometheus", dcgm_prometheus, *args, expect=expect)
    return run


def by_uuid(report):
    return {g["uuid"]: g for g in report["gpus"]}


def test_every_gpu_of_every_host_grouped_by_host(fleet, dcgm_prometheus):
    report = fleet()
    assert [(g["host"], g["index"]) for g in report["gpus"]] == [("gpu-a", 0), ("gpu-a", 1), ("gpu-b", 0),
                                                                 ("gpu-b", 1)]
    assert report["source"]["kind"] == "prometheus" and report["source"]["location"] == dcgm_prometheus
    assert report["complete"] and report["driver_version"] is None


def test_the_loaded_h200_reads_as_nvml_read_it(fleet):
    g = by_uuid(fleet())["GPU-aaaa0000"]
    assert (g["name"], g["pci_bus_id"], g["utilization_gpu"], g["utilization_memory"]) == (
        "NVIDIA H200", "00000000:18:00.0", 99, 24)
    # MiB as dcgm-exporter exports them; total = used + free + reserved = what NVML calls total (143771 MiB)
    assert g["memory"] == {"total": 143771 << 20, "used": 42099 << 20, "reserved": 616 << 20,
                           "free": 101056 << 20, "api": "dcgm", "used_percent": pytest.approx(29.28, abs=0.01)}
    assert (g["temperature"]["gpu"], g["power"]["draw_w"], g["power"]["limit_w"]) == (62, 693.4, 700)
    assert g["clocks"]["events"] == ["sw_power_cap"] and g["xid_events"] == []
    (pod,) = g["processes"]
    assert pod["name"] == "pod serving/llm-7b-5d8f9 (vllm)" and pod["pid"] is None


def test_findings_where_the_metrics_allow(fleet):
    findings = {(f["subject"], f["check"], f["severity"]) for f in fleet()["findings"]}
    assert findings == {
        ("gpu-a GPU 0", "gpu/utilization", "alert"), ("gpu-a GPU 0", "gpu/throttling", "warn"),
        ("gpu-a GPU 1", "gpu/utilization", "warn"), ("gpu-a GPU 1", "gpu/remapped-rows", "alert"),
        ("gpu-a GPU 1", "gpu/xid", "alert"),
        ("gpu-b GPU 0", "gpu/memory", "alert"),  # 75000 of 80000 MiB: 93.75%
    }


def test_an_older_exporter_with_missing_series_gives_unknown_not_zero(fleet):
    g = by_uuid(fleet())["GPU-bbbb0000"]
    assert g["host"] == "gpu-b"  # from `Hostname`
    assert g["memory"]["reserved"] is None and g["memory"]["total"] == 80000 << 20
    assert g["power"]["limit_w"] is None and g["clocks"]["event_reasons"] is None
    assert g["ecc"]["uncorrected_volatile"] is None and g["persistence_mode"] is None


def test_mig_instances_from_their_series(fleet):
    g = by_uuid(fleet())["GPU-bbbb0001"]
    assert g["mig"]["enabled"] is True and g["utilization_gpu"] is None
    assert [(m["gpu_instance_id"], m["name"], m["utilization_gpu"], m["memory_used"]) for m in g["mig"]["instances"]] \
        == [(1, "3g.40gb", 50, 20000 << 20), (2, "3g.40gb", 25, 1000 << 20)]


def test_select_and_table(fleet, cli, dcgm_prometheus):
    assert [g["uuid"] for g in fleet("--gpu", "GPU-bbbb", expect=1)["gpus"]] == ["GPU-bbbb0000", "GPU-bbbb0001"]
    table = cli("gpu", "status", "--prometheus", dcgm_prometheus, env={"COLUMNS": "200"}).stdout
    assert "host gpu-a" in table and "host gpu-b" in table and "4 GPUs on 2 hosts" in table


def test_a_prometheus_without_dcgm_series_is_incomplete(cli, prometheus):
    result = cli("gpu", "status", "--prometheus", prometheus.url, "-o", "json")
    assert result.exit_code == 3
    assert "no DCGM_FI_DEV_* series" in result.stderr


def test_an_unreachable_prometheus_is_exit_3(cli, closed_port):
    result = cli("gpu", "status", "--prometheus", f"http://127.0.0.1:{closed_port}")
    assert result.exit_code == 3 and result.stderr.startswith("mlobs: error: cannot reach prometheus")


def test_a_context_of_the_config_file_selects_the_fleet_view(cli, dcgm_prometheus, tmp_path):
    """--context (and --insecure) as every command that reads Prometheus takes them."""
    config = tmp_path / "mlobs.yaml"
    config.write_text(f"contexts:\n  lab:\n    url: {dcgm_prometheus}\n")
    report = cli.json("gpu", "status", "--context", "lab", "--insecure", "--config", config, expect=1)
    assert report["source"]["kind"] == "prometheus" and len(report["gpus"]) == 4


def test_a_gpu_the_fleet_does_not_have_is_a_usage_error(cli, dcgm_prometheus):
    result = cli("gpu", "status", "--prometheus", dcgm_prometheus, "--gpu", "GPU-nope")
    assert result.exit_code == 2 and result.stderr == "mlobs: error: --gpu GPU-nope: no GPU of the fleet has this " \
                                                      "index or UUID\n"


def test_inf_in_dcgm_values_is_unknown_not_an_internal_error(cli, tmp_path):
    """Issue 12 §5: +Inf in a dcgm-exporter series (XID, throttle reasons, utilisation), in a real Prometheus."""
    import time

    from tests.conftest import backfilled_prometheus

    end = time.time() - 60
    labels = 'Hostname="gpu-x",gpu="0",UUID="GPU-xxxx0000",modelName="NVIDIA H200"'
    lines = [f"{name}{{{labels}}} {value} {end - n * 15:.3f}" for n in range(3, -1, -1)
             for name, value in (("DCGM_FI_DEV_XID_ERRORS", "+Inf"), ("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "-Inf"),
                                 ("DCGM_FI_DEV_GPU_UTIL", "+Inf"), ("DCGM_FI_DEV_GPU_TEMP", "61"))]
    with backfilled_prometheus(tmp_path, "\n".join(lines) + "\n# EOF\n") as url:
        result = cli("gpu", "status", "--prometheus", url, "-o", "json")
    assert "internal error" not in result.stderr and result.exit_code in (0, 1, 3), result.stderr
    gpu = json.loads(result.stdout)["gpus"][0]
    assert gpu["uuid"] == "GPU-xxxx0000" and gpu["temperature"]["gpu"] == 61 and gpu["utilization_gpu"] is None
