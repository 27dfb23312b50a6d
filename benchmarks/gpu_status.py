"""`mlobs gpu status` on a real NVIDIA GPU: are its numbers nvidia-smi's, and how fast is it?

    .venv/bin/python benchmarks/gpu_status.py [--repeat 10] [--json]

In one go, on a machine with an NVIDIA GPU and driver:

1. Compares `mlobs gpu status -o json` with `nvidia-smi --query-gpu=... --format=csv` and `nvidia-smi -q -x` (the
   XML form of `nvidia-smi -q`) on every GPU: name and UUID equal, memory total and used within 1% of the total,
   enforced power limit within 0.5 W, temperature within 2 C.
2. Times, median of --repeat runs each, every command in a fresh process: mlobs, both nvidia-smi forms, python
   with nothing imported, and the floor of a Python tool: a minimal script that imports pynvml and makes the same
   NVML calls mlobs made (taken from a `mlobs gpu record` of this machine), with no other import.
3. Measures the CPU the `--watch 1` view uses once running: CPU time of a 12 s watch minus that of a 4 s one,
   over the 8 s between.

Targets (issue 4): mlobs within 1.25x of the floor and within 2x of `nvidia-smi -q`; --watch under 2% of a core.
Exit 0 when every check passes, 1 when one fails, 2 when it cannot run (no GPU, no nvidia-smi, mlobs broken).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERY = "index,name,uuid,memory.total,memory.used,power.limit,temperature.gpu"
MIB = 1 << 20

# The floor: pynvml and the same NVML calls, each key of the recording spelled as the call it stands for.
FLOOR = r'''
import sys, json, pynvml as nv
keys = json.load(open(sys.argv[1]))
nv.nvmlInit()
n = nv.nvmlDeviceGetCount()
nv.nvmlSystemGetDriverVersion(); nv.nvmlSystemGetNVMLVersion(); nv.nvmlSystemGetCudaDriverVersion()
ARGS = {"temperature_gpu": ("nvmlDeviceGetTemperature", nv.NVML_TEMPERATURE_GPU)}
handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
events = nv.nvmlEventSetCreate()
for i, h in enumerate(handles):
    for key in keys[i]:
        kind, _, arg = key.partition(":")
        try:
            if key == "memory_info_v2": nv.nvmlDeviceGetMemoryInfo(h, version=nv.nvmlMemory_v2)
            elif key in ARGS: getattr(nv, ARGS[key][0])(h, *ARGS[key][1:])
            elif kind == "temperature_threshold": nv.nvmlDeviceGetTemperatureThreshold(h, getattr(nv, arg))
            elif kind == "clock": nv.nvmlDeviceGetClockInfo(h, getattr(nv, arg))
            elif kind == "max_clock": nv.nvmlDeviceGetMaxClockInfo(h, getattr(nv, arg))
            elif kind == "ecc_total":
                t, c = arg.split(":")
                nv.nvmlDeviceGetTotalEccErrors(h, int(t == "uncorrected"), int(c == "aggregate"))
            elif kind == "retired_pages": nv.nvmlDeviceGetRetiredPages(h, int(arg == "dbe"))
            elif key == "xid_event_wait": nv.nvmlDeviceRegisterEvents(h, nv.nvmlEventTypeXidCriticalError, events)
            elif key.startswith("nvmlDevice") and key != "nvmlDeviceGetHandleByIndex": getattr(nv, key)(h)
        except nv.NVMLError:
            pass
try:
    nv.nvmlEventSetWait_v2(events, WAIT_MS)
except nv.NVMLError:
    pass
'''


def fail(message: str) -> None:
    print(f"gpu_status benchmark: {message}", file=sys.stderr)
    sys.exit(2)


def mlobs_argv() -> list[str]:
    script = Path(sys.executable).with_name("mlobs")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlobs_cli"]


def run(argv: list[str], ok: tuple[int, ...] = (0,)) -> str:
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    if result.returncode not in ok:
        fail(f"{' '.join(argv[:4])} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


def preflight() -> None:
    if shutil.which("nvidia-smi") is None:
        fail("no NVIDIA GPU here: nvidia-smi is not installed (this benchmark needs a GPU machine); nothing measured")
    probe = subprocess.run(["nvidia-smi", "-L"], check=False, capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 or "GPU " not in probe.stdout:
        fail(f"no usable NVIDIA GPU here: nvidia-smi -L says {(probe.stderr or probe.stdout).strip()[:300]!r}")


def compare(report: dict, query_csv: str, q_xml: str) -> list[tuple[str, str, str, bool]]:
    """(GPU, what, "mlobs vs nvidia-smi", equal enough) for every compared field of every GPU."""
    rows = list(csv.reader(io.StringIO(query_csv), skipinitialspace=True))
    xml_gpus = {g.findtext("uuid"): g for g in ET.fromstring(q_xml).findall("gpu")}
    gpus = {g["uuid"]: g for g in report["gpus"]}
    checks = []
    for index, name, uuid, total, used, limit, temp in rows:
        g = gpus.get(uuid)
        label = f"GPU {index}"
        if g is None:
            checks.append((label, "uuid", f"missing vs {uuid}", False))
            continue
        x = xml_gpus.get(uuid)
        checks.append((label, "name", f"{g['name']} vs {name}", g["name"] == name))
        checks.append((label, "uuid", f"{g['uuid']} vs {uuid}", True))
        total_mib = g["memory"]["total"] / MIB
        checks.append((label, "memory total MiB", f"{total_mib:.0f} vs {total}",
                       abs(total_mib - float(total)) <= 0.01 * float(total)))
        used_mib = (g["memory"]["used"] or 0) / MIB
        checks.append((label, "memory used MiB", f"{used_mib:.0f} vs {used}",
                       abs(used_mib - float(used)) <= 0.01 * float(total)))
        if x is not None:
            xml_used = float(x.findtext("fb_memory_usage/used").split()[0])
            checks.append((label, "memory used MiB (-q)", f"{used_mib:.0f} vs {xml_used:.0f}",
                           abs(used_mib - xml_used) <= 0.01 * float(total)))
        mine_limit = g["power"]["limit_w"]
        if limit.strip() in ("[N/A]", "N/A"):
            checks.append((label, "power limit W", f"{mine_limit} vs n/a", mine_limit is None))
        else:
            checks.append((label, "power limit W", f"{mine_limit} vs {limit}",
                           mine_limit is not None and abs(mine_limit - float(limit)) <= 0.5))
        mine_temp = g["temperature"]["gpu"]
        checks.append((label, "temperature C", f"{mine_temp} vs {temp}",
                       mine_temp is not None and abs(mine_temp - float(temp)) <= 2))
    return checks


def timed(argv: list[str], repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(argv, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - start)
        if result.returncode not in ok:
            fail(f"{' '.join(argv[:4])} exited {result.returncode} while timing it")
    return statistics.median(times)


def watch_cpu(seconds: float) -> float:
    """CPU seconds (user + system) of `mlobs gpu status --watch 1` run for `seconds`, then stopped by Ctrl-C."""
    proc = subprocess.Popen([*mlobs_argv(), "gpu", "status", "--watch", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (130, -signal.SIGINT):
        fail(f"mlobs gpu status --watch 1 exited {os.waitstatus_to_exitcode(status)}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command; the median counts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    preflight()

    mlobs = [*mlobs_argv(), "gpu", "status", "-o", "json", "--config", os.devnull]
    report = json.loads(run(mlobs, ok=(0, 1)))
    checks = compare(report, run(["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"]),
                     run(["nvidia-smi", "-q", "-x"]))

    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "rec.json"
        run([*mlobs_argv(), "gpu", "record", str(recording), "-o", "json", "--config", os.devnull], ok=(0, 1))
        keys = [[k for k in d if not k.startswith("mig_device:")] for d in json.loads(recording.read_text())["devices"]]
        (Path(tmp) / "keys.json").write_text(json.dumps(keys))
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR.replace("WAIT_MS", "10"))
        times = {
            "mlobs gpu status -o json": timed(mlobs, args.repeat, ok=(0, 1)),
            "nvidia-smi --query-gpu (csv)": timed(["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv"], args.repeat),
            "nvidia-smi -q": timed(["nvidia-smi", "-q"], args.repeat),
            "python, nothing imported": timed([sys.executable, "-c", "pass"], args.repeat),
            "floor: python + pynvml, same calls": timed([sys.executable, str(floor), str(Path(tmp) / "keys.json")],
                                                        args.repeat),
        }
    short, long = watch_cpu(4), watch_cpu(12)
    watch_share = max(0.0, long - short) / 8

    mine = times["mlobs gpu status -o json"]
    targets = [
        ("mlobs within 1.25x of the floor", f"{mine / times['floor: python + pynvml, same calls']:.2f}x",
         mine <= 1.25 * times["floor: python + pynvml, same calls"]),
        ("mlobs within 2x of nvidia-smi -q", f"{mine / times['nvidia-smi -q']:.2f}x",
         mine <= 2 * times["nvidia-smi -q"]),
        ("--watch 1 under 2% of a core", f"{watch_share:.2%}", watch_share < 0.02),
    ]
    ok = all(c[3] for c in checks) and all(t[2] for t in targets)
    machine = run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]).strip().splitlines()
    if args.json:
        print(json.dumps({"machine": machine, "checks": checks, "median_seconds": times, "watch_cpu_share": watch_share,
                          "targets": targets, "ok": ok}, indent=2))
    else:
        print(f"mlobs gpu status on {', '.join(sorted(set(machine)))} ({len(machine)} GPU(s)); median of "
              f"{args.repeat} run(s)\n")
        print(f"{'GPU':6} {'field':22} {'mlobs vs nvidia-smi':48} result")
        for label, what, values, good in checks:
            print(f"{label:6} {what:22} {values:48} {'PASS' if good else 'FAIL'}")
        print(f"\n{'command':40} {'median (ms)':>12}")
        for what, seconds in times.items():
            print(f"{what:40} {seconds * 1000:12.0f}")
        print(f"\n{'target (issue 4)':40} {'measured':>12}")
        for what, measured, good in targets:
            print(f"{what:40} {measured:>12}  {'PASS' if good else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
