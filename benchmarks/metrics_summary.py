"""`mlobs metrics summary` for 10 models against each of its queries alone, on a real Prometheus, in the same run.

    python benchmarks/metrics_summary.py [--models N] [--repeat N] [--rtt 0,25,50] [--cpu-runs N]

The history is the test scenario's generator (tests/metrics/scenario.py) with N synthetic models (default 10),
backfilled with promtool into a Prometheus started on 127.0.0.1 for this run and stopped by its PID at the end.
Timed in this process, through the same client, so that interpreter start-up counts for neither side:

- (a) the summary: `metrics.summary.summarize`: its 13 expressions (11 columns, 2 fallbacks of the error ratio)
  at `at` and an hour earlier, sent as two requests together (each the union of the 13, see metrics/common.py
  `union`), and the rows built from them;
- (b) each of the 26 queries alone, one request each: what a user would run by hand;
- (c) each of the summary's two requests alone.

After one untimed warm-up of everything, the runs take turns ((a), every (b), every (c); --repeat times) so a burst
of other load slows every side. Reported: the medians, and the ratios of (a) to the slowest (b) (the issue's target:
<= 1.5) and to the slowest (c) (how much sending the two together costs over the slower of them), from the medians
and from the fastest run of each.

This is done once for each round trip of --rtt (milliseconds; 0 is loopback as it is): any other goes through a
proxy in another process that holds every chunk for half of it each way, the laptop on a VPN the issue has in
mind. Last, on loopback, the CPU behind (a) and the slowest (b): --cpu-runs of each back to back, with the CPU time
the Prometheus process (from /proc) and this process spent. Their sum over this machine's cores is the shortest
time the summary could take here, however its queries were sent.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))
sys.path.insert(0, str(ROOT))

import scenario

from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.metrics import summary
from mlobs_cli.metrics.common import union
from tests.conftest import free_port


def start_prometheus(root: Path, text: str) -> tuple[subprocess.Popen, str]:
    for binary in ("prometheus", "promtool"):
        if shutil.which(binary) is None:
            sys.exit(f"{binary} not found: apt-get install prometheus")
    (root / "data.om").write_text(text, encoding="utf-8")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(root / "data.om"),
                    str(root / "data")], check=True, capture_output=True)
    (root / "prometheus.yml").write_text("global:\n  scrape_interval: 30s\n", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(["prometheus", f"--config.file={root / 'prometheus.yml'}",
                             f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--storage.tsdb.retention.time=100y", "--log.level=warn",
                             # no compaction of the backfilled 2 h blocks while timing: it takes the same CPU
                             # the CPU part measures, at a moment of its own choosing
                             "--storage.tsdb.max-block-duration=2h"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not ready(url, 30):
        proc.terminate()
        sys.exit("prometheus did not get ready in 30 s")
    return proc, url


def ready(url: str, seconds: float) -> bool:
    """Whether `url`/-/ready answers 200 within `seconds` (Prometheus, or the proxy in front of it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.05)
    return False


