"""What is wrong with each GPU, and what to do: findings with a severity (info < warn < alert) and an action.

The seed's thresholds (observability-design.md, "Core Metrics Catalog"): utilization < 30% warn, > 95% alert,
memory > 90% alert; configurable as gpu.utilization_low, gpu.utilization_high and gpu.memory_high. The rest is
hardware health, where NVML's own limits are the thresholds. A field that is unknown (None) judges nothing.
Each check is one function of a Gpu; CHECKS lists them, and docs/gpu.md documents each by its name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlobs_cli.gpu.report import Gpu
from mlobs_cli.results import Finding

THROTTLE_ALERT = {0x8: "hardware slowdown", 0x20: "software thermal slowdown", 0x40: "hardware thermal slowdown",
                  0x80: "hardware power brake"}
SW_POWER_CAP = 0x4


@dataclass(frozen=True, slots=True)
class Thresholds:
    utilization_low: float = 30.0  # percent: below, the GPU is underused (warn)
    utilization_high: float = 95.0  # percent: above, it is saturated (alert)
    memory_high: float = 90.0  # percent of memory used (alert)
    temperature_margin: float = 5.0  # degrees C under the slowdown threshold (warn)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Thresholds:
        """From settings keyed `gpu.<field>`."""
        return cls(**{name: float(values[f"gpu.{name}"]) for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


Check = Callable[[Gpu, Thresholds], Iterator[tuple[str, str]]]  # -> (severity, message)


def lost(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    if g.lost:
        yield "alert", f"{g.error}: drain the node and reset the GPU (nvidia-smi -r) or replace it"
    elif g.error:
        yield "warn", f"cannot be read ({g.error}): check the device permissions and the driver"


def utilization(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    u = g.utilization_gpu
    if u is None:
        return
    if u > t.utilization_high:
        yield "alert", (f"utilization {u:g}% > {t.utilization_high:g}%: saturated; expect queueing, scale out or "
                        "lower the batch size")
    elif u < t.utilization_low:
        yield "warn", f"utilization {u:g}% < {t.utilization_low:g}%: underused; consider scaling down"


def memory(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    used = g.memory.used_percent
    if used is not None and used > t.memory_high:
        yield "alert", (f"memory {used:.1f}% used > {t.memory_high:g}%: out-of-memory errors are near; lower the "
                        "batch size or KV-cache share, or move a model off this GPU")


def throttling(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    mask = g.clocks.event_reasons
    if mask is None:
        return
    clocks = _clocks(g)
    hard = [name for bit, name in THROTTLE_ALERT.items() if mask & bit]
    if hard:
        yield "alert", (f"clocks held down by {', '.join(hard)}{clocks}: check cooling, airflow and the power "
                        "supply (nvidia-smi -q -d PERFORMANCE)")
    elif mask & SW_POWER_CAP:
        power = f" ({g.power.draw_w:.0f} of {g.power.limit_w:.0f} W)" if g.power.draw_w and g.power.limit_w else ""
        yield "warn", (f"software power cap{power}{clocks}: the GPU runs at its power limit; raise the limit if "
                       "the board allows it (nvidia-smi -pl), or expect lower throughput")


def _clocks(g: Gpu) -> str:
    c = g.clocks
    return f", SM clock {c.sm_mhz} of {c.sm_max_mhz} MHz" if c.sm_mhz and c.sm_max_mhz else ""


def temperature(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    temp, slowdown = g.temperature.gpu, g.temperature.slowdown
    if temp is None or slowdown is None:
        return
    if temp >= slowdown:
        yield "alert", f"{temp} C, at the slowdown threshold ({slowdown} C): clocks drop; check cooling now"
    elif temp >= slowdown - t.temperature_margin:
        yield "warn", f"{temp} C, within {t.temperature_margin:g} C of slowdown ({slowdown} C): check cooling"


def ecc(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    vol, agg = g.ecc.uncorrected_volatile, g.ecc.uncorrected_aggregate
    if vol:
        yield "alert", (f"{vol} uncorrectable ECC error(s) since the driver loaded: drain the node and reset the "
                        "GPU")
    elif agg:
        yield "alert", (f"{agg} uncorrectable ECC error(s) over the GPU's life: drain the node, reset the GPU, "
                        "and replace it if they come back")


def remapped_rows(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    rows = g.remapped_rows
    if rows.failure:
        yield "alert", "a memory row could not be remapped: drain the node and replace the GPU"
    if rows.pending:
        yield "alert", "a memory row remap is pending: drain the node and reset the GPU to apply it"


def retired_pages(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    if g.retired_pages.pending:
        yield "alert", "a memory page retirement is pending: drain the node and reset the GPU to apply it"


def pcie(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    p = g.pcie
    if p.width is not None and p.width_max and p.width < p.width_max:
        yield "warn", (f"PCIe link x{p.width} of x{p.width_max}: a bad riser or seating; reseat the GPU or move it "
                       "to another slot")
    # an idle link drops its generation to save power: only a busy GPU's generation tells
    busy = g.utilization_gpu is not None and g.utilization_gpu >= t.utilization_low
    if busy and p.generation is not None and p.generation_max and p.generation < p.generation_max:
        yield "warn", (f"PCIe gen {p.generation} of {p.generation_max} under load: host transfers are slower; "
                       "check the slot and BIOS link settings")


def persistence(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    if g.persistence_mode is False:
        yield "info", ("persistence mode off: each first NVML or CUDA call re-initializes the GPU (seconds); "
                       "enable nvidia-persistenced")


def mig(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    if g.mig.enabled is not None and g.mig.pending is not None and g.mig.enabled != g.mig.pending:
        state = "on" if g.mig.pending else "off"
        yield "warn", f"MIG mode {state} is pending: reset the GPU to apply it"


def xid(g: Gpu, t: Thresholds) -> Iterator[tuple[str, str]]:
    if g.xid_events:
        codes = ", ".join(str(x) for x in sorted(set(g.xid_events)))
        yield "alert", f"XID critical error(s) {codes}: look them up in NVIDIA's XID catalog; drain the node"


CHECKS: dict[str, Check] = {
    "gpu/lost": lost, "gpu/utilization": utilization, "gpu/memory": memory, "gpu/throttling": throttling,
    "gpu/temperature": temperature, "gpu/ecc": ecc, "gpu/remapped-rows": remapped_rows,
    "gpu/retired-pages": retired_pages, "gpu/pcie": pcie, "gpu/persistence": persistence, "gpu/mig": mig,
    "gpu/xid": xid,
}


@dataclass(frozen=True, slots=True)
class GpuFinding(Finding):
    """A finding about one GPU, named by index and by UUID: the index changes across reboots, the UUID is what
    DCGM, NVML and the fleet's inventory use."""

    index: int | None = None
    uuid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**Finding.to_dict(self), "index": self.index, "uuid": self.uuid}


def judge(gpus: tuple[Gpu, ...], thresholds: Thresholds) -> tuple[Finding, ...]:
    """Every finding of every GPU: in GPU order, then in the order of CHECKS."""
    return tuple(GpuFinding(name, severity, g.label, message, g.index, g.uuid)
                 for g in gpus for name, check in CHECKS.items() for severity, message in check(g, thresholds))
