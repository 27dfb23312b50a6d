"""The typed result of `gpu status`: one Gpu per device (local, replayed or from the fleet's metrics).

Every field a GPU does not support, or a source does not provide, is None: unknown, never 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mlobs_cli.errors import ExitCode, combine
from mlobs_cli.results import BackendError, Finding

SEVERITIES = ("info", "warn", "alert")

# Clock-event (throttle) reason bits: nvmlClocksEventReason* (older: nvmlClocksThrottleReason*, same bits).
CLOCK_EVENTS = (
    (0x1, "gpu_idle"), (0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"), (0x8, "hw_slowdown"),
    (0x10, "sync_boost"), (0x20, "sw_thermal_slowdown"), (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"), (0x100, "display_clocks_setting"), (0x200, "board_limit"),
    (0x400, "reliability"),
)


def decode_clock_events(mask: int | None) -> tuple[str, ...] | None:
    """The names of the bits set in a clock-event reasons mask; an unknown bit as its hex value."""
    if mask is None:
        return None
    names = [name for bit, name in CLOCK_EVENTS if mask & bit]
    rest = mask & ~sum(bit for bit, _ in CLOCK_EVENTS)
    return tuple(names + ([f"0x{rest:x}"] if rest else []))


def percent(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else 100.0 * part / whole


@dataclass(frozen=True, slots=True)
class Memory:
    total: int | None = None  # bytes
    used: int | None = None  # NVML memory v2 `used` (what nvidia-smi shows); with v1 it includes `reserved`
    reserved: int | None = None
    free: int | None = None
    api: str | None = None  # "v2" | "v1" (drivers < 510: used includes reserved) | "dcgm"

    @property
    def used_percent(self) -> float | None:
        return percent(self.used, self.total)


@dataclass(frozen=True, slots=True)
class Temperature:
    gpu: int | None = None  # degrees C
    slowdown: int | None = None
    shutdown: int | None = None
    memory: int | None = None


@dataclass(frozen=True, slots=True)
class Power:
    draw_w: float | None = None
    limit_w: float | None = None  # the enforced limit


@dataclass(frozen=True, slots=True)
class Clocks:
    sm_mhz: int | None = None
    sm_max_mhz: int | None = None
    memory_mhz: int | None = None
    memory_max_mhz: int | None = None
    event_reasons: int | None = None  # the bitmask

    @property
    def events(self) -> tuple[str, ...] | None:
        return decode_clock_events(self.event_reasons)


@dataclass(frozen=True, slots=True)
class Ecc:
    enabled: bool | None = None
    pending: bool | None = None  # the mode after the next reset
    corrected_volatile: int | None = None  # since the last driver load
    corrected_aggregate: int | None = None  # over the GPU's life
    uncorrected_volatile: int | None = None
    uncorrected_aggregate: int | None = None


@dataclass(frozen=True, slots=True)
class RemappedRows:
    """Ampere and later."""

    corrected: int | None = None
    uncorrected: int | None = None
    pending: bool | None = None  # a remap waits for the next GPU reset
    failure: bool | None = None  # a row could not be remapped


@dataclass(frozen=True, slots=True)
class RetiredPages:
    """Before Ampere."""

    single_bit: int | None = None
    double_bit: int | None = None
    pending: bool | None = None


@dataclass(frozen=True, slots=True)
class Pcie:
    generation: int | None = None
    generation_max: int | None = None
    width: int | None = None
    width_max: int | None = None
    replay_count: int | None = None


@dataclass(frozen=True, slots=True)
class MigInstance:
    index: int
    uuid: str | None = None
    name: str | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    memory_total: int | None = None
    memory_used: int | None = None
    utilization_gpu: float | None = None  # DCGM_FI_PROF_GR_ENGINE_ACTIVE; NVML has none per instance


@dataclass(frozen=True, slots=True)
class Mig:
    enabled: bool | None = None
    pending: bool | None = None  # the mode after the next reset
    instances: tuple[MigInstance, ...] = ()


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process (or, from the fleet's metrics, a pod) that uses the GPU."""

    pid: int | None
    name: str | None = None  # NVML's name of the process (its executable); the pod from DCGM
    command: str | None = None  # its command line, where this PID namespace can see it
    visible: bool | None = None  # False: a host PID this container cannot see; None: not recorded
    used_memory: int | None = None  # bytes
    model: str | None = None  # from gpu.models / gpu.model_env
    gpu_instance_id: int | None = None  # MIG

    @property
    def shown_name(self) -> str:
        if self.visible is False:
            return (self.name + " " if self.name else "") + "(not visible from this container)"
        return self.command or self.name or ("(not recorded)" if self.visible is None else "n/a")


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU. `error` is set when it could not be read (lost, no permission): its other fields are unknown."""

    index: int | None
    name: str | None = None
    uuid: str | None = None
    host: str | None = None  # fleet view: the node
    pci_bus_id: str | None = None
    error: str | None = None
    lost: bool = False  # NVML GpuIsLost / Unknown: the GPU fell off the bus or hung
    utilization_gpu: float | None = None  # percent of time a kernel ran
    utilization_memory: float | None = None
    memory: Memory = field(default_factory=Memory)
    temperature: Temperature = field(default_factory=Temperature)
    power: Power = field(default_factory=Power)
    clocks: Clocks = field(default_factory=Clocks)
    performance_state: int | None = None
    persistence_mode: bool | None = None
    ecc: Ecc = field(default_factory=Ecc)
    remapped_rows: RemappedRows = field(default_factory=RemappedRows)
    retired_pages: RetiredPages = field(default_factory=RetiredPages)
    pcie: Pcie = field(default_factory=Pcie)
    mig: Mig = field(default_factory=Mig)
    xid_events: tuple[int, ...] | None = None  # XID critical errors seen during the wait; None: cannot tell
    processes: tuple[GpuProcess, ...] | None = None  # None: cannot tell
    notes: tuple[str, ...] = ()  # what the user should know about how a field was read

    @property
    def label(self) -> str:
        where = f"{self.host} " if self.host else ""
        return f"{where}GPU {self.index if self.index is not None else self.uuid}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["memory"]["used_percent"] = self.memory.used_percent
        data["clocks"]["events"] = self.clocks.events
        for p, proc in zip(data["processes"] or (), self.processes or (), strict=True):
            p["shown_name"] = proc.shown_name
        return data


@dataclass(frozen=True, slots=True)
class Source:
    """Where the GPUs were read: `nvml` (this machine), `replay` (a recording file) or `prometheus` (DCGM)."""

    kind: str
    location: str | None = None  # the recording's path, or the Prometheus URL (password masked)
    captured_at: str | None = None  # RFC 3339 UTC: when the recording was made, or the query's time


@dataclass(frozen=True, slots=True)
class GpuReport:
    source: Source
    gpus: tuple[Gpu, ...]
    thresholds: dict[str, float]
    findings: tuple[Finding, ...] = ()
    errors: tuple[BackendError, ...] = ()
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # "13.0"
    nvml_version: str | None = None

    columns = ("host", "index", "name", "uuid", "utilization_gpu", "utilization_memory", "memory_used",
               "memory_total", "memory_used_percent", "temperature", "temperature_slowdown", "power_draw_w",
               "power_limit_w", "sm_clock_mhz", "sm_clock_max_mhz", "clock_events", "performance_state",
               "ecc_uncorrected_volatile", "remapped_rows_pending", "pcie_generation", "pcie_width",
               "mig_enabled", "processes", "error")

    @property
    def complete(self) -> bool:
        return not self.errors

    def rows(self) -> list[list[Any]]:
        # the clock events joined as CSV joins a list, so Markdown (which would show a tuple's repr) reads the same
        return [[g.host, g.index, g.name, g.uuid, g.utilization_gpu, g.utilization_memory, g.memory.used,
                 g.memory.total, g.memory.used_percent, g.temperature.gpu, g.temperature.slowdown, g.power.draw_w,
                 g.power.limit_w, g.clocks.sm_mhz, g.clocks.sm_max_mhz,
                 None if g.clocks.events is None else ";".join(g.clocks.events), g.performance_state,
                 g.ecc.uncorrected_volatile, g.remapped_rows.pending, g.pcie.generation, g.pcie.width,
                 g.mig.enabled, None if g.processes is None else len(g.processes), g.error] for g in self.gpus]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": dataclasses.asdict(self.source),
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "nvml_version": self.nvml_version,
            "gpus": [g.to_dict() for g in self.gpus],
            "thresholds": dict(self.thresholds),
        }

    def exit_code(self, fail_on: str, exit_zero: bool = False) -> ExitCode:
        threshold = SEVERITIES.index(fail_on)
        failing = not exit_zero and any(SEVERITIES.index(f.severity) >= threshold for f in self.findings)
        return combine(has_findings=failing, has_backend_errors=bool(self.errors))
