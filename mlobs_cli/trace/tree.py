"""One trace as a tree: each span's self time, the critical path, and what is wrong with the trace itself.

Rules, the same in `trace show` and `trace compare` (and in the SQL of `trace breakdown`):
- A child is clipped to its parent's interval before anything is computed from it. Clocks of two services
  differ (clock skew): a child that starts before its parent or ends after it is reported, with by how much,
  and is not moved. (Jaeger's UI shifts such a child into its parent; a number mlobs prints is the one the
  spans carry, clipped, so the same trace gives the same numbers in every store.)
- Self time: the span's duration minus the union of its children's (clipped) intervals, so parallel children are
  not subtracted twice and self time is never negative.
- Critical path: walked back from the end of the root, as Jaeger's critical path does: the child that was still
  running latest before the current point is on the path; a child that ran in parallel with it and ended earlier
  is not. A child running past the point where a later one took over is cut there. What the parent did between
  its children is the parent's own.
- A span whose parent is not in the trace is a root of its own (reported); parent ids that form a cycle are
  reported and cut at the earliest span of the cycle, so no walk can loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlobs_cli.trace.spans import Span

MAX_PROBLEMS = 10  # problems listed one by one; more are counted


@dataclass(frozen=True, slots=True)
class Node:
    """A span in its tree: depth in the waterfall, times relative to the trace's start."""

    span: Span
    depth: int
    offset_ns: int  # start minus the earliest start in the trace
    self_ns: int
    critical_ns: int  # how much of the critical path this span accounts for
    skew_ns: int  # how far (start before + end after) the span lies outside its parent; 0 when inside


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the critical path during which `span_id` was what the request waited on."""

    span_id: str
    name: str
    start_ns: int  # relative to the trace's start
    end_ns: int


@dataclass(frozen=True, slots=True)
class TraceTree:
    trace_id: str
    nodes: tuple[Node, ...]  # depth first, children by start time
    critical_path: tuple[Segment, ...]  # in time order
    path_rules: tuple[str, ...]  # which rule decided where two children overlapped
    problems: tuple[str, ...]  # orphans, cycles, clock skew, duplicates
    root_span_id: str  # the root the critical path starts from: the one that ends last
    duration_ns: int  # the root's duration

    def node(self, span_id: str) -> Node:
        return next(n for n in self.nodes if n.span.span_id == span_id)


def build(trace_id: str, spans: Iterable[Span]) -> TraceTree:
    """The tree of one trace's spans (all with this trace id; the store filtered them)."""
    problems: list[str] = []
    by_id: dict[str, Span] = {}
    duplicates = 0
    for span in spans:
        if span.span_id in by_id:
            duplicates += 1  # a trace written to two files, or exported twice
            continue
        by_id[span.span_id] = span
    if duplicates:
        problems.append(f"{duplicates} duplicate span{'s' if duplicates > 1 else ''} (same span id) left out")
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    missing: list[str] = []
    for span in by_id.values():
        if not span.parent_id or span.parent_id == span.span_id:
            roots.append(span.span_id)
            if span.parent_id:
                problems.append(f"span {span.name} ({span.span_id}) is its own parent")
        elif span.parent_id not in by_id:
            roots.append(span.span_id)
            missing.append(f"{span.name} ({span.span_id})")
        else:
            children.setdefault(span.parent_id, []).append(span.span_id)
    if missing:
        problems.append(f"parent span not in the trace for {_listed(missing)}: shown as roots")
    for kids in children.values():
        kids.sort(key=lambda i: (by_id[i].start_ns, i))
    order, depth = _walk(roots, children, by_id, problems)
    start = min((s.start_ns for s in by_id.values()), default=0)
    parent_of = {c: p for p, kids in children.items() for c in kids}
    skewed: list[str] = []
    self_ns, skew_ns = {}, {}
    for span_id in order:
        span = by_id[span_id]
        self_ns[span_id] = span.duration_ns - _union(_clipped(span, (by_id[c] for c in children.get(span_id, ()))))
        parent = by_id.get(parent_of.get(span_id, ""))
        skew = 0 if parent is None else max(0, parent.start_ns - span.start_ns) + max(0, span.end_ns - parent.end_ns)
        skew_ns[span_id] = skew
        if skew:
            skewed.append(_skew_text(span, parent))
    if skewed:
        problems.append(f"clock skew: {_listed(skewed)}; clipped to the parent")
    main = max(roots, key=lambda i: (by_id[i].end_ns, -by_id[i].start_ns)) if roots else ""
    segments, rules = _critical_path(main, children, by_id) if main else ([], [])
    on_path: dict[str, int] = {}
    for seg in segments:
        on_path[seg.span_id] = on_path.get(seg.span_id, 0) + seg.end_ns - seg.start_ns
    nodes = tuple(Node(span=by_id[i], depth=depth[i], offset_ns=by_id[i].start_ns - start, self_ns=self_ns[i],
                       critical_ns=on_path.get(i, 0), skew_ns=skew_ns[i]) for i in order)
    path = tuple(Segment(s.span_id, s.name, s.start_ns - start, s.end_ns - start)
                 for s in sorted(segments, key=lambda s: s.start_ns))
    return TraceTree(trace_id=trace_id, nodes=nodes, critical_path=path, path_rules=tuple(rules),
                     problems=tuple(problems), root_span_id=main,
                     duration_ns=by_id[main].duration_ns if main else 0)


