"""NVML answers (live or replayed: source.py) -> the typed snapshot of every GPU (report.py).

One failing GPU never stops the report (gpustat's InvalidGPU): a GPU whose handle cannot be got, or that NVML
calls lost on any read, becomes a row with `error` set. One NotSupported never aborts either: the field is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlobs_cli.errors import BackendUnavailable, InputError
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
    RetiredPages,
    Temperature,
)
from mlobs_cli.gpu.source import HANDLE_KEY, XID_KEY, NotRecorded, Source, scrub_command
from mlobs_cli.results import BackendError

# NVML return codes (nvml.h): stable across releases, so no pynvml import is needed to name them
NO_PERMISSION, NOT_FOUND, DRIVER_NOT_LOADED, TIMEOUT, LIBRARY_NOT_FOUND, FUNCTION_NOT_FOUND = 4, 6, 9, 10, 12, 13
NOT_SUPPORTED, GPU_IS_LOST, LIB_RM_VERSION_MISMATCH, NO_DATA, UNKNOWN = 3, 15, 18, 21, 999
UNKNOWN_FIELD = {NOT_SUPPORTED, NOT_FOUND, FUNCTION_NOT_FOUND, NO_PERMISSION, NO_DATA}  # the field is n/a
LOST = {GPU_IS_LOST, UNKNOWN}
NOT_AVAILABLE = 0xFFFFFFFF  # NVML's "no value" of an unsigned int (a process's GPU instance without MIG)

INIT_MESSAGES = {
    LIBRARY_NOT_FOUND: "NVML not found: no NVIDIA driver is installed here (libnvidia-ml.so.1 is missing); in a "
                       "container, run it with the NVIDIA container toolkit (--gpus all)",
    DRIVER_NOT_LOADED: "the NVIDIA driver is not loaded: the kernel module is not running (check `lsmod | grep "
                       "nvidia` and dmesg)",
    LIB_RM_VERSION_MISMATCH: "NVIDIA driver/library version mismatch: the loaded kernel module and libnvidia-ml "
                             "differ, usually after a driver upgrade without a reboot: reboot the node or reload "
                             "the nvidia modules",
    NO_PERMISSION: "no permission to use NVML: this user cannot open /dev/nvidiactl and /dev/nvidia*",
}


def init_error(error: Any) -> BackendUnavailable:
    """The one line that says why NVML cannot be used at all (exit 3)."""
    code = getattr(error, "value", None)
    return BackendUnavailable(INIT_MESSAGES.get(code, f"NVML cannot be used: {error}"))


@dataclass
class Snapshot:
    gpus: list[Gpu] = field(default_factory=list)
    errors: list[BackendError] = field(default_factory=list)
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    nvml_version: str | None = None


class GpuLost(Exception):
    """NVML answered GpuIsLost or Unknown on a read of this GPU."""


class _Reads:
    """The reads of one GPU (or one MIG device, by `prefix`): a field NVML does not answer is None."""

    def __init__(self, source: Source, index: int, errors: list[BackendError], prefix: str = "") -> None:
        self.source, self.index, self.errors, self.prefix = source, index, errors, prefix

    def get(self, key: str) -> Any:
        import pynvml

        try:
            return self.source.device(self.index, self.prefix + key)
        except NotRecorded:
            return None
        except pynvml.NVMLError as e:
            if e.value in LOST:
                raise GpuLost(str(e)) from None
            if e.value not in UNKNOWN_FIELD | {TIMEOUT}:
                self.errors.append(BackendError("nvml", f"GPU {self.index}: {self.prefix + key}: {e}"))
            return None

    def answers(self, key: str) -> bool:
        """Whether NVML answers this read without an error (a MIG slot that holds a device)."""
        import pynvml

        try:
            self.source.device(self.index, self.prefix + key)
        except (NotRecorded, pynvml.NVMLError):
            return False
        return True

    def first(self, *keys: str) -> tuple[str | None, Any]:
        """The first of `keys` NVML answers, and which (newer calls first, older as fallback)."""
        for key in keys:
            value = self.get(key)
            if value is not None:
                return key, value
        return None, None


def start(source: Source) -> None:
    """Initialize NVML.

    Raises:
        BackendUnavailable: NVML cannot be used at all: no driver, driver not loaded, driver/library version
            mismatch, no permission (one line that says which).
    """
    import pynvml

    try:
        source.init()
    except pynvml.NVMLError as e:
        raise init_error(e) from None


MAX_DEVICES = 64  # NVML's own limit per machine is lower; a count above it is a broken or hostile recording


def read(source: Source, select: Sequence[str], models: ModelMap) -> Snapshot:
    """Read the GPUs `select` names (indexes or UUIDs; empty: all) from a started NVML source.

    Raises:
        BackendUnavailable: NVML cannot count the GPUs, or there is none.
        InputError: `select` names a GPU that is not there.
    """
    import pynvml

    try:
        count = source.system("device_count")
    except pynvml.NVMLError as e:
        raise init_error(e) from None
    except NotRecorded:
        raise InputError("the recording has no `system.device_count`: not a recording of NVML") from None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise InputError(f"the recording's `system.device_count` is {count!r}: not a number of GPUs")
    if count > MAX_DEVICES:  # a recording may claim anything; reading a billion GPUs would hang, not answer
        raise InputError(f"the recording's `system.device_count` is {count}: more GPUs than one machine has "
                         f"(at most {MAX_DEVICES})")
    if not count:
        raise BackendUnavailable("NVML sees no GPU on this machine")
    snap = Snapshot(driver_version=_system(source, "driver"), nvml_version=_system(source, "nvml"))
    cuda = _system(source, "cuda_driver")
    snap.cuda_driver_version = None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}"
    indexes = _selected(source, count, select)
    reads = {i: _Reads(source, i, snap.errors) for i in indexes}
    gpus = {i: _gpu(reads[i], models) for i in indexes}
    for i, gpu in gpus.items():  # after every handle is got: one wait for XID events serves all GPUs
        if gpu.error is None:
            gpus[i] = _with_xid(gpu, reads[i])
    snap.gpus = list(gpus.values())
    return snap


def _system(source: Source, key: str) -> Any:
    import pynvml

    try:
        return source.system(key)
    except (pynvml.NVMLError, NotRecorded):
        return None


def _selected(source: Source, count: int, select: Sequence[str]) -> list[int]:
    if not select:
        return list(range(count))
    uuids: dict[int, str | None] = {}
    chosen = []
    for wanted in select:
        if wanted.isdigit():
            if int(wanted) >= count:
                raise InputError(f"--gpu {wanted}: there is no such GPU here (indexes 0 to {count - 1})")
            chosen.append(int(wanted))
            continue
        if not uuids:
            uuids = {i: _uuid(source, i) for i in range(count)}
        match = [i for i, u in uuids.items() if u and (u == wanted or u.startswith(wanted))]
        if len(match) != 1:
            raise InputError(f"--gpu {wanted}: {'no' if not match else 'more than one'} GPU has this UUID")
        chosen.append(match[0])
    return sorted(set(chosen))


def _uuid(source: Source, index: int) -> str | None:
    try:
        return _Reads(source, index, []).get("nvmlDeviceGetUUID")
    except GpuLost:
        return None


def _gpu(r: _Reads, models: ModelMap) -> Gpu:
    import pynvml

    try:
        r.source.device(r.index, HANDLE_KEY)
    except pynvml.NVMLError as e:
        if e.value not in LOST:  # a lost GPU is a finding; one that cannot be read leaves the result incomplete
            r.errors.append(BackendError("nvml", f"GPU {r.index}: cannot get its NVML handle: {e}"))
        return Gpu(r.index, error=f"cannot get its NVML handle: {e}", lost=e.value in LOST)
    name = uuid = None
    try:
        name, uuid = r.get("nvmlDeviceGetName"), r.get("nvmlDeviceGetUUID")
        return _read_gpu(r, name, uuid, models)
    except GpuLost as e:
        return Gpu(r.index, name=name, uuid=uuid, error=f"NVML: {e}", lost=True)


def _read_gpu(r: _Reads, name: str | None, uuid: str | None, models: ModelMap) -> Gpu:
    notes = []
    util = r.get("nvmlDeviceGetUtilizationRates") or {}
    mem_key, mem = r.first("memory_info_v2", "nvmlDeviceGetMemoryInfo")
    if mem_key == "nvmlDeviceGetMemoryInfo":
        notes.append("memory: NVML memory v1 (driver < 510): `used` includes reserved memory")
    mem = mem or {}
    _, reasons = r.first("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
    power, limit = r.get("nvmlDeviceGetPowerUsage"), r.get("nvmlDeviceGetEnforcedPowerLimit")
    ecc_mode = r.get("nvmlDeviceGetEccMode")
    rows = r.get("nvmlDeviceGetRemappedRows")
    sbe, dbe = r.get("retired_pages:sbe"), r.get("retired_pages:dbe")
    pci = r.get("nvmlDeviceGetPciInfo_v3") or r.get("nvmlDeviceGetPciInfo") or {}
    persistence = r.get("nvmlDeviceGetPersistenceMode")
    return Gpu(
        index=r.index, name=name, uuid=uuid, pci_bus_id=pci.get("busId"),
        utilization_gpu=util.get("gpu"), utilization_memory=util.get("memory"),
        memory=Memory(total=mem.get("total"), used=mem.get("used"), reserved=mem.get("reserved"),
                      free=mem.get("free"), api={"memory_info_v2": "v2", None: None}.get(mem_key, "v1")),
        temperature=Temperature(
            gpu=r.get("temperature_gpu"),
            slowdown=r.get("temperature_threshold:NVML_TEMPERATURE_THRESHOLD_SLOWDOWN"),
            shutdown=r.get("temperature_threshold:NVML_TEMPERATURE_THRESHOLD_SHUTDOWN")),
        power=Power(draw_w=None if power is None else power / 1000, limit_w=None if limit is None else limit / 1000),
        clocks=Clocks(sm_mhz=r.get("clock:NVML_CLOCK_SM"), sm_max_mhz=r.get("max_clock:NVML_CLOCK_SM"),
                      memory_mhz=r.get("clock:NVML_CLOCK_MEM"), memory_max_mhz=r.get("max_clock:NVML_CLOCK_MEM"),
                      event_reasons=reasons),
        performance_state=r.get("nvmlDeviceGetPerformanceState"),
        persistence_mode=None if persistence is None else bool(persistence),
        ecc=Ecc(enabled=None if ecc_mode is None else bool(ecc_mode[0]),
                pending=None if ecc_mode is None else bool(ecc_mode[1]),
                corrected_volatile=r.get("ecc_total:corrected:volatile"),
                corrected_aggregate=r.get("ecc_total:corrected:aggregate"),
                uncorrected_volatile=r.get("ecc_total:uncorrected:volatile"),
                uncorrected_aggregate=r.get("ecc_total:uncorrected:aggregate")),
        remapped_rows=RemappedRows() if rows is None else RemappedRows(
            corrected=rows[0], uncorrected=rows[1], pending=bool(rows[2]), failure=bool(rows[3])),
        retired_pages=RetiredPages(single_bit=None if sbe is None else len(sbe),
                                   double_bit=None if dbe is None else len(dbe),
                                   pending=_flag(r.get("nvmlDeviceGetRetiredPagesPendingStatus"))),
        pcie=Pcie(generation=r.get("nvmlDeviceGetCurrPcieLinkGeneration"),
                  generation_max=r.get("nvmlDeviceGetMaxPcieLinkGeneration"),
                  width=r.get("nvmlDeviceGetCurrPcieLinkWidth"), width_max=r.get("nvmlDeviceGetMaxPcieLinkWidth"),
                  replay_count=r.get("nvmlDeviceGetPcieReplayCounter")),
        mig=_mig(r),
        processes=_processes(r, models),
        notes=tuple(notes),
    )


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _mig(r: _Reads) -> Mig:
    mode = r.get("nvmlDeviceGetMigMode")
    if mode is None:
        return Mig()
    instances = []
    if mode[0]:
        for slot in range(r.get("nvmlDeviceGetMaxMigDeviceCount") or 0):
            if not r.answers(f"mig_device:{slot}"):
                continue  # NotFound: an empty slot
            sub = _Reads(r.source, r.index, r.errors, prefix=f"mig_device:{slot}:")
            mem = sub.get("nvmlDeviceGetMemoryInfo") or {}
            instances.append(MigInstance(
                index=slot, uuid=sub.get("nvmlDeviceGetUUID"), name=sub.get("nvmlDeviceGetName"),
                gpu_instance_id=sub.get("nvmlDeviceGetGpuInstanceId"),
                compute_instance_id=sub.get("nvmlDeviceGetComputeInstanceId"),
                memory_total=mem.get("total"), memory_used=mem.get("used")))
    return Mig(enabled=bool(mode[0]), pending=bool(mode[1]), instances=tuple(instances))


def _processes(r: _Reads, models: ModelMap) -> tuple[GpuProcess, ...] | None:
    compute = r.get("nvmlDeviceGetComputeRunningProcesses")
    graphics = r.get("nvmlDeviceGetGraphicsRunningProcesses")
    if compute is None and graphics is None:
        return None
    seen: dict[int, GpuProcess] = {}
    for p in (compute or []) + (graphics or []):
        pid = p["pid"]
        if pid in seen:  # a process with both a compute and a graphics context
            continue
        instance = p.get("gpuInstanceId")
        seen[pid] = _process(r.source, pid, p.get("usedGpuMemory"), models,
                             None if instance in (None, NOT_AVAILABLE) else instance)
    return tuple(seen.values())


def _process(source: Source, pid: int, used: int | None, models: ModelMap, instance: int | None) -> GpuProcess:
    """A GPU process as far as this PID namespace sees it. NVML reports host PIDs: inside a container without
    the host's PID namespace they do not resolve, and the process is shown as not visible, never dropped
    (gpustat #117). Where a PID resolves to a process whose command is not the one NVML names, it is another
    process that happens to have that PID in this namespace: not visible either."""
    import pynvml

    def ask(key: str) -> Any:
        try:
            return source.process(pid, key)
        except (pynvml.NVMLError, NotRecorded, OSError):  # e.g. the process exited after its cmdline was read
            return None

    name = ask("nvmlSystemGetProcessName")
    try:
        command = source.process(pid, "cmdline")
        visible: bool | None = True
    except ProcessLookupError:
        command, visible = None, False
    except PermissionError:
        command, visible = None, True
    except (NotRecorded, OSError):  # recorded without /proc, or /proc would not say
        command, visible = None, None
    if command and name and not _same_program(name, command[0]):
        command, visible = None, False
    environ = ask("environ") if visible else None
    # scrubbed again: a recording made by another tool, or an older mlobs, may hold the secrets
    return GpuProcess(pid=pid, name=name, command=" ".join(scrub_command(command)) if command else None,
                      visible=visible,
                      used_memory=used, model=models.model(command, environ) if visible else None,
                      gpu_instance_id=instance)


def _same_program(nvml_name: str, argv0: str) -> bool:
    def base(path: str) -> str:
        return path.rsplit("/", 1)[-1]

    return nvml_name == argv0 or base(nvml_name) == base(argv0) or base(nvml_name).startswith(base(argv0))


def _with_xid(gpu: Gpu, r: _Reads) -> Gpu:
    import dataclasses

    import pynvml

    try:
        events = r.source.device(r.index, XID_KEY)
    except NotRecorded:
        return gpu
    except pynvml.NVMLError as e:
        if e.value == TIMEOUT:  # the wait ended without an event: none, not a failure
            return dataclasses.replace(gpu, xid_events=())
        return gpu
    if isinstance(events, dict):
        events = [events]
    return dataclasses.replace(gpu, xid_events=tuple(int(e["eventData"]) for e in events))
