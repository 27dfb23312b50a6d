"""The NVML sources: the recorder writes what replays to the same report, the live source on this machine (with
or without a GPU), and the /proc reading of GPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gpu_scenarios import FIXTURES, scenario

from mlobs_cli.gpu import read
from mlobs_cli.gpu.modelmap import ModelMap
from mlobs_cli.gpu.source import LiveNvml, Recorder, Replay


def nvml_works() -> bool:
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


HAS_GPU = nvml_works()


@pytest.mark.parametrize("name", ["eight-gpus-one-lost", "mig-enabled", "vllm-process", "old-driver"])
def test_a_recording_of_a_source_replays_to_the_same_snapshot(tmp_path, name):
    """The recorder wraps any source: here a replay, which raises the real pynvml errors a GPU would."""
    models = ModelMap.from_config({}, ["SERVED_MODEL_NAME"])
    original = Replay(scenario(name, tmp_path))
    recorder = Recorder(original)
    read.start(recorder)
    first = read.read(recorder, (), models)
    recorder.save(tmp_path / "again.json")
    again = Replay(tmp_path / "again.json")
    read.start(again)
    assert read.read(again, (), models) == first
    saved = json.loads((tmp_path / "again.json").read_text())
    assert saved["recorded_by"].startswith("mlobs ") and saved["system"]["init"] == {"ok": None}
    # only the reads mlobs makes are kept, errors as the recording format writes them
    assert set(saved["devices"][0]) < set(original.data["devices"][0]) | {"nvmlDeviceGetHandleByIndex"}


@pytest.mark.skipif(HAS_GPU, reason="this machine has a working NVIDIA driver")
def test_without_a_driver_status_says_so_in_one_line_and_exits_3(cli):
    result = cli("gpu", "status")
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == ("mlobs: error: NVML not found: no NVIDIA driver is installed here (libnvidia-ml.so.1 is "
                             "missing); in a container, run it with the NVIDIA container toolkit (--gpus all)\n")


@pytest.mark.skipif(HAS_GPU, reason="this machine has a working NVIDIA driver")
def test_without_a_driver_record_writes_why_and_the_replay_says_the_same(cli, tmp_path):
    path = tmp_path / "incident.json"
    recorded = cli("gpu", "record", path)
    assert recorded.exit_code == 3
    assert json.loads(path.read_text())["system"]["init"] == {"error": "NVML Shared Library Not Found", "code": 12}
    replayed = cli("gpu", "status", "--replay", path)
    assert (replayed.exit_code, replayed.stderr) == (3, recorded.stderr)


@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU and driver")
def test_on_a_gpu_record_then_replay_gives_the_same_gpus(cli, tmp_path):
    import pynvml

    path = tmp_path / "rec.json"
    live = cli.json("gpu", "record", path)
    replayed = cli.json("gpu", "status", "--replay", path)
    pynvml.nvmlInit()
    assert len(live["gpus"]) == pynvml.nvmlDeviceGetCount()
    pynvml.nvmlShutdown()
    assert [g["uuid"] for g in replayed["gpus"]] == [g["uuid"] for g in live["gpus"]]
    assert replayed["findings"] == live["findings"]


def test_a_record_path_that_cannot_be_written_is_a_usage_error(cli, tmp_path):
    result = cli("gpu", "record", tmp_path / "missing-dir" / "rec.json")
    assert result.exit_code == 2 and "cannot write recording" in result.stderr


def test_record_never_replaces_a_file_without_force(cli, tmp_path):
    path = tmp_path / "incident.json"
    path.write_text("the first recording\n")
    result = cli("gpu", "record", path)
    assert result.exit_code == 2 and "exists: pass --force" in result.stderr
    assert path.read_text() == "the first recording\n"
    forced = cli("gpu", "record", path, "--force")
    assert forced.exit_code in (0, 3) and path.read_text() != "the first recording\n"


CHILD = "import sys; print('ready', flush=True); sys.stdin.read()"


@pytest.fixture
def child():
    """A process with a model name and a secret in its environment."""
    env = {"PATH": os.environ["PATH"], "SERVED_MODEL_NAME": "llama-8b", "HF_TOKEN": "hf_secret"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "--model", "m"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline() == b"ready\n"  # running its code: /proc shows its command line
    yield proc
    proc.stdin.close()
    proc.wait(timeout=10)
    proc.stdout.close()


def test_proc_gives_the_command_line_and_only_the_model_variables(child):
    live = LiveNvml(model_env=["SERVED_MODEL_NAME", "MODEL_NAME"])
    assert live.process(child.pid, "cmdline") == [sys.executable, "-c", CHILD, "--model", "m"]
    assert live.process(child.pid, "environ") == {"SERVED_MODEL_NAME": "llama-8b"}


def test_proc_never_gives_a_secret_of_the_command_line(tmp_path):
    """vLLM, TGI and friends take `--api-key` on the command line: the value never reaches a table or a recording."""
    argv = [sys.executable, "-c", CHILD, "--api-key", "sk-secret", "--hf-token=hf_secret", "--tokenizer", "t/x",
            "--db", "postgresql://app:pg-secret@db/x"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        recorder = Recorder(LiveNvml())
        shown = recorder.process(proc.pid, "cmdline")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert shown == [sys.executable, "-c", CHILD, "--api-key", "****", "--hf-token=****", "--tokenizer", "t/x",
                     "--db", "postgresql://app:****@db/x"]
    recorder.save(tmp_path / "rec.json")
    assert "secret" not in (tmp_path / "rec.json").read_text()


def test_a_pid_this_namespace_cannot_see(tmp_path):
    live = LiveNvml(proc=tmp_path)  # an empty /proc: every host PID is of another namespace
    with pytest.raises(ProcessLookupError, match="not visible from this PID namespace"):
        live.process(424, "cmdline")


def test_the_recorded_process_reads_replay(tmp_path):
    """A process that /proc does not show is recorded as an OS error, and replays as the same error."""
    live = LiveNvml(proc=tmp_path)
    recorder = Recorder(live)
    with pytest.raises(ProcessLookupError):
        recorder.process(424, "cmdline")
    recorder.data["system"]["device_count"] = {"ok": 0}
    recorder.save(tmp_path / "rec.json")
    with pytest.raises(ProcessLookupError, match="not visible"):
        Replay(tmp_path / "rec.json").process(424, "cmdline")


def test_the_real_recording_raises_the_real_pynvml_errors():
    import pynvml

    replay = Replay(FIXTURES / "nvml-load.json")
    with pytest.raises(pynvml.NVMLError_NotSupported):
        replay.device(0, "nvmlDeviceGetFanSpeed")
    with pytest.raises(pynvml.NVMLError_Timeout):
        replay.device(0, "xid_event_wait")
    assert replay.device(0, "nvmlDeviceGetPowerUsage") == 693403


LIVE_KINDS = {"memory_info_v2", "temperature_gpu", "temperature_threshold", "clock", "max_clock", "ecc_total",
              "retired_pages", "xid_event_wait"}


def test_every_read_is_a_call_this_nvidia_ml_py_has(tmp_path):
    """What a recording makes mlobs read is what the live source asks pynvml: a function or constant that is
    missing (a typo, or a release that renamed it) would make a field unknown on every real GPU."""
    import pynvml

    keys: set[str] = set()
    for name in ("mig-enabled", "old-driver", "eight-gpus-one-lost"):
        recorder = Recorder(Replay(scenario(name, tmp_path)))
        read.start(recorder)
        read.read(recorder, (), ModelMap())
        keys |= {k.split(":", 2)[2] if k.startswith("mig_device:") and k.count(":") == 2 else k
                 for d in recorder.data["devices"] for k in d}
    keys -= {"nvmlDeviceGetHandleByIndex"} | {k for k in keys if k.startswith("mig_device:")}
    assert "nvmlDeviceGetCurrentClocksThrottleReasons" in keys and "nvmlDeviceGetMemoryInfo" in keys  # fallbacks
    for key in sorted(keys):
        kind, _, arg = key.partition(":")
        if key.startswith("nvmlDevice"):
            assert callable(getattr(pynvml, key, None)), key
        else:
            assert kind in LIVE_KINDS, key
            for constant in (a for a in arg.split(":") if a.startswith("NVML_")):
                assert isinstance(getattr(pynvml, constant, None), int), key


def test_pynvml_answers_become_the_json_values_of_the_recording_format():
    """The structs pynvml returns, built here without a driver, as the live source hands them to read.py."""
    import ctypes

    import pynvml

    from mlobs_cli.gpu.source import plain

    memory = pynvml.c_nvmlMemory_v2_t(version=pynvml.nvmlMemory_v2, total=150754820096, reserved=644939776,
                                      free=150109880320, used=0)
    assert plain(memory) == Replay(FIXTURES / "nvml-idle.json").device(0, "memory_info_v2")
    process = pynvml.nvmlStructToFriendlyObject(pynvml.c_nvmlProcessInfo_v3_t(
        pid=424, usedGpuMemory=44134563840, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF))
    assert plain([process]) == Replay(FIXTURES / "nvml-load.json").device(0, "nvmlDeviceGetComputeRunningProcesses")
    assert plain((0, 1, 1, 0)) == [0, 1, 1, 0] and plain(ctypes.c_uint(1)) == 1 and plain(b"NVIDIA H200") == "NVIDIA H200"


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(["serve", "--apiKey=s3cr3t"], ["serve", "--apiKey=****"], id="camelCase flag"),
    pytest.param(["serve", "--auth", "s3cr3t"], ["serve", "--auth", "****"], id="--auth X"),
    pytest.param(["git", "https://ghp_s3cr3t@github.com/o/r"], ["git", "https://****@github.com/o/r"],
                 id="token as URL user"),
    pytest.param(["--url", "https://hub/x?rev=main&token=s3cr3t"], ["--url", "https://hub/x?rev=main&token=****"],
                 id="token query parameter"),
    pytest.param(["env", "HF_TOKEN=s3cr3t", "python"], ["env", "HF_TOKEN=****", "python"], id="HF_TOKEN="),
    pytest.param(["--tokenizer", "t/x", "--author", "me"], ["--tokenizer", "t/x", "--author", "me"],
                 id="words that only start like a secret"),
])
def test_every_kind_of_secret_in_a_command_line_is_masked(argv, expected):
    """Issue 12 §5: the secrets a GPU process's command line carries in the field."""
    from mlobs_cli.gpu.source import scrub_command

    assert scrub_command(argv) == expected
