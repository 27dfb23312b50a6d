"""The CLI's own start: `mlobs --help` against `python -c pass`, in the same run.

    python benchmarks/startup.py [--repeat N]

Both run as fresh processes of the virtualenv's interpreter (`mlobs` is its console script), after one untimed
warm-up each, taking turns. Reported: the median of each, and the difference and ratio (target: `mlobs --help`
under 0.3 s; heavy modules such as httpx, rich, numpy and DuckDB are imported only by the commands that use them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# A pip install compiles mlobs' bytecode; a machine with PYTHONDONTWRITEBYTECODE set would otherwise compile
# every module from source on every run, which no user's install does.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    mlobs = [str(Path(sys.executable).with_name("mlobs")), "--help"]
    python = [sys.executable, "-c", "pass"]
    timed(mlobs), timed(python)
    runs: dict[str, list[float]] = {"mlobs --help": [], "python -c pass": []}
    for _ in range(args.repeat):
        runs["mlobs --help"].append(timed(mlobs))
        runs["python -c pass"].append(timed(python))
    m, p = (statistics.median(v) for v in runs.values())
    print(f"mlobs --help:   {m * 1000:6.1f} ms (median of {args.repeat})")
    print(f"python -c pass: {p * 1000:6.1f} ms")
    print(f"mlobs' own start: {(m - p) * 1000:.1f} ms; ratio {m / p:.2f} (target: mlobs --help under 300 ms)")


if __name__ == "__main__":
    main()
