"""The NVML surface mlobs reads, behind one small interface, in three forms: live over pynvml, a replay of a
recording, and a recorder that wraps the live one and writes what it answered.

Every read is named by a key of the recording format (../shared/fixtures/nvml-h200/README.md): the name of a
pynvml function called with the device handle alone (`nvmlDeviceGetPowerUsage`), or a call with arguments spelled
`kind:argument` (`clock:NVML_CLOCK_SM`, `ecc_total:uncorrected:volatile`, `mig_device:2:nvmlDeviceGetUUID`).
Answers are plain JSON values (structs become objects of their fields), so the code that turns them into a
snapshot (read.py) is the same for a live GPU and a recording, and a failure a recording holds raises the real
pynvml exception type (`pynvml.NVMLError(code)` maps a code to its subclass without a driver).

What mlobs adds to the format: `system.init` (the answer of nvmlInit, so that "no driver" can be recorded), an
optional `nvmlDeviceGetHandleByIndex` per device (a lost GPU), `mig_device:J[:key]` reads, `xid_event_wait` as a
list of events, and `processes.<pid>` with `nvmlSystemGetProcessName`, `cmdline` (from /proc) and `environ` (only
the variables named by `gpu.model_env`: never the whole environment, which holds secrets). An OS error is
recorded as `{"error": text, "errno": n}`.
"""

from __future__ import annotations

import ctypes
import errno
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlobs_cli import __version__
from mlobs_cli.errors import InputError

XID_KEY = "xid_event_wait"
HANDLE_KEY = "nvmlDeviceGetHandleByIndex"
# Answers that do not change while the driver stays loaded: a live source asks NVML once (--watch asks the rest
# every interval).
STATIC = frozenset({"nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo",
                    "max_clock:NVML_CLOCK_SM", "max_clock:NVML_CLOCK_MEM", "nvmlDeviceGetMaxPcieLinkGeneration",
                    "nvmlDeviceGetMaxPcieLinkWidth", "nvmlDeviceGetMaxMigDeviceCount",
                    "temperature_threshold:NVML_TEMPERATURE_THRESHOLD_SLOWDOWN",
                    "temperature_threshold:NVML_TEMPERATURE_THRESHOLD_SHUTDOWN"})


# Words of a command-line flag whose value is a secret (`--api-key`, `--hf-token`, `--db-password=...`): a GPU
# process's command line is shown and recorded, its secrets never are. Whole words only: `--tokenizer` is a path.
SECRET_WORDS = frozenset({"key", "token", "secret", "password", "passwd", "credential", "credentials", "auth",
                          "authorization", "apikey", "bearer", "pat", "cookie", "session"})
MASK = "****"
# a URL's user info: `user:password@` keeps the user, a bare `TOKEN@` (GitHub's, Hugging Face's) is all secret
_URL_USERINFO = re.compile(r"(://)([^/@:\s]*)(:[^@/\s]*)?@")
_QUERY_PARAM = re.compile(r"([?&;])([^=&#\s]+)=([^&#\s]*)")
_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _secret_name(name: str) -> bool:
    """A name made of words, one of them secret: `api-key`, `apiKey`, `HF_TOKEN`, `db.password`."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.lstrip("-"))
    return bool(SECRET_WORDS & set(re.split(r"[-_.]", spaced.lower())))


def _secret_flag(flag: str) -> bool:
    return flag.startswith("-") and _secret_name(flag)


def _scrub_text(arg: str) -> str:
    arg = _URL_USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@" if m[3] else f"{m[1]}{MASK}@", arg)
    return _QUERY_PARAM.sub(lambda m: f"{m[1]}{m[2]}={MASK}" if _secret_name(m[2]) else m[0], arg)


def scrub_command(argv: Sequence[str]) -> list[str]:
    """`argv` with the value of every secret flag (`--api-key X`, `--apiKey=X`, `--auth X`), of every secret
    environment assignment (`HF_TOKEN=X`), the user info of every URL and its secret query parameters
    (`?token=X`) replaced by ****."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        flag, eq, _ = arg.partition("=")
        if hide_next and not arg.startswith("-"):
            out.append(MASK)
        elif eq and (_secret_flag(flag) or (_ENV_ASSIGNMENT.fullmatch(flag) and _secret_name(flag))):
            out.append(f"{flag}={MASK}")
        else:
            out.append(_scrub_text(arg))
        hide_next = not eq and _secret_flag(arg)
    return out


