"""`trace breakdown` and `trace compare` over generated OTLP files, every number against numpy computed here.

The reference self time is measured on a 1 ms grid (a boolean mask of the parent's time its children cover), a
different method from the stores' interval union; percentiles are numpy's default (linear), as DuckDB's
quantile_cont. Tolerance: 1e-9 relative (float rounding only).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from mlobs_cli.backends.tracestore.files import FileTraceStore
from mlobs_cli.logs.query import Window
from mlobs_cli.trace import tree
from tests.trace import otlp

N_TRACES = 300
STAGES = ("gateway.auth", "server.queue_wait", "server.preprocess", "gpu.forward_pass", "server.postprocess")


def one(tid: str, t0: int, queue: int, forward: int, pre: int, skew: int = 0) -> list[dict]:
    """The design's shape with integer-ms times: sequential stages, a tokenizer running beside preprocess
    (parallel children), a forward pass with a child; `skew` shifts the queue wait (another clock)."""
    spans = [otlp.span(tid, "01", "", "gateway.request", t0, 0, service="gateway", model_id="llm-7b")]
    t = t0 + 1
    spans.append(otlp.span(tid, "02", "01", "gateway.auth", t, t + 2, service="gateway"))
    t += 2
    spans.append(otlp.span(tid, "03", "01", "server.queue_wait", t + skew, t + queue + skew))
    t += queue
    spans.append(otlp.span(tid, "04", "01", "server.preprocess", t, t + pre))
    spans.append(otlp.span(tid, "05", "01", "tokenize", t + 1, t + pre + 3))  # beside preprocess, longer
    t += pre + 3
    spans.append(otlp.span(tid, "06", "01", "gpu.forward_pass", t, t + forward, gpu_id="0", batch_size=8))
    spans.append(otlp.span(tid, "07", "06", "gpu.kernel", t + 2, t + forward - 3))
    t += forward
    spans.append(otlp.span(tid, "08", "01", "server.postprocess", t, t + 1))
    spans[0]["end"] = t + 2
    return spans


def generated(seed: int = 7) -> list[list[dict]]:
    """N_TRACES of `one`, a second apart; every 10th with the serving clock 2 ms early, two stuck in the queue."""
    rng = np.random.default_rng(seed)
    return [one(f"{i + 1:x}", i * 1000, queue=int(rng.integers(1, 60)) if i % 150 else 400,
                forward=int(rng.integers(15, 40)), pre=int(rng.integers(2, 8)), skew=-2 if i % 10 == 0 else 0)
            for i in range(N_TRACES)]


def reference(traces: list[list[dict]]) -> dict[str, dict[str, np.ndarray]]:
    """Per span name: durations and self times (grid method), and per trace the e2e latency and stage sums."""
    out: dict[str, dict[str, list[float]]] = {}
    e2e, per_trace = [], []
    for spans in traces:
        by_id = {sp["span"]: sp for sp in spans}
        sums: dict[str, float] = {}
        for sp in spans:
            lo, hi = int(sp["start"]), int(sp["end"])
            covered = np.zeros(hi - lo, dtype=bool)
            for kid in spans:
                if kid["parent"] == sp["span"]:
                    covered[max(int(kid["start"]), lo) - lo:max(min(int(kid["end"]), hi) - lo, 0)] = True
            own = (hi - lo) - covered.sum()
            rec = out.setdefault(sp["name"], {"dur": [], "self": []})
            rec["dur"].append(hi - lo)
            rec["self"].append(own)
            sums[sp["name"]] = sums.get(sp["name"], 0) + own
        root = next(sp for sp in spans if not sp["parent"])
        e2e.append(root["end"] - root["start"])
        per_trace.append(sums)
        assert by_id  # every trace has spans
    ref = {name: {k: np.array(v, dtype=float) for k, v in rec.items()} for name, rec in out.items()}
    ref["_e2e"] = {"all": np.array(e2e, dtype=float)}
    ref["_stage"] = {name: np.array([s[name] for s in per_trace], dtype=float) for name in out}
    return ref


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[str, list[list[dict]]]:
    """The traces in two files, each trace split between them (and the second gzipped), as a glob."""
    traces = generated()
    root = tmp_path_factory.mktemp("traces")
    first = [otlp.document(spans[:4]) for spans in traces]
    second = [otlp.document(spans[4:]) for spans in traces]
    otlp.write(root / "a.jsonl", first)
    with gzip.open(root / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(d) + "\n" for d in second))
    return str(root / "*.jsonl*"), traces


Q = (0.5, 0.95, 0.99)


def test_breakdown_matches_numpy(files):
    pattern, traces = files
    ref = reference(traces)
    store = FileTraceStore(pattern)
    totals, rows = store.stages(Window(None, None), None, 0.05, Q)
    by = {(r.group, r.name): r for r in rows}
    e2e = ref["_e2e"]["all"]
    assert {t.group: t.traces for t in totals} == {"all": N_TRACES, "slowest": int((e2e >= np.quantile(e2e, 0.95)).sum())}
    total_all = next(t for t in totals if t.group == "all")
    np.testing.assert_allclose(total_all.e2e, np.quantile(e2e * 1e6, Q), rtol=1e-9)
    for name, rec in ref.items():
        if name.startswith("_"):
            continue
        row = by[("all", name)]
        assert row.spans == len(rec["dur"])
        np.testing.assert_allclose(row.duration, np.quantile(rec["dur"] * 1e6, Q), rtol=1e-9)
        np.testing.assert_allclose(row.self_time, np.quantile(rec["self"] * 1e6, Q), rtol=1e-9)
        np.testing.assert_allclose(row.stage, np.quantile(ref["_stage"][name] * 1e6, Q), rtol=1e-9)
        assert row.total_self == pytest.approx(rec["self"].sum() * 1e6, rel=1e-9)
    # the slowest 5% by end-to-end latency: every number again over those traces only
    slow = e2e >= np.quantile(e2e, 0.95)
    total_slow = next(t for t in totals if t.group == "slowest")
    np.testing.assert_allclose(total_slow.e2e, np.quantile(e2e[slow] * 1e6, Q), rtol=1e-9)
    assert total_slow.total == pytest.approx(e2e[slow].sum() * 1e6, rel=1e-9)
    assert total_slow.without_root == 0
    for name, rec in ref.items():
        if name.startswith("_"):
            continue
        row = by[("slowest", name)]
        # each name occurs once per trace here, so the spans line up with the traces
        assert (row.spans, row.traces) == (slow.sum(), slow.sum())
        np.testing.assert_allclose(row.duration, np.quantile(rec["dur"][slow] * 1e6, Q), rtol=1e-9)
        np.testing.assert_allclose(row.self_time, np.quantile(rec["self"][slow] * 1e6, Q), rtol=1e-9)
        np.testing.assert_allclose(row.stage, np.quantile(ref["_stage"][name][slow] * 1e6, Q), rtol=1e-9)
        assert row.total_self == pytest.approx(rec["self"][slow].sum() * 1e6, rel=1e-9)
        assert row.root is (name == "gateway.request")


def test_a_trace_written_twice_counts_once(files, tmp_path):
    """A Collector that retried an export writes the same spans again: the numbers are those of one copy."""
    pattern, traces = files
    once = FileTraceStore(pattern).stages(Window(None, None), None, 0.05, Q)
    for f in Path(pattern).parent.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    otlp.write(tmp_path / "again.jsonl", [otlp.document(spans) for spans in traces[:40]])
    twice = FileTraceStore(str(tmp_path / "*.jsonl*")).stages(Window(None, None), None, 0.05, Q)
    assert len(twice[1]) == len(once[1]) > 0
    assert sorted(twice[0], key=str) == sorted(once[0], key=str)
    assert sorted(twice[1], key=str) == sorted(once[1], key=str)


def test_the_window_edges_hold_the_traces_that_start_inside(files):
    """[from, to): a trace is in when its first span starts at or after `from` and before `to`, whichever edges
    fall inside the file's time range."""
    pattern, _ = files
    store = FileTraceStore(pattern)
    at = lambda s: datetime.fromtimestamp(otlp.T0 / 1e9 + s, UTC)  # noqa: E731
    for lo, hi, expected in ((10, 20, 10), (10, 10**6, N_TRACES - 10), (-10**6, 20, 20), (-10**6, 10**6, N_TRACES),
                             (N_TRACES, 10**6, 0)):
        totals, _ = store.stages(Window(at(lo), at(hi)), None, 0.05, Q)
        assert next(t.traces for t in totals if t.group == "all") == expected, (lo, hi)