def _walk(roots: list[str], children: dict[str, list[str]], by_id: dict[str, Span],
          problems: list[str]) -> tuple[list[str], dict[str, int]]:
    """Depth-first order from the roots, then from each cycle (spans no root reaches), cut at its earliest span."""
    order: list[str] = []
    depth: dict[str, int] = {}

    def visit(root: str) -> None:
        stack = [(root, 0)]
        while stack:
            span_id, d = stack.pop()
            if span_id in depth:
                continue
            depth[span_id] = d
            order.append(span_id)
            stack.extend((c, d + 1) for c in reversed(children.get(span_id, ())))

    for root in sorted(roots, key=lambda i: (by_id[i].start_ns, i)):
        visit(root)
    while len(depth) < len(by_id):
        cut = min((i for i in by_id if i not in depth), key=lambda i: (by_id[i].start_ns, i))
        cycle = [cut]
        step = by_id[cut].parent_id
        while step != cut and step not in cycle and len(cycle) <= MAX_PROBLEMS:
            cycle.append(step)
            step = by_id[step].parent_id
        problems.append("parent ids form a cycle (" + " → ".join(by_id[i].name for i in cycle)
                        + f" → …): cut at {by_id[cut].name} ({cut}), shown as a root")
        children[by_id[cut].parent_id].remove(cut)
        roots.append(cut)
        visit(cut)
    return order, depth


def _clipped(parent: Span, kids: Iterable[Span]) -> list[tuple[int, int]]:
    out = []
    for kid in kids:
        lo, hi = max(kid.start_ns, parent.start_ns), min(kid.end_ns, parent.end_ns)
        if hi > lo:
            out.append((lo, hi))
    return out


def _union(intervals: list[tuple[int, int]]) -> int:
    """The length of the union of [lo, hi) intervals."""
    total, reach = 0, None
    for lo, hi in sorted(intervals):
        if reach is None or lo > reach:
            total += hi - lo
            reach = hi
        elif hi > reach:
            total += hi - reach
            reach = hi
    return total


def _critical_path(root: str, children: dict[str, list[str]],
                   by_id: dict[str, Span]) -> tuple[list[Segment], list[str]]:
    """Segments of the critical path (absolute times), and the notes on overlapping children."""
    segments: list[Segment] = []
    rules: list[str] = []
    work = [(root, by_id[root].start_ns, by_id[root].end_ns)]
    while work:
        span_id, lo, hi = work.pop()
        name = by_id[span_id].name
        kids = []
        for c in children.get(span_id, ()):
            kid = by_id[c]
            k_lo, k_hi = max(kid.start_ns, lo), min(kid.end_ns, hi)
            if k_hi > k_lo:
                kids.append((k_hi, k_lo, c))
        kids.sort(key=lambda k: (-k[0], k[1], k[2]))  # latest end first; a tie: the one that started first
        cursor, q = hi, 0
        while cursor > lo:
            while q < len(kids) and kids[q][1] >= cursor:
                q += 1  # started after the point reached: ran entirely while a later child was on the path
            if q == len(kids):
                break
            k_hi, k_lo, c = kids[q]
            q += 1
            end = min(k_hi, cursor)
            if end < cursor:
                segments.append(Segment(span_id, name, end, cursor))
            elif k_hi > cursor and len(rules) < MAX_PROBLEMS:
                rules.append(f"{by_id[c].name} ran until {_ms(k_hi - lo)} into {name} but is cut at "
                             f"{_ms(cursor - lo)}, where a child that ended later took over")
            if q < len(kids) and kids[q][0] > k_lo and kids[q][1] < end and len(rules) < MAX_PROBLEMS:
                rules.append(f"{by_id[c].name} and {by_id[kids[q][2]].name} overlapped under {name}: "
                             f"{by_id[c].name} ended later, so it is on the path")
            work.append((c, k_lo, end))
            cursor = k_lo
        if cursor > lo:
            segments.append(Segment(span_id, name, lo, cursor))
    return segments, rules


def _skew_text(span: Span, parent: Span) -> str:
    parts = []
    if span.start_ns < parent.start_ns:
        parts.append(f"starts {_ms(parent.start_ns - span.start_ns)} before")
    if span.end_ns > parent.end_ns:
        parts.append(f"ends {_ms(span.end_ns - parent.end_ns)} after")
    return f"{span.name} ({span.service}) {' and '.join(parts)} its parent {parent.name} ({parent.service})"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3g} ms"


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_PROBLEMS])
    return shown + (f" and {len(items) - MAX_PROBLEMS} more" if len(items) > MAX_PROBLEMS else "")
