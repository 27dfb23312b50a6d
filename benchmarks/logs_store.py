"""Benchmark: `mlobs logs latency --by model,version` and `mlobs logs feature-shift` (20 features) on 10,000,000
prediction-log rows in Parquet, against the same queries written directly in DuckDB's Python API, in the same run.

    python benchmarks/logs_store.py [--rows N] [--repeat N] [--regenerate] [--json]

The rows are generated once (fixed seed, through DuckDB) into benchmarks/data/logs-<N>/logs.parquet, which git
ignores, and rebuilt when missing or when --rows, the seed or the generator version differ from dataset.json.
Every measured command runs in a fresh subprocess, so interpreter start-up and imports count on both sides; the
runs take turns (cli, direct, cli, direct...) and the median of --repeat runs counts. The CLI's numbers must
equal the direct queries' (percentiles to 1e-9 relative, PSI to 1e-9), or the benchmark fails with exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
GENERATOR_VERSION = 1
SEED = 42
N_FEATURES = 20
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 8  # the first 7 are the baseline, the last one the current period
BASELINE = (START, START + timedelta(days=7))
CURRENT = (START + timedelta(days=7), START + timedelta(days=8))
EVERYTHING = (START, START + timedelta(days=DAYS))  # `logs latency` reads every row


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- data ---------------------------------------------------------------------------------------------------------

def generate(path: Path, rows: int) -> None:
    """10 of the 20 features shift in the current period (mean, scale); latency has four phases."""
    import duckdb

    keys = [f"f{i:02d}" for i in range(N_FEATURES)]
    values = []
    for i in range(N_FEATURES):
        base = "(random() * 2 - 1 + random() * 2 - 1 + random() * 2 - 1)"  # about normal, sd 1
        shift = f"CASE WHEN current THEN {0.1 * (i % 5)} ELSE 0 END" if i < 10 else "0"
        scale = f"CASE WHEN current AND {i % 2 == 0} THEN 1.3 ELSE 1 END" if i < 10 else "1"
        values.append(f"({base}) * {scale} + {shift} + {i}")
    seconds = DAYS * 86400
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SELECT setseed({SEED / 100})")
    tmp = path.with_suffix(".tmp.parquet")
    con.execute(f"""
        COPY (
            SELECT ts AS "timestamp", 'p' || i AS prediction_id,
                   'model-' || (i % 4) AS model_id, 'v' || ((i // 4) % 3) AS model_version,
                   CASE WHEN random() < 0.02 THEN 'ERROR' ELSE 'SUCCESS' END AS status,
                   q + pre + inf + post AS total_latency_ms, q AS queue_wait_ms, inf AS inference_ms,
                   pre AS preprocessing_ms, post AS postprocessing_ms, random() AS output_score,
                   MAP({keys!r}, [{', '.join(values)}]) AS feature_values
            FROM (
                SELECT i, current, ts, -ln(random()) * 4 AS q, -ln(random()) * 3 AS pre,
                       20 + -ln(random()) * 10 AS inf, -ln(random()) AS post
                FROM (SELECT i, TIMESTAMPTZ '{START.isoformat()}' + to_microseconds((i * {seconds}::BIGINT * 1000000)
                              // {rows}) AS ts FROM range({rows}) r(i)) t,
                     LATERAL (SELECT ts >= TIMESTAMPTZ '{CURRENT[0].isoformat()}' AS current)
            )
        ) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.close()
    tmp.replace(path)


def dataset(rows: int, regenerate: bool) -> Path:
    folder = ROOT / "data" / f"logs-{rows}"
    path, meta = folder / "logs.parquet", folder / "dataset.json"
    want = {"rows": rows, "seed": SEED, "generator": GENERATOR_VERSION, "features": N_FEATURES}
    if regenerate or not path.exists() or not meta.exists() or json.loads(meta.read_text()) != want:
        folder.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
        started = time.monotonic()
        generate(path, rows)
        meta.write_text(json.dumps(want))
        print(f"  {time.monotonic() - started:.0f} s, {path.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
    return path


# -- the direct queries, run in a child process: `python logs_store.py --direct latency|shift FILE` ---------------

def direct(kind: str, path: str) -> dict:
    import duckdb
    import numpy as np

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # it would write into the JSON on stdout
    con.execute("SET TimeZone = 'UTC'")
    con.read_parquet(path).create_view("logs")
    if kind == "latency":
        cols = ["total_latency_ms", "queue_wait_ms", "inference_ms", "preprocessing_ms", "postprocessing_ms"]
        pct = ", ".join(f"quantile_cont({c}, [0.5, 0.95, 0.99])" for c in cols)
        rows = con.execute(f"SELECT model_id, model_version, count(*), {pct} FROM logs WHERE \"timestamp\" >= ? "
                           f"AND \"timestamp\" < ? GROUP BY ALL ORDER BY ALL", list(EVERYTHING)).fetchall()
        return {f"{r[0]}/{r[1]}": {"requests": r[2], **dict(zip(cols, r[3:]))} for r in rows}
    pairs = ("SELECT ? AS period, unnest(map_keys(feature_values)) AS k, unnest(map_values(feature_values)) AS v "
             "FROM logs WHERE \"timestamp\" >= ? AND \"timestamp\" < ?")
    union = f"{pairs} UNION ALL {pairs}"
    params = ["b", *BASELINE, "c", *CURRENT]
    fractions = [i / 10 for i in range(1, 10)] + [0.25, 0.5, 0.75]
    stats = con.execute(f"SELECT period, k, quantile_cont(v, ?) FROM ({union}) GROUP BY ALL",
                        [fractions, *params]).fetchall()
    edges = {k: sorted(set(q[:9])) for p, k, q in stats if p == "b"}
    con.execute("CREATE TEMP TABLE edges (k VARCHAR, e DOUBLE[])")
    con.executemany("INSERT INTO edges VALUES (?, ?)", list(edges.items()))
    binned = " + ".join(f"CAST(x.v > e.e[{i + 1}] AS INTEGER)" for i in range(9))
    counts = con.execute(f"SELECT period, x.k, {binned} AS b, count(*) FROM ({union}) x JOIN edges e USING (k) "
                         "GROUP BY ALL", params).fetchall()
    table = {k: np.zeros((2, 10)) for k in edges}
    for p, k, b, n in counts:
        table[k][0 if p == "b" else 1][b] = n
    out = {}
    for k, (ref, cur) in table.items():
        r, c = np.maximum(ref / ref.sum(), 1e-4), np.maximum(cur / cur.sum(), 1e-4)
        out[k] = float(np.sum((c - r) * np.log(c / r)))
    return out


# -- measuring ----------------------------------------------------------------------------------------------------

def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, check=False, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(argv)}\n{result.stderr}")
    return elapsed, result.stdout


def check_latency(cli: dict, ref: dict) -> None:
    got = {f"{g['group']['model_id']}/{g['group']['model_version']}": g for g in cli["groups"]}
    if got.keys() != ref.keys():
        sys.exit(f"latency groups differ: {sorted(got)} vs {sorted(ref)}")
    for key, want in ref.items():
        for col in ("total_latency_ms", "inference_ms"):
            for i, p in enumerate(("p50", "p95", "p99")):
                a, b = got[key][p][col], want[col][i]
                if abs(a - b) > 1e-9 * abs(b):
                    sys.exit(f"latency {key} {col} {p}: mlobs {a} vs direct {b}")


def check_shift(cli: dict, ref: dict) -> None:
    got = {f["feature"]: f["psi"] for f in cli["features"]}
    if got.keys() != ref.keys() or any(abs(got[k] - ref[k]) > 1e-9 for k in ref):
        sys.exit(f"PSI differs: {got} vs {ref}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--direct", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        print(json.dumps(direct(*args.direct)))
        return
    path = str(dataset(args.rows, args.regenerate))
    mlobs = str(Path(sys.executable).with_name("mlobs"))
    cases = {
        "latency --by model,version": (
            [mlobs, "logs", "latency", "--source", path, "--by", "model,version", "--from", iso(EVERYTHING[0]),
             "--to", iso(EVERYTHING[1]), "-o", "json"],
            [sys.executable, __file__, "--direct", "latency", path], check_latency),
        f"feature-shift ({N_FEATURES} features)": (
            [mlobs, "logs", "feature-shift", "--source", path, "--baseline",
             f"{iso(BASELINE[0])}..{iso(BASELINE[1])}", "--current", f"{iso(CURRENT[0])}..{iso(CURRENT[1])}",
             "-o", "json"],
            [sys.executable, __file__, "--direct", "shift", path], check_shift),
    }
    report = {}
    for name, (cli_argv, direct_argv, check) in cases.items():
        cli_times, direct_times = [], []
        for _ in range(args.repeat):
            t, out = timed(cli_argv)
            cli_times.append(t)
            t, ref = timed(direct_argv)
            direct_times.append(t)
            check(json.loads(out), json.loads(ref))
            print(f"  {name}: mlobs {cli_times[-1]:.2f} s, direct {direct_times[-1]:.2f} s", file=sys.stderr)
        a, b = statistics.median(cli_times), statistics.median(direct_times)
        report[name] = {"mlobs_s": round(a, 3), "direct_duckdb_s": round(b, 3), "ratio": round(a / b, 3)}
    if args.json:
        print(json.dumps({"rows": args.rows, "cases": report}, indent=2))
        return
    print(f"{args.rows:,} rows, {path}, median of {args.repeat}")
    print(f"{'query':32} {'mlobs':>8} {'direct':>8} {'ratio':>6}")
    for name, r in report.items():
        print(f"{name:32} {r['mlobs_s']:>7.2f}s {r['direct_duckdb_s']:>7.2f}s {r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