def serve_delayed(port: int, upstream: int, one_way: float) -> None:
    """Forward 127.0.0.1:port to 127.0.0.1:upstream, delivering every chunk `one_way` seconds after it arrived,
    in order, in both directions: a network with a round trip of twice `one_way`."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        while chunk := await reader.read(1 << 16):
            queue.put_nowait((loop.time() + one_way, chunk))
        queue.put_nowait((loop.time() + one_way, b""))
        await delivering

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    async def main() -> None:
        server = await asyncio.start_server(connect, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of every thread of process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def compare(url: str, at: datetime, window: timedelta, models: int, repeat: int
            ) -> tuple[list[float], dict[tuple[str, str], list[float]], set, set]:
    """(a)'s times, and every (b) and (c) query's, taking turns; and the keys of (b) and of (c)."""
    with PrometheusClient(url) as client:
        report = summary.summarize(client, at, window)
        if len(report.models) != models or not report.complete:
            sys.exit(f"the summary shows {len(report.models)} models, expected {models}")
        singles = {(key, when): partial(client.query, q, t) for key, q in summary.queries(window).items()
                   for when, t in (("now", at), ("previous", at - timedelta(hours=1)))}
        everything = summary.queries(window)
        unions = {(f"union of {len(everything)}", when): partial(client.query, union(everything), t)
                  for when, t in (("now", at), ("previous", at - timedelta(hours=1)))}
        for call in [*singles.values(), *unions.values()]:  # warm-up: connections, Prometheus' caches
            call()
        whole: list[float] = []
        alone: dict[tuple[str, str], list[float]] = {k: [] for k in [*singles, *unions]}
        for _ in range(repeat):
            whole.append(timed(partial(summary.summarize, client, at, window)))
            for key, call in [*singles.items(), *unions.items()]:
                alone[key].append(timed(call))
    return whole, alone, set(singles), set(unions)


def report(rtt: float, repeat: int, models: int, whole: list[float], alone: dict[tuple[str, str], list[float]],
           singles: set, unions: set, detail: bool) -> tuple[str, str]:
    """Print one round trip's results; return the slowest (b)'s key."""
    medians = {k: statistics.median(v) for k, v in alone.items()}
    if detail:
        print(f"{'query':<34} {'when':<9} {'median ms':>9}")
        for (key, when), m in sorted(medians.items(), key=lambda kv: -kv[1]):
            print(f"{key:<34} {when:<9} {m * 1000:9.1f}")
        print()
    a = statistics.median(whole)
    b = {k: v for k, v in medians.items() if k in singles}
    c = {k: v for k, v in medians.items() if k in unions}
    slowest_b, slowest_c = max(b, key=b.__getitem__), max(c, key=c.__getitem__)
    print(f"round trip {rtt:g} ms{' (loopback)' if not rtt else ''}:")
    print(f"  (a) summary of {models} models: {a * 1000:.1f} ms (median of {repeat})")
    print(f"  (b) slowest column query alone ({slowest_b[0]}, {slowest_b[1]}): {b[slowest_b] * 1000:.1f} ms; "
          f"all {len(b)} one after the other: {sum(b.values()) * 1000:.1f} ms")
    print(f"  (c) slower of the summary's two requests alone ({slowest_c[1]}): {c[slowest_c] * 1000:.1f} ms")
    print(f"  ratio (a) / slowest (b): {a / b[slowest_b]:.2f} (target <= 1.5); (a) / slower (c): "
          f"{a / c[slowest_c]:.2f}; (a) / sum of (b): {a / sum(b.values()):.2f}")
    # the fastest run of each: what the work costs when no other process takes the CPU (medians include that)
    fa, fb, fc = min(whole), max(min(alone[k]) for k in b), max(min(alone[k]) for k in c)
    print(f"  fastest runs: (a) {fa * 1000:.1f} ms, slowest (b) {fb * 1000:.1f} ms, slower (c) {fc * 1000:.1f} ms; "
          f"ratios {fa / fb:.2f} and {fa / fc:.2f}")
    return slowest_b


def cpu_floor(url: str, server: int, at: datetime, window: timedelta, slowest: tuple[str, str], runs: int) -> None:
    """The CPU one summary and one slowest (b) cost the server and this process, each over `runs` back to back."""
    t = at if slowest[1] == "now" else at - timedelta(hours=1)
    with PrometheusClient(url) as client:
        calls = {"(a) summary": partial(summary.summarize, client, at, window),
                 f"(b) {slowest[0]}, {slowest[1]}": partial(client.query, summary.queries(window)[slowest[0]], t)}
        print(f"\nCPU per run, {runs} runs back to back on loopback ({os.cpu_count()} cores here):")
        spent = {}
        for name, call in calls.items():
            call()
            server0, client0, wall0 = cpu_seconds(server), time.process_time(), time.perf_counter()
            for _ in range(runs):
                call()
            wall = (time.perf_counter() - wall0) / runs
            spent[name] = ((cpu_seconds(server) - server0) / runs, (time.process_time() - client0) / runs, wall)
            print(f"  {name:<40} Prometheus {spent[name][0] * 1000:5.1f} ms, mlobs {spent[name][1] * 1000:5.1f} ms, "
                  f"wall {wall * 1000:5.1f} ms")
    (sa, ca, _), (_, _, wb) = spent.values()
    floor = (sa + ca) / (os.cpu_count() or 1)
    print(f"  shortest the summary could take on {os.cpu_count()} cores, every core busy with it: {floor * 1000:.1f} ms, "
          f"{floor / wb:.2f}x the slowest (b)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rtt", default="0,25,50", help="round trips to measure, in ms, comma-separated")
    parser.add_argument("--cpu-runs", type=int, default=100, help="0: skip the CPU part (needs 0 among --rtt)")
    args = parser.parse_args()
    rtts = [float(r) for r in args.rtt.split(",")]
    end = float(int((time.time() - 120) // scenario.STEP) * scenario.STEP)
    versions, models, gpus = scenario.synthetic(args.models)
    text = scenario.Scenario(end, versions, models, gpus).openmetrics()
    at, window = datetime.fromtimestamp(end, UTC), timedelta(minutes=5)
    with tempfile.TemporaryDirectory(prefix="mlobs-bench-") as tmp:
        proc, url = start_prometheus(Path(tmp), text)
        try:
            slowest = None  # the slowest (b) on loopback: the CPU part compares the summary with it
            for rtt in rtts:
                with delayed(url, rtt) as target:
                    measured = compare(target, at, window, args.models, args.repeat)
                key = report(rtt, args.repeat, args.models, *measured, detail=rtt == rtts[0])
                if not rtt:
                    slowest = key
            if args.cpu_runs and slowest:
                cpu_floor(url, proc.pid, at, window, slowest, args.cpu_runs)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def delayed(url: str, rtt: float) -> Iterator[str]:
    """`url` itself for a round trip of 0, else the URL of a proxy to it adding `rtt` milliseconds."""
    if not rtt:
        yield url
        return
    port = free_port()
    proxy = multiprocessing.get_context("spawn").Process(
        target=serve_delayed, args=(port, int(url.rsplit(":", 1)[1]), rtt / 2000), daemon=True)
    proxy.start()
    try:
        target = f"http://127.0.0.1:{port}"
        if not ready(target, 10):
            sys.exit(f"the round-trip proxy at {target} did not answer in 10 s")
        yield target
    finally:
        proxy.terminate()
        proxy.join()


if __name__ == "__main__":
    main()
