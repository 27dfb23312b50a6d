"""A real Prometheus over backfilled dcgm-exporter series (`DCGM_FI_*`), for `gpu status --prometheus`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import backfilled_prometheus

STEP = 15.0
SPAN = 600.0  # ten minutes of samples, the last one a minute before the server starts

H200 = {"modelName": "NVIDIA H200", "pci_bus_id": "00000000:18:00.0"}
# The loaded H200 of fixtures/nvml-load.json as dcgm-exporter shows it (MiB, W, C, MHz): on host gpu-a, a new
# exporter (`hostname`), GPU 0 in a Kubernetes pod.
HEALTHY = {"DCGM_FI_DEV_GPU_UTIL": 99, "DCGM_FI_DEV_MEM_COPY_UTIL": 24, "DCGM_FI_DEV_FB_USED": 42099,
           "DCGM_FI_DEV_FB_FREE": 101056, "DCGM_FI_DEV_FB_RESERVED": 616, "DCGM_FI_DEV_GPU_TEMP": 62,
           "DCGM_FI_DEV_POWER_USAGE": 693.4, "DCGM_FI_DEV_SM_CLOCK": 1440, "DCGM_FI_DEV_MEM_CLOCK": 3201,
           "DCGM_FI_DEV_XID_ERRORS": 0, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 0,
           "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
           "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0, "DCGM_FI_DEV_POWER_MGMT_LIMIT": 700,
           "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": 4}


def _gpus() -> list[tuple[dict[str, str], dict[str, float]]]:
    a0 = {"hostname": "gpu-a", "gpu": "0", "UUID": "GPU-aaaa0000", "device": "nvidia0", **H200,
          "pod": "llm-7b-5d8f9", "namespace": "serving", "container": "vllm"}
    # GPU 1 of gpu-a: idle, and failing: a row remap failed and XID 79 (fell off the bus) is the last XID
    a1 = {"hostname": "gpu-a", "gpu": "1", "UUID": "GPU-aaaa0001", "device": "nvidia1", **H200}
    failing = {**HEALTHY, "DCGM_FI_DEV_GPU_UTIL": 0, "DCGM_FI_DEV_FB_USED": 0, "DCGM_FI_DEV_FB_FREE": 143155,
               "DCGM_FI_DEV_ROW_REMAP_FAILURE": 1, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 3,
               "DCGM_FI_DEV_XID_ERRORS": 79, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": 1}
    # an older exporter (`Hostname`), with neither FB_RESERVED nor a power limit: unknown, not zero
    b0 = {"Hostname": "gpu-b", "gpu": "0", "UUID": "GPU-bbbb0000", "device": "nvidia0", "modelName": "NVIDIA A100"}
    old = {k: v for k, v in HEALTHY.items() if k not in ("DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_POWER_MGMT_LIMIT",
                                                         "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")}
    old.update({"DCGM_FI_DEV_GPU_UTIL": 55, "DCGM_FI_DEV_FB_USED": 75000, "DCGM_FI_DEV_FB_FREE": 5000,
                "DCGM_FI_DEV_GPU_TEMP": 70})
    gpus = [(a0, HEALTHY), (a1, failing), (b0, old)]
    # GPU 1 of gpu-b is split by MIG: its series carry GPU_I_ID, and GR_ENGINE_ACTIVE (0-1) replaces GPU_UTIL
    for gi, active, used in (("1", 0.5, 20000), ("2", 0.25, 1000)):
        labels = {"Hostname": "gpu-b", "gpu": "1", "UUID": "GPU-bbbb0001", "device": "nvidia1",
                  "modelName": "NVIDIA A100", "GPU_I_ID": gi, "GPU_I_PROFILE": "3g.40gb"}
        gpus.append((labels, {"DCGM_FI_PROF_GR_ENGINE_ACTIVE": active, "DCGM_FI_DEV_FB_USED": used,
                              "DCGM_FI_DEV_FB_FREE": 40000 - used, "DCGM_FI_DEV_GPU_TEMP": 50}))
    return gpus


def dcgm_openmetrics(end: float) -> str:
    lines = []
    steps = int(SPAN / STEP)
    for labels, values in _gpus():
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for name, value in values.items():
            lines += [f"{name}{{{text}}} {value} {end - (steps - n) * STEP:.3f}" for n in range(steps + 1)]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="session")
def dcgm_prometheus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Prometheus holding the dcgm-exporter series of two hosts (four GPUs, one with MIG)."""
    end = time.time() - 60
    with backfilled_prometheus(tmp_path_factory.mktemp("dcgm"), dcgm_openmetrics(end)) as url:
        yield url
