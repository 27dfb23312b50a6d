"""Recordings derived, at test time, from the real H200 recording (fixtures/nvml-load.json, -idle.json): each one
edits a copy to the failure it covers, in the recording format (fixtures/README.md, mlobs_cli/gpu/source.py).

`scenario(name, tmp_path)` writes one to a file and returns its path; SCENARIOS lists them all. Nothing here is
checked in but the two real recordings: a derived recording is always exactly its edit of the real one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
UUID = "GPU-1fe069ad-b11b-d233-9269-919fea2811e2"
NOT_SUPPORTED = {"error": "Not Supported", "code": 3}
NOT_FOUND = {"error": "Not Found", "code": 6}
FUNCTION_NOT_FOUND = {"error": "Function Not Found", "code": 13}
TORCH = "/opt/torch/.venv/bin/python3"  # the process of the load recording, as nvidia-smi names it


def real(kind: str = "load") -> dict[str, Any]:
    return json.loads((FIXTURES / f"nvml-{kind}.json").read_text(encoding="utf-8"))


def ok(value: Any) -> dict[str, Any]:
    return {"ok": value}


def _device(data: dict[str, Any]) -> dict[str, Any]:
    return data["devices"][0]


def init_failure(code: int, text: str) -> Callable[[], dict[str, Any]]:
    """nvmlInit failed: what `mlobs gpu record` writes on such a machine."""
    def make() -> dict[str, Any]:
        return {"captured_at": "2026-11-26T09:00:00Z", "system": {"init": {"error": text, "code": code}},
                "devices": []}
    return make


def eight_gpus_one_lost() -> dict[str, Any]:
    """An 8-GPU node: GPU 3 fell off the bus (its handle answers GpuIsLost), the others are the loaded H200."""
    data = real()
    base = _device(data)
    devices = []
    for i in range(8):
        d = copy.deepcopy(base)
        d["nvmlDeviceGetIndex"] = ok(i)
        d["nvmlDeviceGetUUID"] = ok(UUID[:-1] + str(i))
        d["nvmlDeviceGetPciInfo_v3"]["ok"]["busId"] = f"00000000:{0x18 + i:02X}:00.0"
        devices.append(d)
    devices[3] = {"nvmlDeviceGetHandleByIndex": {"error": "GPU is lost", "code": 15}}
    data["devices"] = devices
    data["system"]["device_count"] = ok(8)
    return data


def lost_mid_read() -> dict[str, Any]:
    """The handle was got, then the GPU was lost: NVML answers Unknown Error from the memory read on."""
    data = real()
    d = _device(data)
    for key in ("memory_info_v2", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates"):
        d[key] = {"error": "Unknown Error", "code": 999}
    return data


def edit(kind: str, **changes: Any) -> Callable[[], dict[str, Any]]:
    """The real recording with these answers of its device replaced (`None`: the read removed)."""
    def make() -> dict[str, Any]:
        data = real(kind)
        d = _device(data)
        for key, value in changes.items():
            key = key.replace("__", ":")
            if value is None:
                d.pop(key, None)
            else:
                d[key] = value
        return data
    return make


def mig_enabled() -> dict[str, Any]:
    """MIG on, two instances (slots 0 and 1 of 7), utilization NotSupported as NVML answers under MIG."""
    data = edit("load", nvmlDeviceGetMigMode=ok([1, 1]), nvmlDeviceGetMaxMigDeviceCount=ok(7),
                nvmlDeviceGetUtilizationRates=NOT_SUPPORTED)()
    d = _device(data)
    for slot in range(7):
        d[f"mig_device:{slot}"] = ok(None) if slot < 2 else NOT_FOUND
    for slot, (gi, used) in enumerate([(1, 20 << 30), (2, 1 << 30)]):
        prefix = f"mig_device:{slot}:"
        d[prefix + "nvmlDeviceGetUUID"] = ok(f"MIG-0b6d7d61-7b5e-5b4f-9c2e-00000000000{slot}")
        d[prefix + "nvmlDeviceGetName"] = ok("NVIDIA H200 MIG 3g.71gb")
        d[prefix + "nvmlDeviceGetGpuInstanceId"] = ok(gi)
        d[prefix + "nvmlDeviceGetComputeInstanceId"] = ok(0)
        d[prefix + "nvmlDeviceGetMemoryInfo"] = ok({"total": 71 << 30, "free": (71 << 30) - used, "used": used})
    d["nvmlDeviceGetComputeRunningProcesses"]["ok"][0]["gpuInstanceId"] = 1
    d["nvmlDeviceGetComputeRunningProcesses"]["ok"][0]["computeInstanceId"] = 0
    return data


def processes(entry: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """The load recording with what /proc and NVML said of its process 424."""
    def make() -> dict[str, Any]:
        data = real()
        data["processes"] = {"424": entry}
        return data
    return make


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "no-driver": init_failure(12, "NVML Shared Library Not Found"),
    "driver-not-loaded": init_failure(9, "Driver Not Loaded"),
    "version-mismatch": init_failure(18, "RM has detected an NVML/RM version mismatch."),
    "no-permission": init_failure(4, "Insufficient Permissions"),
    "eight-gpus-one-lost": eight_gpus_one_lost,
    "lost-mid-read": lost_mid_read,
    "ecc-errors": edit("load", ecc_total__uncorrected__volatile=ok(2), ecc_total__uncorrected__aggregate=ok(2),
                       ecc_total__corrected__volatile=ok(15)),
    "pending-remap": edit("load", nvmlDeviceGetRemappedRows=ok([0, 1, 1, 0])),
    "remap-failure": edit("load", nvmlDeviceGetRemappedRows=ok([0, 3, 0, 1])),
    "thermal-slowdown": edit("load", temperature_gpu=ok(90), nvmlDeviceGetCurrentClocksEventReasons=ok(0x44),
                             nvmlDeviceGetCurrentClocksThrottleReasons=ok(0x44), clock__NVML_CLOCK_SM=ok(1110)),
    "pcie-downgraded": edit("load", nvmlDeviceGetCurrPcieLinkWidth=ok(8), nvmlDeviceGetCurrPcieLinkGeneration=ok(3)),
    "mig-enabled": mig_enabled,
    "other-pid-namespace": processes({"nvmlSystemGetProcessName": ok(TORCH),
                                      "cmdline": {"error": "not visible from this PID namespace", "errno": 3}}),
    "pid-reused-in-container": processes({"nvmlSystemGetProcessName": ok(TORCH),
                                          "cmdline": ok(["/bin/sh", "-c", "sleep infinity"]), "environ": ok({})}),
    "vllm-process": processes({"nvmlSystemGetProcessName": ok(TORCH),
                               "cmdline": ok([TORCH, "-m", "vllm.entrypoints.openai.api_server", "--model",
                                              "meta-llama/Llama-3.1-8B-Instruct", "--port", "8000"]),
                               "environ": ok({"SERVED_MODEL_NAME": "llama-8b-prod"})}),
    "old-driver": edit("load", memory_info_v2=FUNCTION_NOT_FOUND,
                       nvmlDeviceGetCurrentClocksEventReasons=FUNCTION_NOT_FOUND),
    "xid": edit("load", xid_event_wait=ok([{"eventType": 8, "eventData": 79, "gpuInstanceId": 4294967295}])),
    "corrupted-inforom": edit("idle", nvmlDeviceGetEccMode={"error": "Corrupted infoROM", "code": 14}),
    "persistence-off": edit("idle", nvmlDeviceGetPersistenceMode=ok(0)),
    "consumer-card": edit("idle", nvmlDeviceGetPowerUsage=NOT_SUPPORTED, nvmlDeviceGetEnforcedPowerLimit=NOT_SUPPORTED,
                          nvmlDeviceGetEccMode=NOT_SUPPORTED, ecc_total__uncorrected__volatile=NOT_SUPPORTED,
                          ecc_total__uncorrected__aggregate=NOT_SUPPORTED, nvmlDeviceGetRemappedRows=NOT_SUPPORTED,
                          nvmlDeviceGetComputeRunningProcesses=NOT_SUPPORTED,
                          nvmlDeviceGetGraphicsRunningProcesses=NOT_SUPPORTED),
}


def scenario(name: str, directory: Path) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(SCENARIOS[name](), indent=1), encoding="utf-8")
    return path
