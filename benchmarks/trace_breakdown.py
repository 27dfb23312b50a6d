"""Benchmark: `mlobs trace breakdown` over 1,000,000 spans of OTLP JSON, against DuckDB reading and aggregating
the same file directly (per span name, p50/p95/p99 of duration), in the same run.

    python benchmarks/trace_breakdown.py [--spans N] [--repeat N] [--regenerate] [--json]

The file is generated once (fixed seed, written by DuckDB) into benchmarks/data/traces-<N>/traces.jsonl, which git
ignores: one OTLP `{"resourceSpans": [...]}` document per trace, the design's 7 spans each, times in nanoseconds
as strings (as the Collector's file exporter writes them). Each measured command runs in a fresh subprocess, so
start-up and imports count on both sides; runs take turns and the median of --repeat counts. mlobs computes more
than the reference (self times, end-to-end shares, the slowest 1% apart): the reference is the floor, the cost of
reading the file and one aggregation. The duration percentiles of both must agree (1e-9 relative), or the
benchmark fails with exit 2. Target: within 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
GENERATOR_VERSION = 1
SEED = 0.42
SPANS_PER_TRACE = 7
T0 = 1_796_000_000  # 2026-11-30, seconds
WINDOW = (T0 - 1, T0 + 10**7)
TARGET = 2.0

GENERATE = """
COPY (
  WITH t AS (SELECT i, lpad(printf('%x', i + 1), 32, '0') AS tid,
                    (({t0} + i * 0.01) * 1e9)::BIGINT AS t0,
                    (random() * 60e6)::BIGINT AS queue, (15e6 + random() * 25e6)::BIGINT AS fwd
             FROM range({traces}) r(i)),
  s AS (SELECT tid, t0, queue, fwd,
               [struct_pack(k := 'model_id', v := struct_pack(stringValue := 'llm-' || (i % 3)::VARCHAR))] AS attrs
        FROM t)
  SELECT [struct_pack(
            resource := struct_pack(attributes := [struct_pack(key := 'service.name',
                                                               value := struct_pack(stringValue := 'serving'))]),
            scopeSpans := [struct_pack(scope := struct_pack(name := 'bench'), spans := [
              struct_pack(traceId := tid, spanId := '00000000000000a1', parentSpanId := '', name := 'gateway.request',
                          startTimeUnixNano := t0::VARCHAR,
                          endTimeUnixNano := (t0 + 4e6 + queue + fwd)::BIGINT::VARCHAR,
                          attributes := [struct_pack(key := 'model_id', value := attrs[1].v)]),
              struct_pack(traceId := tid, spanId := '00000000000000a2', parentSpanId := '00000000000000a1',
                          name := 'gateway.auth', startTimeUnixNano := t0::VARCHAR,
                          endTimeUnixNano := (t0 + 1e6)::BIGINT::VARCHAR, attributes := []),
              struct_pack(traceId := tid, spanId := '00000000000000a3', parentSpanId := '00000000000000a1',
                          name := 'router.ab_decision', startTimeUnixNano := (t0 + 1e6)::BIGINT::VARCHAR,
                          endTimeUnixNano := (t0 + 15e5)::BIGINT::VARCHAR, attributes := []),
              struct_pack(traceId := tid, spanId := '00000000000000a4', parentSpanId := '00000000000000a1',
                          name := 'server.queue_wait', startTimeUnixNano := (t0 + 15e5)::BIGINT::VARCHAR,
                          endTimeUnixNano := (t0 + 15e5 + queue)::BIGINT::VARCHAR, attributes := []),
              struct_pack(traceId := tid, spanId := '00000000000000a5', parentSpanId := '00000000000000a1',
                          name := 'server.preprocess', startTimeUnixNano := (t0 + 15e5 + queue)::BIGINT::VARCHAR,
                          endTimeUnixNano := (t0 + 25e5 + queue)::BIGINT::VARCHAR, attributes := []),
              struct_pack(traceId := tid, spanId := '00000000000000a6', parentSpanId := '00000000000000a1',
                          name := 'gpu.forward_pass', startTimeUnixNano := (t0 + 25e5 + queue)::BIGINT::VARCHAR,
                          endTimeUnixNano := (t0 + 25e5 + queue + fwd)::BIGINT::VARCHAR, attributes := []),
              struct_pack(traceId := tid, spanId := '00000000000000a7', parentSpanId := '00000000000000a1',
                          name := 'server.postprocess', startTimeUnixNano := (t0 + 25e5 + queue + fwd)::BIGINT::VARCHAR,
                          endTimeUnixNano := (t0 + 35e5 + queue + fwd)::BIGINT::VARCHAR, attributes := [])
            ])])] AS resourceSpans
  FROM s ORDER BY tid
) TO '{path}' (FORMAT json)
"""

# The reference: what one would type in DuckDB to get the same percentiles from the file.
DIRECT = """
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
  WITH r AS (SELECT unnest(resourceSpans) AS rs FROM read_json(?, format = 'newline_delimited')),
  s AS (SELECT unnest(rs.scopeSpans) AS ss FROM r),
  p AS (SELECT unnest(ss.spans) AS span FROM s)
  SELECT span.name, count(*),
         quantile_cont(span.endTimeUnixNano::BIGINT - span.startTimeUnixNano::BIGINT, [0.5, 0.95, 0.99])
  FROM p GROUP BY 1 ORDER BY 1''', [sys.argv[1]]).fetchall()
print(json.dumps({name: [n, q] for name, n, q in rows}))
"""


def generate(path: Path, spans: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SELECT setseed({SEED})")
    tmp = path.with_suffix(".tmp")
    con.execute(GENERATE.format(t0=T0, traces=spans // SPANS_PER_TRACE, path=tmp))
    tmp.rename(path)


def dataset(spans: int, regenerate: bool) -> Path:
    folder = ROOT / "data" / f"traces-{spans}"
    folder.mkdir(parents=True, exist_ok=True)
    path, meta = folder / "traces.jsonl", folder / "dataset.json"
    want = {"spans": spans, "seed": SEED, "version": GENERATOR_VERSION}
    if regenerate or not path.exists() or not meta.exists() or json.loads(meta.read_text()) != want:
        print(f"generating {spans:,} spans...", file=sys.stderr)
        generate(path, spans)
        meta.write_text(json.dumps(want))
    return path


def run(argv: list[str]) -> tuple[float, float, float, str]:
    """(wall s, cpu s, peak RSS GB, stdout) of a fresh child, measured by wait4."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(argv[:3])}... exited {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = dataset(args.spans, args.regenerate)
    mlobs = [str(Path(sys.executable).with_name("mlobs")), "trace", "breakdown", "--source", str(path),
             "--from", str(WINDOW[0]), "--to", str(WINDOW[1]), "-o", "json"]
    direct = [sys.executable, "-c", DIRECT, str(path)]
    cli_runs, direct_runs = [], []
    for _ in range(args.repeat):
        cli_runs.append(run(mlobs))
        direct_runs.append(run(direct))
    report = json.loads(cli_runs[-1][3])
    reference = json.loads(direct_runs[-1][3])
    stages = {s["name"]: s for s in report["groups"][0]["stages"]}
    for name, (count, quantiles) in reference.items():
        got = stages[name]
        ours = [got["duration_ms"][k] * 1e6 for k in ("p50", "p95", "p99")]
        if got["spans"] != count or any(abs(a - b) > 1e-9 * max(abs(b), 1) for a, b in zip(ours, quantiles)):
            sys.exit(f"{name}: mlobs {got['spans']} spans {ours}, DuckDB {count} spans {quantiles}")
    cli_wall = statistics.median(r[0] for r in cli_runs)
    direct_wall = statistics.median(r[0] for r in direct_runs)
    figures = {
        "spans": args.spans, "file_mb": round(path.stat().st_size / 2**20, 1),
        "mlobs_s": round(cli_wall, 3), "mlobs_cpu_s": round(statistics.median(r[1] for r in cli_runs), 3),
        "mlobs_peak_gb": round(max(r[2] for r in cli_runs), 3),
        "duckdb_s": round(direct_wall, 3), "duckdb_cpu_s": round(statistics.median(r[1] for r in direct_runs), 3),
        "duckdb_peak_gb": round(max(r[2] for r in direct_runs), 3),
        "ratio": round(cli_wall / direct_wall, 2), "target": TARGET,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"trace breakdown over {args.spans:,} spans ({figures['file_mb']} MB of OTLP JSON), median of "
          f"{args.repeat}")
    print(f"  mlobs trace breakdown  {cli_wall:7.2f} s  (cpu {figures['mlobs_cpu_s']:.2f} s, peak "
          f"{figures['mlobs_peak_gb']:.2f} GB)")
    print(f"  DuckDB directly        {direct_wall:7.2f} s  (cpu {figures['duckdb_cpu_s']:.2f} s, peak "
          f"{figures['duckdb_peak_gb']:.2f} GB)")
    print(f"  ratio {figures['ratio']:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