class NotRecorded(LookupError):
    """A recording has no answer for this read (made by another tool, or an older mlobs): unknown, not zero."""


class Source(Protocol):
    """What read.py needs from NVML. NVML failures raise `pynvml.NVMLError`; process reads raise OSError."""

    def init(self) -> None: ...

    def system(self, key: str) -> Any: ...

    def device(self, index: int, key: str) -> Any: ...

    def process(self, pid: int, key: str) -> Any: ...

    def close(self) -> None: ...


def plain(value: Any) -> Any:
    """A pynvml answer as JSON values: structs and pynvml's friendly objects as dicts, bytes as text."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, ctypes.Structure):
        return {name: plain(getattr(value, name)) for name, *_ in value._fields_ if not name.startswith("device")}
    if isinstance(value, ctypes._SimpleCData):
        return plain(value.value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: plain(v) for k, v in vars(value).items()}
    return value


# -- live -----------------------------------------------------------------------------------------------------

class LiveNvml:
    """NVML through pynvml (nvidia-ml-py). `model_env` names the environment variables read from /proc.

    Args:
        xid_wait_ms: How long the first read of XID events waits for one.
        model_env: Environment variables of a GPU process that may name its model.
        proc: The proc filesystem (tests of the /proc reading pass another directory).
    """

    def __init__(self, xid_wait_ms: int = 10, model_env: Sequence[str] = (), proc: Path = Path("/proc")) -> None:
        import pynvml  # ctypes only: the library itself loads in nvmlInit

        self.nv = pynvml
        self.xid_wait_ms = xid_wait_ms
        self.model_env = tuple(model_env)
        self.proc = proc
        self._handles: dict[int, Any] = {}
        self._mig: dict[tuple[int, int], Any] = {}
        self._static: dict[tuple[int, str], Any] = {}
        self._events: Any = None  # the XID event set, kept across reads (--watch) so no event falls between them
        self._registered: dict[int, int] = {}  # handle address -> GPU index
        self._pending: dict[int, list[dict[str, int]]] = {}
        self._initialized = False

    def init(self) -> None:
        self.nv.nvmlInit()
        self._initialized = True

    def close(self) -> None:
        if not self._initialized:
            return
        if self._events is not None:
            self.nv.nvmlEventSetFree(self._events)
        self.nv.nvmlShutdown()
        self._initialized = False

    def system(self, key: str) -> Any:
        nv = self.nv
        call = {"driver": nv.nvmlSystemGetDriverVersion, "nvml": nv.nvmlSystemGetNVMLVersion,
                "cuda_driver": nv.nvmlSystemGetCudaDriverVersion, "device_count": nv.nvmlDeviceGetCount}[key]
        return plain(call())

    def device(self, index: int, key: str) -> Any:
        if key == HANDLE_KEY:
            self._handle(index)
            return None
        if key == XID_KEY:
            return self._xid(index)
        if key.startswith("mig_device:"):
            parts = key.split(":", 2)  # mig_device, slot[, the read of that MIG device]
            handle = self._mig_handle(index, int(parts[1]))
            return plain(self._call(handle, parts[2])) if len(parts) == 3 else None
        if key in STATIC:
            if (index, key) not in self._static:
                self._static[index, key] = plain(self._call(self._handle(index), key))
            return self._static[index, key]
        return plain(self._call(self._handle(index), key))

    def process(self, pid: int, key: str) -> Any:
        if key == "nvmlSystemGetProcessName":
            return plain(self.nv.nvmlSystemGetProcessName(pid))
        path = self.proc / str(pid) / key
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            # a host PID that this PID namespace (a container's) cannot see
            raise ProcessLookupError(errno.ESRCH, "not visible from this PID namespace") from None
        fields = [f.decode(errors="replace") for f in raw.split(b"\0") if f]
        if key == "cmdline":
            return scrub_command(fields)  # so neither the table nor a recording holds a token
        pairs = (f.partition("=") for f in fields)
        return {name: value for name, _, value in pairs if name in self.model_env}

    def _handle(self, index: int) -> Any:
        if index not in self._handles:
            self._handles[index] = self.nv.nvmlDeviceGetHandleByIndex(index)
        return self._handles[index]

    def _mig_handle(self, index: int, slot: int) -> Any:
        if (index, slot) not in self._mig:
            self._mig[index, slot] = self.nv.nvmlDeviceGetMigDeviceHandleByIndex(self._handle(index), slot)
        return self._mig[index, slot]

    def _call(self, handle: Any, key: str) -> Any:
        nv = self.nv
        kind, _, arg = key.partition(":")
        if kind == "memory_info_v2":
            if not hasattr(nv, "nvmlMemory_v2"):  # nvidia-ml-py < 11.510: only v1
                raise nv.NVMLError(nv.NVML_ERROR_FUNCTION_NOT_FOUND)
            return nv.nvmlDeviceGetMemoryInfo(handle, version=nv.nvmlMemory_v2)
        if kind == "temperature_gpu":
            return nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)
        if kind == "temperature_threshold":
            return nv.nvmlDeviceGetTemperatureThreshold(handle, getattr(nv, arg))
        if kind in ("clock", "max_clock"):
            fn = nv.nvmlDeviceGetClockInfo if kind == "clock" else nv.nvmlDeviceGetMaxClockInfo
            return fn(handle, getattr(nv, arg))
        if kind == "ecc_total":
            error_type, counter = arg.split(":")
            return nv.nvmlDeviceGetTotalEccErrors(
                handle, getattr(nv, f"NVML_MEMORY_ERROR_TYPE_{error_type.upper()}"),
                nv.NVML_VOLATILE_ECC if counter == "volatile" else nv.NVML_AGGREGATE_ECC)
        if kind == "retired_pages":
            cause = (nv.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS if arg == "sbe"
                     else nv.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)
            return nv.nvmlDeviceGetRetiredPages(handle, cause)
        fn = getattr(nv, key, None)
        if fn is None or not key.startswith("nvmlDevice"):
            # a function this nvidia-ml-py does not have (they come and go between releases: gpustat #107)
            raise nv.NVMLError(nv.NVML_ERROR_FUNCTION_NOT_FOUND)
        return fn(handle)

    def _xid(self, index: int) -> list[dict[str, int]]:
        """The XID critical errors of GPU `index` since the last read: the first read of a round registers every
        GPU in one event set and waits `xid_wait_ms` once for all; the others take what it collected."""
        nv = self.nv
        if index not in self._pending:
            self._drain()
        if index not in self._pending:  # the GPU cannot deliver events (registration refused)
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        events = self._pending.pop(index)
        if not events:
            raise nv.NVMLError(nv.NVML_ERROR_TIMEOUT)  # as NVML answers a wait without an event
        return events

    def _drain(self) -> None:
        nv = self.nv
        if self._events is None:
            self._events = nv.nvmlEventSetCreate()
            for index, handle in list(self._handles.items()):
                try:
                    nv.nvmlDeviceRegisterEvents(handle, nv.nvmlEventTypeXidCriticalError, self._events)
                except nv.NVMLError:
                    continue
                self._registered[ctypes.cast(handle, ctypes.c_void_p).value] = index
        self._pending = {index: [] for index in self._registered.values()}
        wait = self.xid_wait_ms
        while True:
            try:
                data = nv.nvmlEventSetWait_v2(self._events, wait)
            except nv.NVMLError_Timeout:
                return
            wait = 0  # take what else is queued, without waiting again
            index = self._registered.get(ctypes.cast(data.device, ctypes.c_void_p).value)
            if index is not None:
                self._pending[index].append({"eventType": data.eventType, "eventData": data.eventData,
                                             "gpuInstanceId": data.gpuInstanceId})


# -- replay ---------------------------------------------------------------------------------------------------

class Replay:
    """A recording, answered as NVML answered when it was made."""

    def __init__(self, path: Path) -> None:
        import pynvml

        self.nv = pynvml
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise InputError(f"cannot read recording {path}: {e.strerror or e}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path} is not an NVML recording (not JSON: {e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("system"), dict) \
                or not isinstance(data.get("devices", []), list):
            raise InputError(f"{path} is not an NVML recording (no `system` object; see `mlobs gpu record`)")
        self.data = data

    @property
    def captured_at(self) -> str | None:
        return self.data.get("captured_at")

    def init(self) -> None:
        if "init" in self.data["system"]:
            self.system("init")

    def close(self) -> None:
        pass

    def system(self, key: str) -> Any:
        return self._answer(self.data["system"], key)

    def device(self, index: int, key: str) -> Any:
        devices = self.data.get("devices", [])
        if index >= len(devices) or not isinstance(devices[index], dict):
            raise self.nv.NVMLError(self.nv.NVML_ERROR_INVALID_ARGUMENT)
        if key == HANDLE_KEY and key not in devices[index]:
            return None  # recorded without it: the handle was got
        return self._answer(devices[index], key)

    def process(self, pid: int, key: str) -> Any:
        entry = self.data.get("processes", {}).get(str(pid))
        if entry is None:
            raise NotRecorded(f"process {pid}")
        return self._answer(entry, key)

    def _answer(self, entry: dict[str, Any], key: str) -> Any:
        if key not in entry:
            raise NotRecorded(key)
        answer = entry[key]
        if not isinstance(answer, dict):  # an edited recording: one clear line, not an internal error
            raise InputError(f"{self.path}: `{key}` is {answer!r}, not an answer of the recording format "
                             '({"ok": value} or {"error": text, "code": n})')
        if "ok" in answer:
            return answer["ok"]
        if "code" in answer:
            raise self.nv.NVMLError(int(answer["code"]))
        raise OSError(int(answer.get("errno", errno.EIO)), str(answer.get("error", "")))


# -- recorder -------------------------------------------------------------------------------------------------

class Recorder:
    """Wraps a live source and keeps every answer it gives, for `save()` to write as a recording."""

    def __init__(self, live: Source) -> None:
        self.live = live
        self.started = time.monotonic()
        self.data: dict[str, Any] = {
            "captured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recorded_by": f"mlobs {__version__}",
            "system": {}, "devices": [], "processes": {},
        }

    def init(self) -> None:
        self._keep(self.data["system"], "init", self.live.init)

    def close(self) -> None:
        self.live.close()

    def system(self, key: str) -> Any:
        return self._keep(self.data["system"], key, lambda: self.live.system(key))

    def device(self, index: int, key: str) -> Any:
        devices = self.data["devices"]
        while len(devices) <= index:
            devices.append({})
        return self._keep(devices[index], key, lambda: self.live.device(index, key))

    def process(self, pid: int, key: str) -> Any:
        entry = self.data["processes"].setdefault(str(pid), {})
        return self._keep(entry, key, lambda: self.live.process(pid, key))

    def save(self, path: Path) -> None:
        """Write the recording; an InputError if the file cannot be written."""
        self.data["snapshot_seconds"] = time.monotonic() - self.started
        try:
            path.write_text(json.dumps(self.data, indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise InputError(f"cannot write recording {path}: {e.strerror or e}") from None

    @staticmethod
    def _keep(entry: dict[str, Any], key: str, call: Any) -> Any:
        import pynvml

        try:
            value = call()
        except pynvml.NVMLError as e:
            entry[key] = {"error": str(e), "code": e.value}
            raise
        except OSError as e:
            entry[key] = {"error": e.strerror or str(e), "errno": e.errno}
            raise
        entry[key] = {"ok": value}
        return value
