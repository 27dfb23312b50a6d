"""The steps of `gpu status` and `gpu record`: open the source, read every GPU, judge, return the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from mlobs_cli.config import Settings, mask_secret
from mlobs_cli.errors import InputError
from mlobs_cli.gpu import judge, read
from mlobs_cli.gpu.modelmap import ModelMap
from mlobs_cli.gpu.report import Gpu, GpuReport, Source
from mlobs_cli.results import BackendError


@dataclass(frozen=True, slots=True)
class Request:
    select: tuple[str, ...] = ()  # --gpu: indexes or UUIDs (prefixes)
    replay: Path | None = None  # --replay FILE
    fleet: bool = False  # --prometheus URL (the URL itself is the setting prometheus.url)
    watch: float | None = None  # --watch SECONDS

    def check(self, output: str) -> None:
        """Raises InputError for options that do not go together."""
        if self.replay and self.fleet:
            raise InputError("--replay and --prometheus exclude each other: one source at a time")
        if self.watch is not None and output != "table":
            raise InputError("--watch redraws a table in the terminal: use it with -o table")


class Session:
    """An open source of GPU reports: NVML (live or replayed) or Prometheus. `--watch` asks it for one report per
    interval, so NVML is initialized (and the XID event set registered) once. Close it when done."""

    def __init__(self, request: Request, settings: Settings, recorder_path: Path | None = None) -> None:
        self.request, self.settings = request, settings
        self.thresholds = judge.Thresholds.from_values(settings.values)
        self.models = ModelMap.from_config(settings["gpu.models"], settings["gpu.model_env"])
        self.recorder_path = recorder_path
        self._source: Any = None
        self._client: Any = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._client is not None:
            self._client.close()

    def report(self) -> GpuReport:
        """One snapshot, judged.

        Raises:
            BackendUnavailable: NVML cannot be used at all, or Prometheus cannot be reached (exit 3).
            InputError: an unreadable recording, a --gpu that is not there.
        """
        if self.request.fleet:
            return self._fleet()
        if not self.request.replay:
            return self._snapshot()
        try:
            return self._snapshot()
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, OSError) as e:
            # a recording is a file anyone may edit: an answer of the wrong shape (a list where NVML gives a
            # number, a number too large) is a bad input, never an internal error
            raise InputError(f"{self.request.replay}: a malformed NVML recording ({type(e).__name__}: "
                             f"{str(e)[:200]})") from e

    def _snapshot(self) -> GpuReport:
        snap = read.read(self._nvml(), self.request.select, self.models)
        source = Source("nvml")
        if self.request.replay:
            source = Source("replay", str(self.request.replay), self._source.captured_at)
        return self._judged(source, tuple(snap.gpus), snap.errors, driver_version=snap.driver_version,
                            cuda_driver_version=snap.cuda_driver_version, nvml_version=snap.nvml_version)

    def _nvml(self) -> Any:
        if self._source is None:
            from mlobs_cli.gpu import source

            s = self.settings
            if self.request.replay:
                self._source = source.Replay(self.request.replay)
            else:
                live = source.LiveNvml(xid_wait_ms=s["gpu.xid_wait_ms"], model_env=s["gpu.model_env"])
                self._source = source.Recorder(live) if self.recorder_path else live
            read.start(self._source)
        return self._source

    def _fleet(self) -> GpuReport:
        from datetime import UTC, datetime

        from mlobs_cli.backends.prometheus import PrometheusClient  # httpx loads only for the fleet view
        from mlobs_cli.gpu import dcgm

        if self._client is None:
            self._client = PrometheusClient.from_settings(self.settings)
        now = datetime.now(UTC)
        # the client is kept across --watch rounds: each report shows only what this round's answer said
        self._client.warnings.clear()
        self._client.partial.clear()
        gpus = dcgm.gpus(self._client.query(dcgm.QUERY, at=now), self.models)
        if self.request.select and gpus:
            chosen = tuple(g for g in gpus if any(_matches(g, wanted) for wanted in self.request.select))
            if not chosen:  # the series are there: it is the --gpu that matches none of them
                raise InputError(f"--gpu {','.join(self.request.select)}: no GPU of the fleet has this index or "
                                 "UUID")
            gpus = chosen
        # a partial answer or a warning: GPUs may be missing (exit 3)
        errors = [BackendError("prometheus", m) for m in self._client.incomplete]
        if not gpus:
            errors.append(BackendError("prometheus", "no DCGM_FI_DEV_* series in the last 5 minutes: is "
                                       "dcgm-exporter scraped by this Prometheus?"))
        source = Source("prometheus", mask_secret(self._client.url), now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._judged(source, gpus, errors)

    def _judged(self, source: Source, gpus: tuple[Gpu, ...], errors: list[BackendError], **versions: Any
                ) -> GpuReport:
        return GpuReport(source=source, gpus=gpus, thresholds=self.thresholds.to_dict(),
                         findings=judge.judge(gpus, self.thresholds), errors=tuple(errors), **versions)

    def save_recording(self) -> None:
        """`gpu record`: write what NVML answered so far (also when nvmlInit itself failed)."""
        if self._source is not None and self.recorder_path is not None:
            self._source.save(self.recorder_path)


def _matches(gpu: Gpu, wanted: str) -> bool:
    if wanted.isdigit():
        return gpu.index == int(wanted)
    return bool(gpu.uuid and gpu.uuid.startswith(wanted))


def status(request: Request, settings: Settings) -> GpuReport:
    """One judged report of `request`'s source."""
    with Session(request, settings) as session:
        return session.report()


def record(path: Path, request: Request, settings: Settings) -> GpuReport:
    """Read this machine's GPUs through NVML, keep every answer, and write them to `path` as a recording, even
    when NVML cannot be used (the recording then holds the failure, for the incident)."""
    with Session(request, settings, recorder_path=path) as session:
        try:
            return session.report()
        finally:
            session.save_recording()
