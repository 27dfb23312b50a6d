"""Benchmark `mlobs drift compare` on 1M x 1M rows against the floor of reading and sorting the same data.

Run from the repository root, inside the project's virtualenv:

    python benchmarks/drift_compare.py            # full run: 1,000,000 rows per sample, median of 3
    python benchmarks/drift_compare.py --rows 100000 --repeat 1   # quick run

It measures, each in a fresh subprocess so interpreter start-up and imports count the same way for both:

  (a) `mlobs drift compare reference.parquet current.parquet -o json`, end to end, and its peak RSS;
  (b) the floor: read every compared column pair through DuckDB into numpy, one pair at a time as mlobs does,
      and np.sort each numerical column of both samples once; categorical columns are read as the
      `GROUP BY` value counts mlobs itself reads. No drift engine can do less work than (b).

and checks the targets of the performance issue: (a) under 5 s, (a) within 2.5x of (b), peak RSS of (a) under
0.6 GB. It then reruns (a) with five numerical features only, to show that memory does not grow with the number of
columns (mlobs keeps one column pair in memory at a time).

The data (20 numerical and 5 categorical features, some shifted) is generated once with a fixed seed and cached as
Parquet under benchmarks/data/ (git-ignored); --regenerate rebuilds it. Only numpy and DuckDB are needed: DuckDB
writes the Parquet files straight from a dict of numpy arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
SEED = 20240601
# Bump when the generated data changes, so an old cache is rebuilt instead of silently reused.
GENERATOR_VERSION = 1

# Targets from the performance issue.
TARGET_SECONDS = 5.0
TARGET_RATIO = 2.5
TARGET_PEAK_GB = 0.6
GB = 1e9  # decimal gigabytes: the "0.6 GB" is 600,000,000 bytes

# The subset for the memory-versus-columns check: five numerical features, two of them drifted so that the run
# still exits 1 like the full one.
FEW_FEATURES = ("num_normal_same", "num_normal_shift", "num_lognormal_same", "num_uniform_same", "int_poisson_shift")

# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------

Sampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class Feature:
    """One column: how to draw it in the reference and in the current sample (the same sampler: unchanged)."""

    name: str
    reference: Sampler
    current: Sampler

    @property
    def shifted(self) -> bool:
        return self.reference is not self.current


def same(name: str, sampler: Sampler) -> Feature:
    return Feature(name, sampler, sampler)


def normal(mean: float, sd: float) -> Sampler:
    return lambda rng, n: rng.normal(mean, sd, n)


def lognormal(mu: float, sigma: float, scale: float = 1.0) -> Sampler:
    return lambda rng, n: scale * rng.lognormal(mu, sigma, n)


def with_new_mode(base: Sampler, share: float, mode: Sampler) -> Sampler:
    """`base`, with a random `share` of the rows drawn from `mode` instead: a mode that was not there before."""

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        values = base(rng, n)
        moved = rng.random(n) < share
        values[moved] = mode(rng, int(moved.sum()))
        return values

    return draw


def integers(draw: Callable[[np.random.Generator, int], np.ndarray], dtype: type) -> Sampler:
    """Integer-valued feature (many ties), stored with an integer Parquet type."""
    return lambda rng, n: draw(rng, n).astype(dtype)


def categories(levels: list[str], shares: np.ndarray | list[float]) -> Sampler:
    """Categorical feature: a numpy unicode array, which DuckDB writes as a VARCHAR column."""
    labels = np.array(levels)
    p = np.asarray(shares, dtype=float)
    p = p / p.sum()
    return lambda rng, n: labels[rng.choice(len(labels), size=n, p=p)]


def _item_ids() -> tuple[list[str], np.ndarray]:
    """~2000 levels with a long tail (Zipf-like shares), like product or merchant ids."""
    levels = [f"item_{i:04d}" for i in range(2000)]
    return levels, 1.0 / (np.arange(2000) + 10.0)


CHANNELS = ["search", "direct", "social", "email", "ads"]
CHANNEL_SHARES = [0.40, 0.25, 0.15, 0.12, 0.08]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "ES", "IT", "CA", "MX", "NL"]
COUNTRY_SHARES = [30, 10, 8, 8, 12, 7, 6, 5, 5, 4, 3, 2]

FEATURES: tuple[Feature, ...] = (
    # Continuous, normal.
    same("num_normal_same", normal(0, 1)),
    same("num_normal_wide_same", normal(50, 10)),
    Feature("num_normal_shift_small", normal(0, 1), normal(0.1, 1)),  # 0.1 sd: below the alert rule
    Feature("num_normal_shift", normal(100, 15), normal(107.5, 15)),  # 0.5 sd
    Feature("num_normal_scale", normal(0, 2), normal(0, 3)),  # x1.5 scale
    Feature("num_normal_new_mode", normal(10, 2), with_new_mode(normal(10, 2), 0.10, normal(18, 2))),  # +4 sd
    # Continuous, skewed or heavy-tailed.
    same("num_lognormal_same", lognormal(0, 1)),
    Feature("num_lognormal_shift", lognormal(3, 0.5), lognormal(3.25, 0.5)),
    Feature("num_lognormal_scale", lognormal(1, 0.6), lognormal(1, 0.6, scale=1.5)),
    same("num_exponential_same", lambda rng, n: rng.exponential(1.0, n)),
    same("num_uniform_same", lambda rng, n: rng.random(n)),
    same("num_student_t_same", lambda rng, n: rng.standard_t(3, n)),
    same("num_price_rounded_same", lambda rng, n: np.round(rng.lognormal(3, 1, n), 2)),  # ties from rounding
    Feature("num_gamma_shift", lambda rng, n: rng.gamma(2, 20, n), lambda rng, n: rng.gamma(2, 20, n) + 10),
    # Discrete, integer-valued, with ties: few distinct values get one bin per value, more get quantile bins.
    same("int_poisson_same", integers(lambda rng, n: rng.poisson(3, n), np.int64)),
    Feature("int_poisson_shift", integers(lambda rng, n: rng.poisson(3, n), np.int64),
            integers(lambda rng, n: rng.poisson(3.6, n), np.int64)),
    same("int_uniform_same", integers(lambda rng, n: rng.integers(0, 100, n), np.int64)),
    Feature("int_binary_shift", integers(lambda rng, n: rng.random(n) < 0.3, np.int8),
            integers(lambda rng, n: rng.random(n) < 0.4, np.int8)),
    same("int_rating_same", integers(lambda rng, n: rng.choice(np.arange(1, 6), n, p=[.05, .1, .2, .35, .3]),
                                     np.int16)),
    Feature("int_age_shift", integers(lambda rng, n: np.clip(np.round(rng.normal(40, 12, n)), 18, 90), np.int32),
            integers(lambda rng, n: np.clip(np.round(rng.normal(43, 12, n)), 18, 90), np.int32)),
    # Categorical.
    same("cat_country_same", categories(COUNTRIES, COUNTRY_SHARES)),
    Feature("cat_device_shift", categories(["mobile", "desktop", "tablet", "tv"], [.55, .35, .08, .02]),
            categories(["mobile", "desktop", "tablet", "tv"], [.45, .40, .10, .05])),
    Feature("cat_channel_new_category", categories(CHANNELS, CHANNEL_SHARES),
            categories([*CHANNELS, "affiliate"], [s * 0.98 for s in CHANNEL_SHARES] + [0.02])),  # new, 2%
    same("cat_item_id_same", categories(*_item_ids())),  # ~2000 levels
    same("cat_plan_same", categories(["free", "pro", "team"], [.70, .25, .05])),
)


@dataclass(frozen=True)
class Dataset:
    reference: Path
    current: Path
    rows: int


def dataset_paths(rows: int) -> Dataset:
    """Each size has its own folder, so a quick --rows run does not throw away the 1M cache."""
    folder = DATA_DIR / f"rows-{rows}"
    return Dataset(folder / "reference.parquet", folder / "current.parquet", rows)


def _stamp(rows: int) -> dict:
    return {"rows": rows, "seed": SEED, "generator_version": GENERATOR_VERSION,
            "features": [f.name for f in FEATURES]}


def ensure_dataset(rows: int, regenerate: bool) -> Dataset:
    """The cached dataset for `rows`, generated first when missing, stale, or when asked to."""
    data = dataset_paths(rows)
    stamp_file = data.reference.parent / "dataset.json"
    fresh = (not regenerate and data.reference.exists() and data.current.exists() and stamp_file.exists()
             and json.loads(stamp_file.read_text()) == _stamp(rows))
    if fresh:
        return data
    data.reference.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.unlink(missing_ok=True)  # written last: an interrupted generation is never taken for a good one
    for index, path in enumerate((data.reference, data.current)):
        start = time.perf_counter()
        write_sample(path, rows, index)
        log(f"generated {path.relative_to(HERE.parent)} ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - start:.1f} s")
    stamp_file.write_text(json.dumps(_stamp(rows), indent=2) + "\n")
    return data


def write_sample(path: Path, rows: int, role: int) -> None:
    """Draw every feature of one sample (role 0: reference, 1: current) and write it as Parquet through DuckDB.

    Each feature and role has its own random stream, so the data of one feature does not change when another is
    added or edited, and the unchanged features are independent draws of the same distribution in both samples.
    """
    d = {}
    for index, feature in enumerate(FEATURES):
        rng = np.random.default_rng([SEED, index, role])
        d[feature.name] = (feature.current if role else feature.reference)(rng, rows)
    con = duckdb.connect()
    try:
        # DuckDB scans the dict `d` in this frame by name (a replacement scan); no pyarrow or pandas needed.
        con.sql(f"COPY (SELECT * FROM d) TO {_literal(str(path))} (FORMAT parquet)")
    finally:
        con.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------------------------
# The floor, (b): runs in its own process (`--floor-worker`), started by the benchmark.
# --------------------------------------------------------------------------------------------------------------

NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def floor_worker(reference: str, current: str) -> None:
    """Read each column pair into numpy through DuckDB, one pair at a time, and sort the numerical ones once.

    The least any engine has to do to compare the distributions the way mlobs does: categorical columns are read as
    their value counts (a GROUP BY in DuckDB, as mlobs reads them), numerical ones as float64 and sorted.
    """
    con = duckdb.connect()
    con.execute(f"CREATE VIEW ref AS SELECT * FROM read_parquet({_literal(reference)})")
    con.execute(f"CREATE VIEW cur AS SELECT * FROM read_parquet({_literal(current)})")
    for name, typ, *_ in con.execute("DESCRIBE SELECT * FROM ref").fetchall():
        column = _quote(name)
        if typ.upper().startswith(NUMERIC_PREFIXES):
            ref = con.execute(f"SELECT CAST({column} AS DOUBLE) AS v FROM ref").fetchnumpy()["v"]
            cur = con.execute(f"SELECT CAST({column} AS DOUBLE) AS v FROM cur").fetchnumpy()["v"]
            np.sort(ref), np.sort(cur)
        else:
            for view in ("ref", "cur"):
                con.execute(f"SELECT {column} AS v, count(*) AS n FROM {view} GROUP BY 1").fetchnumpy()
    con.close()


# --------------------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------------------


class BenchmarkError(Exception):
    """A measured command did not do what the benchmark expects of it."""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str


def run_measured(command: list[str], expected_returncode: int) -> Run:
    """Run `command`, timing it wall-clock, and take its own peak RSS from wait4 on its pid.

    wait4 on the specific child gives that child's ru_maxrss alone; RUSAGE_CHILDREN would instead report the maximum
    over every child reaped so far, so a later, smaller run could never show a lower peak.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if process.returncode != expected_returncode:
        raise BenchmarkError(f"{' '.join(command)}\nexited {process.returncode}, expected {expected_returncode}"
                             f"\nstderr:\n{stderr[-4000:]}")
    return Run(seconds, usage.ru_maxrss * 1024, process.returncode, stdout)  # ru_maxrss is in KiB on Linux


