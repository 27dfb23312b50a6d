"""Every GPU of the fleet from dcgm-exporter's series in Prometheus, as the same typed snapshot as NVML gives.

One instant query fetches every series used here; they are grouped by node (`hostname`, or `Hostname` on older
exporters) and GPU (`UUID`, else `gpu`). Series of a MIG instance (`GPU_I_ID` set) become that GPU's instances.
dcgm-exporter skips a blank value rather than exporting it: a metric without a series is unknown (None), never 0.
Kubernetes pod labels (`pod`, `namespace`, `container`; older `pod_name`...; `exported_*` after relabelling) show
which pods use a GPU, and the process-to-model mapping applies to the pod's name.
"""

from __future__ import annotations

import math

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mlobs_cli.gpu.modelmap import ModelMap
from mlobs_cli.gpu.report import (
    Clocks,
    Ecc,
    Gpu,
    GpuProcess,
    Memory,
    Mig,
    MigInstance,
    Pcie,
    Power,
    RemappedRows,
    Temperature,
)

MIB = 1 << 20
# The default counters of dcgm-exporter, then the optional ones it has where an operator enabled them.
METRICS = (
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_DEV_ROW_REMAP_PENDING", "DCGM_FI_DEV_POWER_MGMT_LIMIT", "DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
    "DCGM_FI_DEV_SLOWDOWN_TEMP", "DCGM_FI_DEV_SHUTDOWN_TEMP", "DCGM_FI_DEV_MAX_SM_CLOCK",
    "DCGM_FI_DEV_MAX_MEM_CLOCK", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
    "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "DCGM_FI_DEV_PCIE_LINK_GEN", "DCGM_FI_DEV_PCIE_LINK_WIDTH",
    "DCGM_FI_DEV_PCIE_MAX_LINK_GEN", "DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH", "DCGM_FI_DEV_PSTATE",
)
QUERY = '{__name__=~"' + "|".join(METRICS) + '"}'
POD_LABELS = ("pod", "exported_pod", "pod_name")
NAMESPACE_LABELS = ("namespace", "exported_namespace", "pod_namespace")
CONTAINER_LABELS = ("container", "exported_container", "container_name")


def _label(labels: dict[str, str], names: Iterable[str]) -> str | None:
    return next((labels[n] for n in names if labels.get(n)), None)


@dataclass
class _Series:
    """The values of one GPU (or one MIG instance): metric name -> value, and the pods seen on it."""

    labels: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    pods: dict[str, str | None] = field(default_factory=dict)  # "namespace/pod" -> container

    def num(self, *names: str) -> float | None:
        return next((self.values[n] for n in names if n in self.values), None)

    def whole(self, *names: str) -> int | None:
        value = self.num(*names)
        return None if value is None else int(value)


def gpus(samples: Iterable[Any], models: ModelMap) -> tuple[Gpu, ...]:
    """`samples` (Sample(labels, time, value)) of QUERY -> one Gpu per physical GPU, by host then index."""
    devices: dict[tuple[str, str], _Series] = {}
    instances: dict[tuple[str, str], dict[str, _Series]] = {}
    for s in samples:
        labels = s.labels
        host = _label(labels, ("hostname", "Hostname")) or labels.get("instance", "")
        key = (host, labels.get("UUID") or labels.get("gpu", ""))
        series = devices.setdefault(key, _Series(labels))
        if labels.get("GPU_I_ID"):
            series = instances.setdefault(key, {}).setdefault(labels["GPU_I_ID"], _Series(labels))
        # NaN is no value; nor is ±Inf (a broken exporter's, or a hostile one's), which no GPU reads and which
        # `int()` cannot take: unknown, never an internal error
        if isinstance(s.value, float) and math.isfinite(s.value):
            series.values[labels["__name__"]] = s.value
        pod = _label(labels, POD_LABELS)
        if pod:
            namespace = _label(labels, NAMESPACE_LABELS)
            devices[key].pods[f"{namespace}/{pod}" if namespace else pod] = _label(labels, CONTAINER_LABELS)
    result = [_gpu(host, d, instances.get((host, uuid), {}), models) for (host, uuid), d in devices.items()]
    return tuple(sorted(result, key=lambda g: (g.host or "", g.index if g.index is not None else 1 << 30)))