def test_the_tree_and_the_sql_give_the_same_self_times(files):
    """trace show (Python) and trace breakdown (DuckDB) apply the same rules."""
    pattern, traces = files
    store = FileTraceStore(pattern)
    ref = reference(traces)
    selfs: dict[str, list[float]] = {}
    for spans in traces[:60]:
        tid = spans[0]["trace"].rjust(32, "0")
        t = tree.build(tid, store.trace(tid))
        assert len(t.nodes) == len(spans)  # both files were read
        for node in t.nodes:
            selfs.setdefault(node.span.name, []).append(node.self_ns / 1e6)
    for name, values in selfs.items():
        np.testing.assert_allclose(values, ref[name]["self"][:60], rtol=1e-9)


def test_breakdown_cli_shares_and_the_dominant_stage(cli, files):
    pattern, traces = files
    report = cli.json("trace", "breakdown", "--source", pattern, "--from", "2026-11-01", "--to", "2026-12-31",
                      "--slowest", "2%", expect=0)
    ref = reference(traces)
    e2e = ref["_e2e"]["all"]
    groups = {g["group"]: g for g in report["groups"]}
    stage = {s["name"]: s for s in groups["all"]["stages"]}
    q = ref["_stage"]["gpu.forward_pass"]
    assert stage["gpu.forward_pass"]["share_p50"] == pytest.approx(np.quantile(q, 0.5) / np.quantile(e2e, 0.5),
                                                                   rel=1e-9)
    # tokenize runs beside preprocess, so the self times add up to more than the latency
    total_self = sum(rec["self"].sum() for name, rec in ref.items() if not name.startswith("_"))
    assert sum(s["time_share"] for s in groups["all"]["stages"]) == pytest.approx(total_self / e2e.sum(), rel=1e-9)
    # the slowest 2% are the requests stuck 400 ms in the queue
    assert groups["slowest"]["dominant_stage"] == "server.queue_wait"
    assert groups["all"]["dominant_stage"] == "gpu.forward_pass" or groups["all"]["dominant_stage"] == \
        "server.queue_wait"
    assert stage["gateway.request"]["root"] is True


