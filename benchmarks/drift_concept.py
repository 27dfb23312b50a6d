"""Benchmark: `mlobs drift concept` on 10,000,000 prediction-log rows in Parquet with 1,000,000 late labels, against
the same join and aggregation written directly in DuckDB's Python API, in the same run.

    python benchmarks/drift_concept.py [--rows N] [--repeat N] [--regenerate] [--json]

The rows are generated once (fixed seed, through DuckDB) into benchmarks/data/concept-<N>/{logs,labels}.parquet,
which git ignores, and rebuilt when missing or when --rows, the seed or the generator version differ from
dataset.json: eight days of one model's predictions (the first seven the baseline, the last the current period,
cut into 24 windows of 1 h), output scores as unrounded doubles (so the calibration sees one distinct score per
labelled prediction, the worst case), an accuracy drop of 10 points planted in the last 12 hours, and labels for
a tenth of the predictions (--rows / 10), plus 1% of them labelled twice (an earlier, wrong label first) and 0.5%
for prediction ids that are in no log.

Each side runs in a fresh subprocess, so interpreter start-up and imports count on both; the runs take turns
(mlobs, direct, mlobs, direct...) and the median of --repeat runs counts. mlobs's peak memory is its own
ru_maxrss from wait4 on its pid (DuckDB allocates outside Python's heap, which tracemalloc cannot see). The
direct side must give the same numbers (accuracy, labelled count and predictions of the baseline and of every
window, the t-test's p-value, the JS divergence of the scores and the PSI of the classes, to 1e-9) or the
benchmark fails with exit 2. Targets (the model-quality issue): within 1.5x of the direct query, peak RSS under
2 GB.

This process imports only the standard library, and generates the data in a child: Linux carries a parent's
high-water RSS into a child at exec.
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

from drift_compare import BenchmarkError, machine, mlobs_command, run_measured

ROOT = Path(__file__).resolve().parent
GENERATOR_VERSION = 1
SEED = 42
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 8
BASELINE = (START, START + timedelta(days=7))
CURRENT = (START + timedelta(days=7), START + timedelta(days=8))
WINDOW_S = 3600
DROP_FROM = CURRENT[0] + timedelta(hours=12)
LABELLED = 0.1  # share of predictions with a label
THRESHOLD = 0.6  # log.confidence_threshold's default: the "share < 0.6" column
MIN_LABELS = 30
BINS = 10  # drift compare's default quantile bins
EPSILON = 1e-4  # drift compare's PSI floor
TARGET_RATIO = 1.5
TARGET_PEAK_GB = 2.0
GB = 1e9
TOLERANCE = 1e-9


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- data ---------------------------------------------------------------------------------------------------------

def generate(folder: Path, rows: int) -> None:
    """Logs and labels from the same draws: a prediction is right with probability its score (calibrated), 10
    points less in the planted drop."""
    import duckdb

    seconds = DAYS * 86400
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SELECT setseed({SEED / 100})")
    con.execute(f"""
        CREATE TEMP TABLE g AS
        SELECT i, ts, score, predicted, random() < score - CASE WHEN ts >= TIMESTAMPTZ '{DROP_FROM.isoformat()}'
                                                           THEN 0.1 ELSE 0 END AS correct,
               random() < {LABELLED} AS labelled, random() < 0.01 AS twice, random() * 6 * 3600 AS delay_s
        FROM (SELECT i, TIMESTAMPTZ '{START.isoformat()}' + to_microseconds((i * {seconds}::BIGINT * 1000000)
                     // {rows}) AS ts, 0.5 + 0.5 * sqrt(random()) AS score,
                     CASE WHEN random() < 0.3 THEN 'fraud' ELSE 'legit' END AS predicted
              FROM range({rows}) r(i))""")
    logs, labels = folder / "logs.tmp.parquet", folder / "labels.tmp.parquet"
    con.execute(f"""
        COPY (SELECT ts AS "timestamp", 'p' || i AS prediction_id, 'fraud-det' AS model_id, 'v1' AS model_version,
                     'SUCCESS' AS status, predicted AS output_class, score AS output_score
              FROM g ORDER BY i) TO '{logs}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    other = "CASE WHEN predicted = 'fraud' THEN 'legit' ELSE 'fraud' END"
    con.execute(f"""
        COPY (
            SELECT 'p' || i AS prediction_id, CASE WHEN correct THEN predicted ELSE {other} END AS label,
                   ts + to_microseconds(CAST(delay_s * 1e6 AS BIGINT)) AS labeled_at
            FROM g WHERE labelled
            UNION ALL  -- an earlier, wrong label of the same prediction: the later one must win
            SELECT 'p' || i, CASE WHEN correct THEN {other} ELSE predicted END,
                   ts + to_microseconds(CAST(delay_s * 0.5e6 AS BIGINT)) FROM g WHERE labelled AND twice
            UNION ALL  -- labels of predictions that are in no log
            SELECT 'gone' || i, 'legit', TIMESTAMPTZ '{CURRENT[0].isoformat()}'
            FROM range({rows // 2000}) r(i)
        ) TO '{labels}' (FORMAT parquet)""")
    con.close()
    logs.replace(folder / "logs.parquet")
    labels.replace(folder / "labels.parquet")


def dataset(rows: int, regenerate: bool) -> Path:
    folder = ROOT / "data" / f"concept-{rows}"
    meta = folder / "dataset.json"
    want = {"rows": rows, "seed": SEED, "generator": GENERATOR_VERSION}
    fresh = all((folder / f).exists() for f in ("logs.parquet", "labels.parquet", "dataset.json"))
    if regenerate or not fresh or json.loads(meta.read_text()) != want:
        folder.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} rows into {folder} ...", file=sys.stderr)
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--generate", str(folder), str(rows)], check=True)
        meta.write_text(json.dumps(want))
        print(f"  {time.monotonic() - started:.0f} s, {(folder / 'logs.parquet').stat().st_size / 1e6:.0f} MB + "
              f"{(folder / 'labels.parquet').stat().st_size / 1e6:.0f} MB", file=sys.stderr)
    return folder


