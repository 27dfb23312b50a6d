"""Self time and critical path of one trace, each case computed by hand in the test (times in ms)."""

from __future__ import annotations

import pytest

from mlobs_cli.trace import tree
from mlobs_cli.trace.spans import Span

MS = 1_000_000


def s(span_id: str, parent: str, start: float, end: float, name: str | None = None, service: str = "svc") -> Span:
    return Span("t" * 32, span_id, parent, name or span_id, service, round(start * MS), round(end * MS))


def by_name(t: tree.TraceTree) -> dict[str, tree.Node]:
    return {n.span.name: n for n in t.nodes}


def path(t: tree.TraceTree) -> list[tuple[str, float, float]]:
    return [(seg.name, seg.start_ns / MS, seg.end_ns / MS) for seg in t.critical_path]


def test_sequential_children_leave_the_parent_its_gaps():
    t = tree.build("t", [s("r", "", 0, 40), s("a", "r", 1, 11), s("b", "r", 11, 31), s("c", "r", 35, 38)])
    nodes = by_name(t)
    # r: 40 - (10 + 20 + 3) = 7; each leaf is all self
    assert [nodes[n].self_ns / MS for n in "rabc"] == [7, 10, 20, 3]
    assert path(t) == [("r", 0, 1), ("a", 1, 11), ("b", 11, 31), ("r", 31, 35), ("c", 35, 38), ("r", 38, 40)]
    assert [nodes[n].critical_ns / MS for n in "rabc"] == [7, 10, 20, 3]


def test_parallel_children_are_not_subtracted_twice():
    # A [10, 60] and B [30, 80] overlap: their union is [10, 80], 70 ms, so r's self time is 100 - 70 = 30
    t = tree.build("t", [s("r", "", 0, 100), s("A", "r", 10, 60), s("B", "r", 30, 80)])
    nodes = by_name(t)
    assert nodes["r"].self_ns / MS == 30
    # walking back from 100: B ended last (80) and is on the path from 30; A is cut at 30, where B took over
    assert path(t) == [("r", 0, 10), ("A", 10, 30), ("B", 30, 80), ("r", 80, 100)]
    assert any("A" in rule and "cut" in rule for rule in t.path_rules)
    assert sum(seg.end_ns - seg.start_ns for seg in t.critical_path) == t.duration_ns


def test_a_child_inside_a_longer_sibling_is_off_the_path():
    # B [20, 50] runs entirely inside A [10, 90]: A ended later, so B is not on the critical path
    t = tree.build("t", [s("r", "", 0, 100), s("A", "r", 10, 90), s("B", "r", 20, 50), s("C", "A", 40, 70)])
    nodes = by_name(t)
    assert nodes["r"].self_ns / MS == 100 - 80
    assert nodes["A"].self_ns / MS == 80 - 30
    assert nodes["B"].critical_ns == 0
    assert path(t) == [("r", 0, 10), ("A", 10, 40), ("C", 40, 70), ("A", 70, 90), ("r", 90, 100)]
    assert any("A and B overlapped" in rule for rule in t.path_rules)


def test_clock_skew_is_reported_and_clipped_never_negative():
    # the child's clock runs 5 ms early: it "starts" before its parent and ends 3 ms after it
    t = tree.build("t", [s("r", "", 10, 50, service="gateway"), s("x", "r", 5, 53, service="serving")])
    nodes = by_name(t)
    assert nodes["r"].self_ns == 0  # clipped to [10, 50]: the child covers all of its parent
    assert nodes["x"].self_ns / MS == 48
    assert nodes["x"].skew_ns / MS == 5 + 3
    assert any("x (serving) starts 5 ms before and ends 3 ms after its parent r (gateway)" in p for p in t.problems)
    assert path(t) == [("x", 5, 45)]  # the clipped [10, 50], from the earliest start in the trace (the child's)


def test_a_child_entirely_outside_its_parent_is_off_the_path():
    t = tree.build("t", [s("r", "", 10, 50), s("late", "r", 60, 70)])
    nodes = by_name(t)
    assert nodes["r"].self_ns / MS == 40 and nodes["late"].critical_ns == 0
    assert any("late" in p and "after its parent" in p for p in t.problems)


def test_a_missing_parent_makes_a_root_and_is_reported():
    t = tree.build("t", [s("r", "", 0, 30), s("a", "r", 0, 10), s("orphan", "gone", 12, 20)])
    assert by_name(t)["orphan"].depth == 0
    assert t.root_span_id == "r"
    assert any("parent span not in the trace for orphan" in p for p in t.problems)


def test_a_cycle_in_parent_ids_is_cut_and_reported_not_a_hang():
    spans = [s("r", "", 0, 30), s("a", "b", 5, 10), s("b", "c", 6, 9), s("c", "a", 7, 8)]
    t = tree.build("t", spans)
    assert len(t.nodes) == 4
    assert any("cycle" in p and "cut at a" in p for p in t.problems)
    assert by_name(t)["a"].depth == 0 and by_name(t)["b"].depth == 2


def test_duplicate_spans_count_once():
    t = tree.build("t", [s("r", "", 0, 30), s("a", "r", 0, 10), s("a", "r", 0, 10)])
    assert len(t.nodes) == 2 and any("1 duplicate span" in p for p in t.problems)


@pytest.mark.parametrize("shape", ["flat", "chain"])
def test_100000_spans_take_linear_work(shape):
    """100,000 spans, all children of the root or each the child of the one before: a quadratic walk or a
    recursive one would not finish (or overflow the stack); the path still adds up to the root's duration."""
    n = 100_000
    if shape == "flat":
        spans = [s("r", "", 0, n + 1)] + [s(f"c{i}", "r", i, i + 1.5) for i in range(n)]
    else:
        spans = [s("r", "", 0, 2 * n)] + [s(f"c{i}", "r" if i == 0 else f"c{i - 1}", i, 2 * n - i) for i in range(n)]
    t = tree.build("t", spans)
    assert len(t.nodes) == n + 1
    assert sum(seg.end_ns - seg.start_ns for seg in t.critical_path) == t.duration_ns
    assert all(node.self_ns >= 0 for node in t.nodes)
    if shape == "flat":  # children overlap by 0.5 ms: the union is [0, n + 0.5], the root keeps 0.5 ms
        assert t.node("r").self_ns == MS // 2
    else:  # each link keeps 1 ms at each end of its child; the last one, [n - 1, n + 1], has no child
        assert t.node("r").self_ns == 0
        assert t.node("c0").self_ns == 2 * MS and t.node(f"c{n - 1}").self_ns == 2 * MS