def test_model_and_window_narrow_the_traces(cli, files):
    pattern, _ = files
    none = cli.json("trace", "breakdown", "--source", pattern, "--from", "2026-11-01", "--to", "2026-12-31",
                    "--model", "other", expect=0)
    assert [g["traces"] for g in none["groups"]] == [0, 0]
    # the traces start at T0 + i seconds: the first 100 seconds hold 100 of them
    start = otlp.T0 // 10**9
    some = cli.json("trace", "breakdown", "--source", pattern, "--from", str(start), "--to", str(start + 100),
                    expect=0)
    assert some["groups"][0]["traces"] == 100


def test_compare_names_the_abnormal_stage(cli, files, tmp_path):
    pattern, _ = files
    start = otlp.T0 // 10**9
    incident = [otlp.document(one("beef", 400_000, queue=180, forward=25, pre=4))]
    path = otlp.write(tmp_path / "incident.jsonl", incident)
    # the baseline is the generated traces; the incident's trace is read from the same store as them
    both = str(tmp_path / "all")
    Path(both).mkdir()
    for f in Path(pattern).parent.iterdir():
        (Path(both) / f.name).write_bytes(f.read_bytes())
    (Path(both) / "incident.jsonl").write_bytes(path.read_bytes())
    result = cli("trace", "compare", "beef", "--source", f"{both}/*", "--baseline", f"{start}..{start + 300}",
                 "-o", "json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    verdicts = {s["name"]: s["verdict"] for s in report["stages"]}
    assert verdicts["server.queue_wait"] == "abnormal"
    assert verdicts["gpu.forward_pass"] == "normal"
    queue = next(s for s in report["stages"] if s["name"] == "server.queue_wait")
    ref = reference(generated())["server.queue_wait"]["self"]
    assert queue["self_rank"] == pytest.approx(((ref < 180).sum() + 0.5 * (ref == 180).sum()) / len(ref), rel=1e-9)
    assert queue["baseline_self_ms"]["p99"] == pytest.approx(np.quantile(ref, 0.99), rel=1e-9)
    assert [f["subject"] for f in report["findings"]] == ["server.queue_wait"]
    assert cli("trace", "compare", "beef", "--source", f"{both}/*", "--baseline", f"{start}..{start + 300}",
               "--exit-zero").exit_code == 0


def test_a_stage_with_two_spans_in_a_trace_sums_their_self_times(tmp_path):
    """A retried forward pass: the stage's time in the trace is both spans' self times (20 + 10 ms, the second
    with a 4 ms child of its own), while the span rows count each span; checked by hand."""
    traces = []
    for i, root in enumerate((100, 120, 140)):
        tid, t0 = f"{i + 1:x}", i * 1000
        traces.append([otlp.span(tid, "01", "", "gateway.request", t0, t0 + root),
                       otlp.span(tid, "02", "01", "gpu.forward_pass", t0 + 10, t0 + 30),
                       otlp.span(tid, "03", "01", "gpu.forward_pass", t0 + 50, t0 + 64),
                       otlp.span(tid, "04", "03", "gpu.kernel", t0 + 55, t0 + 59)])
    otlp.write(tmp_path / "t.jsonl", [otlp.document(spans) for spans in traces])
    totals, rows = FileTraceStore(str(tmp_path / "t.jsonl")).stages(Window(None, None), None, 0.05, Q)
    fwd = next(r for r in rows if (r.group, r.name) == ("all", "gpu.forward_pass"))
    assert (fwd.spans, fwd.traces) == (6, 3)
    np.testing.assert_allclose(fwd.stage, [30e6] * 3, rtol=1e-9)
    np.testing.assert_allclose(fwd.self_time, np.quantile([20e6, 10e6] * 3, Q), rtol=1e-9)
    root = next(r for r in rows if (r.group, r.name) == ("all", "gateway.request"))
    np.testing.assert_allclose(root.stage, np.quantile([66e6, 86e6, 106e6], Q), rtol=1e-9)
    slowest = next(r for r in rows if (r.group, r.name) == ("slowest", "gpu.forward_pass"))
    assert (slowest.spans, slowest.traces) == (2, 1)
