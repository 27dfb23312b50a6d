"""The aggregations of every trace store, in DuckDB SQL over one table of spans.

`spans` (COLUMNS): the files' spans flattened in
place, or the spans fetched from a server inserted into it. The rules are those of `trace.tree` (a child clipped to
its parent, self time = duration - union of the children's intervals), written as gaps-and-islands so that a
million spans need no Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from mlobs_cli.backends.tracestore.base import RankRow, StageRow, TraceTotals
from mlobs_cli.logs.query import Window

# Ids are kept as 64-bit hashes: joins and windows on integers are a third faster than on 32-digit text, and a
# collision among a million spans has a chance of about 3e-8. A root's parent is 0.
COLUMNS = "trace_id UBIGINT, span_id UBIGINT, parent_id UBIGINT, name VARCHAR, service VARCHAR, " \
          "start_ns BIGINT, end_ns BIGINT, model_id VARCHAR"


def hashed(expr: str) -> str:
    """The column value of an id given as text: its hash, and 0 for none (a root's parent)."""
    return f"CASE WHEN coalesce({expr}, '') = '' THEN 0::UBIGINT ELSE hash({expr}) END"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the whole table says about its spans, found in one pass: the first and last start (None when empty),
    whether no (trace_id, span_id) comes twice, and whether no span name comes twice in a trace (then a stage's
    time in a trace is its one span's self time, with no grouping by trace)."""

    first: int | None
    last: int | None
    unique: bool
    names_once: bool


def scope(window: Window, model: str | None, facts: Facts) -> tuple[str, list[Any]]:
    """The spans of the traces whose first span starts in the window and that have a span of `model`, each span
    once (a trace written twice is read once), as a CTE body. A window holding every span's start filters nothing,
    so it costs no pass over the traces."""
    having, params = [], []
    start = None if window.start is None else int(window.start.timestamp() * 1e9)
    end = None if window.end is None else int(window.end.timestamp() * 1e9)
    if start is not None and not (facts.first is not None and facts.first >= start):
        having.append("min(start_ns) >= ?")
        params.append(start)
    if end is not None and not (facts.last is not None and facts.last < end):
        having.append("min(start_ns) < ?")
        params.append(end)
    if model is not None:
        having.append("bool_or(model_id = ?)")
        params.append(model)
    select = "SELECT * FROM spans" if facts.unique else "SELECT DISTINCT ON (trace_id, span_id) * FROM spans"
    if not having:
        return select, params
    return (f"{select} WHERE trace_id IN (SELECT trace_id FROM spans GROUP BY trace_id "
            f"HAVING {' AND '.join(having)})"), params


# Each child's contribution to its parent's busy time is what it adds past the furthest end of the children that
# started before it (ordered by start): the length of the union, without grouping the intervals into islands.
SELF_TIMES = """
WITH scoped AS ({scoped}),
linked AS (
  SELECT c.trace_id, c.span_id, c.parent_id, c.name, greatest(c.end_ns - c.start_ns, 0) AS dur,
         p.span_id IS NOT NULL AS has_parent,
         greatest(c.start_ns, p.start_ns) AS lo, least(c.end_ns, p.end_ns) AS hi
  FROM scoped c LEFT JOIN scoped p
    ON p.trace_id = c.trace_id AND p.span_id = c.parent_id AND c.parent_id <> c.span_id),
kids AS (
  SELECT trace_id, parent_id, lo, hi,
         max(hi) OVER (PARTITION BY trace_id, parent_id ORDER BY lo, hi
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
  FROM linked WHERE has_parent AND hi > lo),
busy AS (
  SELECT trace_id, parent_id, sum(greatest(hi - greatest(lo, coalesce(reach, lo)), 0)) AS busy
  FROM kids GROUP BY trace_id, parent_id)
SELECT l.trace_id, l.span_id, l.parent_id, l.name, l.dur, l.dur - coalesce(b.busy, 0) AS self
FROM linked l LEFT JOIN busy b ON b.trace_id = l.trace_id AND b.parent_id = l.span_id
"""

# A stage's time in one trace: the self times of its spans summed (a retried forward pass counts twice).
STAGE_SUMMED = ("SELECT name, trace_id, any_value(slow) AS slow, sum(self) AS stage_self FROM flagged "
                "GROUP BY name, trace_id")
STAGE_ONE_SPAN = "SELECT name, trace_id, slow, self AS stage_self FROM flagged"

# Both groups in one pass: the slowest traces are a FILTER of the same aggregates, not a second copy of the rows.
STAGES = """
WITH traces AS (
  SELECT trace_id, max(dur) FILTER (WHERE parent_id = 0) AS e2e FROM {selfs} GROUP BY trace_id),
cut AS (SELECT quantile_cont(e2e, ?) AS at FROM traces),
rooted AS (SELECT t.trace_id, t.e2e, t.e2e >= cut.at AS slow FROM traces t, cut WHERE t.e2e IS NOT NULL),
flagged AS (SELECT s.name, s.trace_id, s.dur, s.self, s.parent_id = 0 AS root, r.slow
            FROM {selfs} s JOIN rooted r USING (trace_id)),
stage AS ({stage}),
per_name AS (
  SELECT name, count(*) AS spans, quantile_cont(dur, {qs}) AS dq, quantile_cont(self, {qs}) AS sq,
         sum(self) AS total_self, bool_or(root) AS root,
         count(*) FILTER (WHERE slow) AS slow_spans, quantile_cont(dur, {qs}) FILTER (WHERE slow) AS slow_dq,
         quantile_cont(self, {qs}) FILTER (WHERE slow) AS slow_sq, sum(self) FILTER (WHERE slow) AS slow_total_self,
         bool_or(root) FILTER (WHERE slow) AS slow_root
  FROM flagged GROUP BY name),
per_stage AS (
  SELECT name, count(*) AS traces, quantile_cont(stage_self, {qs}) AS tq, count(*) FILTER (WHERE slow) AS slow_traces,
         quantile_cont(stage_self, {qs}) FILTER (WHERE slow) AS slow_tq
  FROM stage GROUP BY name)
SELECT 'stage', p.name, p.spans, t.traces, p.dq, p.sq, t.tq, p.total_self, p.root,
       p.slow_spans, t.slow_traces, p.slow_dq, p.slow_sq, t.slow_tq, p.slow_total_self, p.slow_root
FROM per_name p JOIN per_stage t USING (name)
UNION ALL
SELECT 'total', NULL, count(e2e), count(*) - count(e2e), quantile_cont(e2e, {qs}), NULL, NULL, sum(e2e), NULL,
       count(e2e) FILTER (WHERE e2e >= cut.at), 0, quantile_cont(e2e, {qs}) FILTER (WHERE e2e >= cut.at), NULL, NULL,
       sum(e2e) FILTER (WHERE e2e >= cut.at), NULL
FROM traces, cut
"""


class SpanSql:
    """The aggregations over the `spans` table of `con`."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._selfs: dict[tuple[Window, str | None], str] = {}
        self._facts: Facts | None = None

    def run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def facts(self) -> Facts:
        if self._facts is None:
            # hashes counted once: a collision can only make a unique table look duplicated, which costs a
            # DISTINCT ON or a grouping and changes no number. A span written twice repeats its name in its trace,
            # so names once per trace means spans once, and the second pass is needed only when they are not.
            first, last, names_once = self.con.execute(
                "SELECT min(start_ns), max(start_ns), count(*) = count(DISTINCT hash(trace_id, name)) FROM spans"
            ).fetchone()
            unique = bool(names_once) or bool(self.con.execute(
                "SELECT count(*) = count(DISTINCT hash(trace_id, span_id)) FROM spans").fetchone()[0])
            self._facts = Facts(first, last, unique, bool(names_once))
        return self._facts

    def selfs(self, window: Window, model: str | None) -> str:
        """A table of (trace_id, span_id, parent_id, name, dur, self) for the scope, made once: every query after
        reads it several times."""
        key = (window, model)
        if key not in self._selfs:
            name = f"selfs_{len(self._selfs)}"
            body, params = scope(window, model, self.facts())
            self.con.execute(f"CREATE TEMP TABLE {name} AS {SELF_TIMES.format(scoped=body)}", params)
            self._selfs[key] = name
        return self._selfs[key]

    def stages(self, window: Window, model: str | None, slowest: float,
               fractions: Sequence[float]) -> tuple[list[TraceTotals], list[StageRow]]:
        qs = "[" + ", ".join(repr(float(f)) for f in fractions) + "]"
        selfs = self.selfs(window, model)
        stage = STAGE_ONE_SPAN if self.facts().names_once else STAGE_SUMMED
        rows = self.run(STAGES.format(selfs=selfs, qs=qs, stage=stage), [1.0 - slowest])
        totals, stages = [], []
        for kind, name, *both in rows:
            for group, (n, m, q1, q2, q3, total, root) in (("all", both[:7]), ("slowest", both[7:])):
                if kind == "total":
                    totals.append(TraceTotals(group=group, traces=int(n), without_root=int(m), e2e=tuple(q1 or ()),
                                              total=float(total or 0)))
                elif n:
                    stages.append(StageRow(group=group, name=name, spans=int(n), traces=int(m), duration=tuple(q1),
                                           self_time=tuple(q2), stage=tuple(q3), total_self=float(total),
                                           root=bool(root)))
        return totals, stages

    def ranks(self, window: Window, model: str | None, values: Sequence[tuple[str, int, int]],
              fractions: Sequence[float]) -> list[RankRow]:
        if not values:
            return []
        selfs = self.selfs(window, model)
        qs = "[" + ", ".join(repr(float(f)) for f in fractions) + "]"
        asked = ", ".join("(?, ?, ?, ?)" for _ in values)
        flat = [x for i, (name, dur, own) in enumerate(values) for x in (i, name, dur, own)]
        sql = f"""
WITH selfs AS (SELECT * FROM {selfs}),
asked(i, name, dur, own) AS (VALUES {asked})
SELECT a.i, a.name, count(s.name),
       avg(CASE WHEN s.dur < a.dur THEN 1.0 WHEN s.dur = a.dur THEN 0.5 ELSE 0.0 END) FILTER (WHERE s.name IS NOT NULL),
       avg(CASE WHEN s.self < a.own THEN 1.0 WHEN s.self = a.own THEN 0.5 ELSE 0.0 END) FILTER (WHERE s.name IS NOT NULL),
       quantile_cont(s.self, {qs})
FROM asked a LEFT JOIN selfs s ON s.name = a.name
GROUP BY a.i, a.name ORDER BY a.i
"""
        return [RankRow(name=r[1], spans=int(r[2]), duration_rank=r[3], self_rank=r[4],
                        self_quantiles=tuple(r[5] or ())) for r in self.run(sql, flat)]