def mlobs_command() -> list[str]:
    """The installed console script of the running virtualenv, or `python -m mlobs_cli` without one."""
    script = Path(sys.executable).parent / "mlobs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlobs_cli"]


def compare_command(data: Dataset, features: tuple[str, ...] = ()) -> list[str]:
    command = [*mlobs_command(), "drift", "compare", str(data.reference), str(data.current), "-o", "json"]
    return command + (["--features", ",".join(features)] if features else [])


def floor_command(data: Dataset) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--floor-worker", str(data.reference), str(data.current)]


@dataclass(frozen=True)
class Series:
    """Repeated runs of one command."""

    seconds: list[float]
    peak_rss_bytes: list[int]
    stdout: str  # of the last run

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_gb(self) -> float:
        return max(self.peak_rss_bytes) / GB  # the worst run: a memory limit must hold for every run


def measure(label: str, command: list[str], expected_returncode: int, repeat: int,
            check: Callable[[Run], None] | None = None) -> Series:
    runs = []
    for i in range(repeat):
        log(f"{label}: run {i + 1}/{repeat} ...")
        run = run_measured(command, expected_returncode)
        if check:
            check(run)
        log(f"{label}: {run.seconds:.2f} s, peak RSS {run.peak_rss_bytes / GB:.3f} GB")
        runs.append(run)
    return Series([r.seconds for r in runs], [r.peak_rss_bytes for r in runs], runs[-1].stdout)