def _gpu(host: str, d: _Series, instances: dict[str, _Series], models: ModelMap) -> Gpu:
    labels = d.labels
    used, free, reserved = (d.num(f"DCGM_FI_DEV_FB_{n}") for n in ("USED", "FREE", "RESERVED"))
    total = None if used is None or free is None else used + free + (reserved or 0)
    remap_failure, remap_pending = d.num("DCGM_FI_DEV_ROW_REMAP_FAILURE"), d.num("DCGM_FI_DEV_ROW_REMAP_PENDING")
    xid = d.whole("DCGM_FI_DEV_XID_ERRORS")
    reasons = d.whole("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")
    return Gpu(
        index=int(labels["gpu"]) if labels.get("gpu", "").isdigit() else None,
        name=labels.get("modelName"), uuid=labels.get("UUID"), host=host or None, pci_bus_id=labels.get("pci_bus_id"),
        utilization_gpu=d.num("DCGM_FI_DEV_GPU_UTIL"), utilization_memory=d.num("DCGM_FI_DEV_MEM_COPY_UTIL"),
        memory=Memory(total=_bytes(total), used=_bytes(used), reserved=_bytes(reserved), free=_bytes(free),
                      api="dcgm"),
        temperature=Temperature(gpu=d.whole("DCGM_FI_DEV_GPU_TEMP"), slowdown=d.whole("DCGM_FI_DEV_SLOWDOWN_TEMP"),
                                shutdown=d.whole("DCGM_FI_DEV_SHUTDOWN_TEMP"),
                                memory=d.whole("DCGM_FI_DEV_MEMORY_TEMP")),
        power=Power(draw_w=d.num("DCGM_FI_DEV_POWER_USAGE"),
                    limit_w=d.num("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "DCGM_FI_DEV_POWER_MGMT_LIMIT")),
        clocks=Clocks(sm_mhz=d.whole("DCGM_FI_DEV_SM_CLOCK"), sm_max_mhz=d.whole("DCGM_FI_DEV_MAX_SM_CLOCK"),
                      memory_mhz=d.whole("DCGM_FI_DEV_MEM_CLOCK"), memory_max_mhz=d.whole("DCGM_FI_DEV_MAX_MEM_CLOCK"),
                      event_reasons=reasons),
        performance_state=d.whole("DCGM_FI_DEV_PSTATE"),
        ecc=Ecc(corrected_volatile=d.whole("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"),
                corrected_aggregate=d.whole("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL"),
                uncorrected_volatile=d.whole("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"),
                uncorrected_aggregate=d.whole("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL")),
        remapped_rows=RemappedRows(
            corrected=d.whole("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS"),
            uncorrected=d.whole("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"),
            pending=None if remap_pending is None else bool(remap_pending),
            failure=None if remap_failure is None else bool(remap_failure)),
        pcie=Pcie(generation=d.whole("DCGM_FI_DEV_PCIE_LINK_GEN"), generation_max=d.whole("DCGM_FI_DEV_PCIE_MAX_LINK_GEN"),
                  width=d.whole("DCGM_FI_DEV_PCIE_LINK_WIDTH"), width_max=d.whole("DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH"),
                  replay_count=d.whole("DCGM_FI_DEV_PCIE_REPLAY_COUNTER")),
        mig=Mig(enabled=True, instances=tuple(_instance(n, s) for n, (_, s) in enumerate(sorted(
            instances.items(), key=lambda item: (len(item[0]), item[0]))))) if instances else Mig(),
        xid_events=None if xid is None else ((xid,) if xid else ()),
        processes=tuple(GpuProcess(pid=None, name=f"pod {pod}" + (f" ({container})" if container else ""),
                                   model=models.model([pod], None)) for pod, container in sorted(d.pods.items()))
        or None,
    )


def _bytes(mib: float | None) -> int | None:
    return None if mib is None else int(mib * MIB)


def _instance(position: int, s: _Series) -> MigInstance:
    active = s.num("DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    used, free = s.num("DCGM_FI_DEV_FB_USED"), s.num("DCGM_FI_DEV_FB_FREE")
    gpu_instance = s.labels["GPU_I_ID"]
    return MigInstance(index=position, name=s.labels.get("GPU_I_PROFILE"),
                       gpu_instance_id=int(gpu_instance) if gpu_instance.isdigit() else None,
                       memory_total=_bytes(None if used is None or free is None else used + free),
                       memory_used=_bytes(used), utilization_gpu=None if active is None else 100 * active)