# -- the direct queries, in a child: `python drift_concept.py --direct FOLDER` -----------------------------------

def direct(folder: str) -> dict:
    """What `drift concept` reports, as one would write it in DuckDB: the latest label per prediction (arg_max
    over labeled_at) joined to the logs, counts per window, period and class, the scores' quantile bins, and the
    estimated accuracy (scores calibrated by scipy's isotonic fit of the labelled baseline, mean per window)."""
    import duckdb
    import numpy as np
    from scipy.optimize import isotonic_regression
    from scipy.special import stdtr

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.read_parquet(f"{folder}/logs.parquet").create_view("logs")
    con.read_parquet(f"{folder}/labels.parquet").create_view("labels")
    (b0, b1), (c0, c1) = BASELINE, CURRENT
    # window -1 is the baseline, 0..23 the current windows
    win = (f"CASE WHEN \"timestamp\" < ? THEN -1 ELSE CAST(floor((epoch(\"timestamp\") - {c0.timestamp()}) / "
           f"{WINDOW_S}) AS INTEGER) END")
    con.execute("CREATE TEMP TABLE latest AS SELECT prediction_id, arg_max(label, labeled_at) AS label FROM labels "
                "GROUP BY 1")
    rows = con.execute(f"""
        WITH w AS (SELECT {win} AS w, output_class, output_score, prediction_id FROM logs
                   WHERE "timestamp" >= ? AND "timestamp" < ?)
        SELECT w.w, count(*), count(l.label), count(*) FILTER (WHERE l.label = w.output_class),
               count(*) FILTER (WHERE l.label = 'fraud' AND w.output_class = 'fraud'),
               count(*) FILTER (WHERE l.label IS NOT NULL AND (l.label = 'fraud') <> (w.output_class = 'fraud')),
               avg(output_score), avg(CAST(output_score < {THRESHOLD} AS INTEGER)),
               count(*) FILTER (WHERE output_class = 'fraud')
        FROM w LEFT JOIN latest l USING (prediction_id) GROUP BY 1 ORDER BY 1""", [c0, b0, c1]).fetchall()
    stats = {r[0]: r[1:] for r in rows}
    edges = np.unique(con.execute("SELECT quantile_cont(output_score, ?) FROM logs WHERE \"timestamp\" >= ? AND "
                                  "\"timestamp\" < ?", [[i / BINS for i in range(1, BINS)], b0, b1]).fetchone()[0])
    binned = " + ".join(f"CAST(output_score > {float(e)!r} AS INTEGER)" for e in edges)
    counts = np.zeros((2, len(edges) + 1))
    for p, b, n in con.execute(f"SELECT \"timestamp\" >= ?, {binned}, count(*) FROM logs WHERE \"timestamp\" >= ? "
                               "AND \"timestamp\" < ? GROUP BY ALL", [c0, b0, c1]).fetchall():
        counts[int(p), b] = n

    # CBPE: scores calibrated by the isotonic fit of the labelled baseline, averaged per window
    x, n, k = con.execute("SELECT output_score, count(*), count(*) FILTER (WHERE l.label = output_class) FROM logs "
                          "JOIN latest l USING (prediction_id) WHERE \"timestamp\" >= ? AND \"timestamp\" < ? "
                          "GROUP BY 1 ORDER BY 1", [b0, b1]).fetchnumpy().values()
    fit = isotonic_regression(k / n, weights=n.astype(float))
    keep = np.unique(np.r_[fit.blocks[:-1], np.asarray(fit.blocks[1:]) - 1])
    idx, score = con.execute(f"SELECT {win}, output_score FROM logs WHERE \"timestamp\" >= ? AND \"timestamp\" < ?",
                             [c0, b0, c1]).fetchnumpy().values()
    calibrated = np.interp(score, x[keep], fit.x[keep])
    estimated = np.bincount(idx + 1, weights=calibrated) / np.bincount(idx + 1)

    def quality(n, labelled, right, tp, wrong_fraud, *_):
        f1 = 2 * tp / (2 * tp + wrong_fraud) if labelled and 2 * tp + wrong_fraud else (0.0 if labelled else None)
        return {"predictions": n, "labelled": labelled, "accuracy": right / labelled if labelled else None,
                "f1": f1}

    base = {**quality(*stats[-1]), "estimated_accuracy": float(estimated[0])}
    windows = [{**quality(*stats[i]), "estimated_accuracy": float(estimated[i + 1])} for i in range(24)]
    used = np.array([w["accuracy"] for w in windows if w["labelled"] >= MIN_LABELS])
    t = (used.mean() - base["accuracy"]) / (used.std(ddof=1) / np.sqrt(used.size))
    r, c = counts / counts.sum(axis=1, keepdims=True)
    m = (r + c) / 2
    js = float((np.sum(r[r > 0] * np.log2(r[r > 0] / m[r > 0])) + np.sum(c[c > 0] * np.log2(c[c > 0] / m[c > 0])))
               / 2)
    fraud = [stats[-1][-1], sum(s[-1] for k, s in stats.items() if k >= 0)]
    totals = [stats[-1][0], sum(s[0] for k, s in stats.items() if k >= 0)]
    shares = np.maximum(np.array([[f / t, 1 - f / t] for f, t in zip(fraud, totals)]), EPSILON)
    psi = float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0])))
    return {"baseline": base, "windows": windows, "p_value": float(stdtr(used.size - 1, t)), "js": js, "psi": psi}