def check_report(expected_features: int) -> Callable[[Run], None]:
    """A run only counts if mlobs produced a full JSON report of every feature: a fast failure is no result."""

    def check(run: Run) -> None:
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError as e:
            raise BenchmarkError(f"mlobs did not print JSON: {e}: {run.stdout[:500]!r}") from e
        compared = len(report.get("features", []))
        if compared != expected_features:
            raise BenchmarkError(f"mlobs compared {compared} features, expected {expected_features}")

    return check


def verdicts(stdout: str) -> dict[str, list[str]]:
    """Feature names by mlobs' status (alert, watch, ok), to show the run found the drift the data holds."""
    by_status: dict[str, list[str]] = {"alert": [], "watch": [], "ok": []}
    for feature in json.loads(stdout)["features"]:
        by_status.setdefault(feature["status"], []).append(feature["name"])
    return by_status


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def machine() -> dict:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "duckdb": duckdb.__version__,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def figures(data: Dataset, repeat: int, full: Series, floor: Series, few: Series, found: dict) -> dict:
    ratio = full.median_seconds / floor.median_seconds
    return {
        "rows": data.rows,
        "features": {"numerical": sum(not f.name.startswith("cat_") for f in FEATURES),
                     "categorical": sum(f.name.startswith("cat_") for f in FEATURES)},
        "repeat": repeat,
        "machine": machine(),
        "mlobs": {"median_s": full.median_seconds, "runs_s": full.seconds, "peak_rss_gb": full.peak_gb},
        "floor": {"median_s": floor.median_seconds, "runs_s": floor.seconds, "peak_rss_gb": floor.peak_gb},
        "ratio": ratio,
        "mlobs_5_numerical": {"features": list(FEW_FEATURES), "median_s": few.median_seconds,
                              "peak_rss_gb": few.peak_gb},
        "targets": {
            "time_s": {"target": TARGET_SECONDS, "value": full.median_seconds,
                       "pass": full.median_seconds < TARGET_SECONDS},
            "ratio": {"target": TARGET_RATIO, "value": ratio, "pass": ratio <= TARGET_RATIO},
            "peak_rss_gb": {"target": TARGET_PEAK_GB, "value": full.peak_gb, "pass": full.peak_gb < TARGET_PEAK_GB},
        },
        "mlobs_verdicts": found,
    }


