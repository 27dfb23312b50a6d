"""`mlobs alerts validate` against `promtool check rules` on the real-world rule corpus, in the same run.

    python benchmarks/alerts_validate.py [--corpus DIR] [--repeat N]

The corpus is ../shared/corpus/rules (228 real-world rule files, see its SOURCES.md). Both tools get the same
files: the plain rule files, without the Kubernetes PrometheusRule manifests (promtool cannot read them) and
without promtool's own deliberately invalid test fixtures. Each tool runs as a fresh process, so start-up and
imports count for both; after one untimed warm-up of each, the median of --repeat runs is reported, with the ratio
mlobs / promtool (target <= 1.0).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "rules"
FIXTURES = "prometheus__prometheus"


def corpus_files(corpus: Path) -> list[str]:
    files = []
    for path in sorted(corpus.glob("*/*.y*ml")):
        if path.parent.name == FIXTURES or "kind: PrometheusRule" in path.read_text(encoding="utf-8"):
            continue
        files.append(str(path))
    return files


# A pip install compiles mlobs' bytecode; a machine with PYTHONDONTWRITEBYTECODE set (this workplace's) would
# otherwise make every run compile every module from source, which no user's install does.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], accept: set[int]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    elapsed = time.perf_counter() - started
    if result.returncode not in accept:
        sys.exit(f"{command[0]} exited {result.returncode}: {result.stderr.strip()[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    promtool = shutil.which("promtool")
    if promtool is None:
        sys.exit("promtool not found: apt-get install prometheus")
    files = corpus_files(args.corpus)
    mlobs = [str(Path(sys.executable).with_name("mlobs")), "alerts", "validate", *files, "-o", "json"]
    # promtool exits 1 on the two Thanos files it cannot read; mlobs exits 1 on findings
    promtool_cmd = [promtool, "check", "rules", *files]
    timed(mlobs, {0, 1})  # warm-up, untimed: bytecode written, files in the page cache, for both tools
    timed(promtool_cmd, {0, 1})
    times: dict[str, list[float]] = {"mlobs": [], "promtool": []}
    for _ in range(args.repeat):  # alternate, so a burst of other load slows both sides
        times["mlobs"].append(timed(mlobs, {0, 1}))
        times["promtool"].append(timed(promtool_cmd, {0, 1}))
    a, b = statistics.median(times["mlobs"]), statistics.median(times["promtool"])
    print(f"{len(files)} rule files from {args.corpus}, median of {args.repeat} runs")
    print(f"mlobs alerts validate (all checks)  {a:6.3f} s")
    print(f"promtool check rules                {b:6.3f} s")
    print(f"ratio mlobs / promtool              {a / b:6.2f}   target <= 1.0: {'PASS' if a <= b else 'MISS'}")


if __name__ == "__main__":
    main()