# -- measuring ----------------------------------------------------------------------------------------------------

def check(cli: dict, ref: dict) -> None:
    """The report's numbers against the direct query's."""
    def near(what: str, a: float | None, b: float | None) -> None:
        if (a is None) != (b is None) or (a is not None and abs(a - b) > TOLERANCE * max(1.0, abs(b))):
            raise BenchmarkError(f"{what}: mlobs {a} vs direct {b}")

    got_windows = cli["windows"]
    if len(got_windows) != len(ref["windows"]):
        raise BenchmarkError(f"{len(got_windows)} windows from mlobs, {len(ref['windows'])} direct")
    for name, got, want in [("baseline", cli["baseline"], ref["baseline"]),
                            *((f"window {i}", g, w) for i, (g, w) in enumerate(zip(got_windows, ref["windows"])))]:
        for key in ("predictions", "labelled", "accuracy", "f1", "estimated_accuracy"):
            near(f"{name} {key}", got[key], want[key])
    near("p_value", cli["p_value"], ref["p_value"])
    indicators = {i["name"]: i["value"] for i in cli["indicators"]}
    near("JS of output_score", indicators["confidence_shift"], ref["js"])
    near("PSI of output_class", indicators["class_distribution_shift"], ref["psi"])
    if cli["verdict"]["drift_type"] != "concept_drift":
        raise BenchmarkError(f"verdict {cli['verdict']['drift_type']}: the planted drop was not found")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="log rows (labels: a tenth)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--direct", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("FOLDER", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(Path(args.generate[0]), int(args.generate[1]))
        return 0
    if args.direct:
        print(json.dumps(direct(args.direct)))
        return 0
    folder = dataset(args.rows, args.regenerate)
    cli = [*mlobs_command(), "drift", "concept", "--source", str(folder / "logs.parquet"),
           "--labels", str(folder / "labels.parquet"), "--baseline", f"{iso(BASELINE[0])}..{iso(BASELINE[1])}",
           "--current", f"{iso(CURRENT[0])}..{iso(CURRENT[1])}", "--window", f"{WINDOW_S}s", "-o", "json"]
    ref = [sys.executable, __file__, "--direct", str(folder)]
    os.environ["NO_COLOR"] = "1"
    runs: dict[str, list] = {"mlobs": [], "direct": []}
    try:
        for _ in range(args.repeat):
            a = run_measured(cli, 1)  # exit 1: the planted drop is concept drift
            b = run_measured(ref, 0)
            check(json.loads(a.stdout), json.loads(b.stdout))
            runs["mlobs"].append(a)
            runs["direct"].append(b)
            print(f"  mlobs {a.seconds:.2f} s ({a.peak_rss_bytes / GB:.3f} GB), direct {b.seconds:.2f} s "
                  f"({b.peak_rss_bytes / GB:.3f} GB)", file=sys.stderr)
    except BenchmarkError as e:
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 2
    med = {k: statistics.median(r.seconds for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r.cpu_seconds for r in v) for k, v in runs.items()}
    peak = {k: max(r.peak_rss_bytes for r in v) / GB for k, v in runs.items()}
    ratio = med["mlobs"] / med["direct"]
    figures = {"rows": args.rows, "repeat": args.repeat, "machine": machine(),
               "mlobs_s": round(med["mlobs"], 3), "direct_s": round(med["direct"], 3), "ratio": round(ratio, 3),
               "mlobs_cpu_s": round(cpu["mlobs"], 3), "direct_cpu_s": round(cpu["direct"], 3),
               "mlobs_peak_rss_gb": round(peak["mlobs"], 3), "direct_peak_rss_gb": round(peak["direct"], 3),
               "runs_s": {k: [round(r.seconds, 3) for r in v] for k, v in runs.items()}}
    passed = ratio <= TARGET_RATIO and peak["mlobs"] < TARGET_PEAK_GB
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
        return 0 if passed else 1
    m = figures["machine"]
    print(f"mlobs drift concept: {args.rows:,} log rows, {args.rows // 10:,} labelled (+1% twice, +0.5% unknown), "
          f"24 windows, median of {args.repeat}")
    print(f"machine: {m['cpus_usable']} usable CPUs, {m['cpu_model']}; Python {m['python']}, duckdb {m['duckdb']}\n")
    print(f"{'':36}{'time (s)':>10}{'CPU (s)':>10}{'peak RSS (GB)':>15}")
    for label, k in (("(a) mlobs drift concept -o json", "mlobs"), ("(b) direct DuckDB join + aggregation", "direct")):
        print(f"{label:36}{med[k]:>10.2f}{cpu[k]:>10.2f}{peak[k]:>15.3f}")
    print(f"{'ratio a/b':36}{ratio:>10.2f}{cpu['mlobs'] / cpu['direct']:>10.2f}\n")
    print(f"{'target (from the issue)':36}{'measured':>10}")
    print(f"{'(a) within 1.5x of (b)':36}{ratio:>9.2f}x  {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    print(f"{'(a) peak RSS < 2 GB':36}{peak['mlobs']:>7.3f} GB  {'PASS' if peak['mlobs'] < TARGET_PEAK_GB else 'FAIL'}")
    print(f"runs (s): (a) {' '.join(f'{r.seconds:.2f}' for r in runs['mlobs'])}; "
          f"(b) {' '.join(f'{r.seconds:.2f}' for r in runs['direct'])}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