def table(f: dict) -> str:
    m, t = f["machine"], f["targets"]
    verdict = {True: "PASS", False: "MISS"}
    counts = ", ".join(f"{status} {len(names)}" for status, names in f["mlobs_verdicts"].items())
    lines = [
        f"mlobs drift compare: {f['rows']:,} x {f['rows']:,} rows, {f['features']['numerical']} numerical + "
        f"{f['features']['categorical']} categorical features, median of {f['repeat']} run(s)",
        f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['cpu_model']}; Python {m['python']}, "
        f"numpy {m['numpy']}, duckdb {m['duckdb']}",
        "",
        f"{'':40} {'time (s)':>9} {'peak RSS (GB)':>14}",
        f"{'(a) mlobs drift compare -o json':40} {f['mlobs']['median_s']:9.2f} {f['mlobs']['peak_rss_gb']:14.3f}",
        f"{'(b) floor: DuckDB read + np.sort':40} {f['floor']['median_s']:9.2f} {f['floor']['peak_rss_gb']:14.3f}",
        f"{'ratio a/b':40} {f['ratio']:9.2f}",
        "",
        f"{'target':40} {'measured':>9} {'':>14}",
        f"{'(a) time < ' + format(TARGET_SECONDS, 'g') + ' s':40} {t['time_s']['value']:8.2f}s "
        f"{verdict[t['time_s']['pass']]:>14}",
        f"{'(a) within ' + format(TARGET_RATIO, 'g') + 'x of (b)':40} {t['ratio']['value']:8.2f}x "
        f"{verdict[t['ratio']['pass']]:>14}",
        f"{'(a) peak RSS < ' + format(TARGET_PEAK_GB, 'g') + ' GB':40} {t['peak_rss_gb']['value']:7.3f}GB "
        f"{verdict[t['peak_rss_gb']['pass']]:>14}",
        "",
        f"memory vs columns: peak RSS {f['mlobs']['peak_rss_gb']:.3f} GB with all 25 features, "
        f"{f['mlobs_5_numerical']['peak_rss_gb']:.3f} GB with 5 numerical (--features) "
        f"({f['mlobs_5_numerical']['median_s']:.2f} s)",
        f"runs (s): (a) {' '.join(f'{s:.2f}' for s in f['mlobs']['runs_s'])}; "
        f"(b) {' '.join(f'{s:.2f}' for s in f['floor']['runs_s'])}",
        f"mlobs verdicts: {counts}",
    ]
    return "\n".join(lines)


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the table (or the JSON)."""
    print(f"[drift_compare] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=_positive, default=1_000_000, help="rows per sample (default: 1,000,000)")
    parser.add_argument("--repeat", type=_positive, default=3, help="runs of each command; the median counts")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached Parquet files")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    parser.add_argument("--floor-worker", nargs=2, metavar=("REF", "CUR"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.floor_worker:
        floor_worker(*args.floor_worker)
        return 0
    data = ensure_dataset(args.rows, args.regenerate)
    try:
        # Exit 1 is mlobs' "drift found", which this data must produce; 0 or 2+ means the run failed.
        full = measure("(a) mlobs", compare_command(data), 1, args.repeat, check_report(len(FEATURES)))
        floor = measure("(b) floor", floor_command(data), 0, args.repeat)
        few = measure("(a) 5 features", compare_command(data, FEW_FEATURES), 1, 1, check_report(len(FEW_FEATURES)))
    except BenchmarkError as e:
        log(f"FAILED: {e}")
        return 2
    result = figures(data, args.repeat, full, floor, few, verdicts(full.stdout))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
