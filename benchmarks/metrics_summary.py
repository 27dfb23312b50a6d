"""`mlobs metrics summary` for 10 models against each of its queries alone, on a real Prometheus, in the same run.

    python benchmarks/metrics_summary.py [--models N] [--repeat N]

The history is the test scenario's generator (tests/metrics/scenario.py) with N synthetic models (default 10),
backfilled with promtool into a Prometheus started on 127.0.0.1 for this run and stopped by its PID at the end.
Timed in this process, through the same client, so that interpreter start-up counts for neither side:

- (a) the summary: `metrics.summary.summarize`: its 11 column expressions at `at` and an hour earlier, sent as
  two requests together (each the union of the 11, see metrics/common.py `union`), and the rows built from them;
- (b) each of the 22 column queries alone, one request each: what a user would run by hand;
- (c) each of the summary's two requests alone.

After one untimed warm-up of everything, the runs take turns ((a), every (b), every (c); --repeat times) so a burst
of other load slows every side. Reported: the medians, and the ratios of (a) to the slowest (b) (the issue's target:
<= 1.5) and to the slowest (c) (how much sending the two together costs over the slower of them), from the medians and from the
fastest run of each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def start_prometheus(root: Path, text: str) -> tuple[subprocess.Popen, str]:
    for binary in ("prometheus", "promtool"):
        if shutil.which(binary) is None:
            sys.exit(f"{binary} not found: apt-get install prometheus")
    (root / "data.om").write_text(text, encoding="utf-8")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(root / "data.om"),
                    str(root / "data")], check=True, capture_output=True)
    (root / "prometheus.yml").write_text("global:\n  scrape_interval: 30s\n", encoding="utf-8")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(["prometheus", f"--config.file={root / 'prometheus.yml'}",
                             f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--storage.tsdb.retention.time=100y", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.terminate()
    sys.exit("prometheus did not get ready in 30 s")


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    end = float(int((time.time() - 120) // scenario.STEP) * scenario.STEP)
    versions, models, gpus = scenario.synthetic(args.models)
    text = scenario.Scenario(end, versions, models, gpus).openmetrics()
    at, window = datetime.fromtimestamp(end, UTC), timedelta(minutes=5)
    with tempfile.TemporaryDirectory(prefix="mlobs-bench-") as tmp:
        proc, url = start_prometheus(Path(tmp), text)
        try:
            with PrometheusClient(url) as client:
                report = summary.summarize(client, at, window)
                if len(report.models) != args.models or not report.complete:
                    sys.exit(f"the summary shows {len(report.models)} models, expected {args.models}")
                singles = {(key, when): partial(client.query, q, t) for key, q in summary.queries(window).items()
                           for when, t in (("now", at), ("previous", at - timedelta(hours=1)))}
                unions = {("union of 11", when): partial(client.query, union(summary.queries(window)), t)
                          for when, t in (("now", at), ("previous", at - timedelta(hours=1)))}
                for call in [*singles.values(), *unions.values()]:  # warm-up: connections, Prometheus' caches
                    call()
                whole: list[float] = []
                alone: dict[tuple[str, str], list[float]] = {k: [] for k in [*singles, *unions]}
                for _ in range(args.repeat):
                    whole.append(timed(partial(summary.summarize, client, at, window)))
                    for key, call in [*singles.items(), *unions.items()]:
                        alone[key].append(timed(call))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    medians = {k: statistics.median(v) for k, v in alone.items()}
    a = statistics.median(whole)
    print(f"{'query':<34} {'when':<9} {'median ms':>9}")
    for (key, when), m in sorted(medians.items(), key=lambda kv: -kv[1]):
        print(f"{key:<34} {when:<9} {m * 1000:9.1f}")
    b = {k: v for k, v in medians.items() if k in singles}
    c = {k: v for k, v in medians.items() if k in unions}
    slowest_b, slowest_c = max(b, key=b.__getitem__), max(c, key=c.__getitem__)
    print(f"\n(a) summary of {args.models} models: {a * 1000:.1f} ms (median of {args.repeat})")
    print(f"(b) slowest column query alone ({slowest_b[0]}, {slowest_b[1]}): {b[slowest_b] * 1000:.1f} ms; "
          f"all 22 one after the other: {sum(b.values()) * 1000:.1f} ms")
    print(f"(c) slower of the summary's two requests alone ({slowest_c[1]}): {c[slowest_c] * 1000:.1f} ms")
    print(f"ratio (a) / slowest (b): {a / b[slowest_b]:.2f} (target <= 1.5); (a) / slower (c): "
          f"{a / c[slowest_c]:.2f}; (a) / sum of (b): {a / sum(b.values()):.2f}")
    # the fastest run of each: what the work costs when no other process takes the CPU (medians include that)
    fa, fb, fc = min(whole), max(min(alone[k]) for k in b), max(min(alone[k]) for k in c)
    print(f"fastest runs: (a) {fa * 1000:.1f} ms, slowest (b) {fb * 1000:.1f} ms, slower (c) {fc * 1000:.1f} ms; "
          f"ratios {fa / fb:.2f} and {fa / fc:.2f}")

if __name__ == "__main__":
    main()
