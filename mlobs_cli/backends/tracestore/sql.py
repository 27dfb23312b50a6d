"""The aggregations of every trace store, in DuckDB SQL over one table of spans.

`spans` (COLUMNS): the files' spans flattened in
place, or the spans fetched from a server inserted into it. The rules are those of `trace.tree` (a child clipped to
its parent, self time = duration - union of the children's intervals), written as gaps-and-islands so that a
million spans need no Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def scope(window: Window, model: str | None, unique: bool) -> tuple[str, list[Any]]:
    """The spans of the traces whose first span starts in the window and that have a span of `model`, each span
    once (`unique`: the table has no span twice; else a trace written twice is read once), as a CTE body."""
    having, params = [], []
    if window.start is not None:
        having.append("min(start_ns) >= ?")
        params.append(int(window.start.timestamp() * 1e9))
    if window.end is not None:
        having.append("min(start_ns) < ?")
        params.append(int(window.end.timestamp() * 1e9))
    if model is not None:
        having.append("bool_or(model_id = ?)")
        params.append(model)
    where = f"HAVING {' AND '.join(having)}" if having else ""
    select = "SELECT * FROM spans" if unique else "SELECT DISTINCT ON (trace_id, span_id) * FROM spans"
    if not where:
        return select, params
    return f"{select} WHERE trace_id IN (SELECT trace_id FROM spans GROUP BY trace_id {where})", params


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


class SpanSql:
    """The aggregations over the `spans` table of `con`."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._selfs: dict[tuple[Window, str | None], str] = {}
        self._unique: bool | None = None

    def run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def selfs(self, window: Window, model: str | None) -> str:
        """A table of (trace_id, span_id, parent_id, name, dur, self) for the scope, made once: every query after
        reads it several times."""
        key = (window, model)
        if key not in self._selfs:
            name = f"selfs_{len(self._selfs)}"
            if self._unique is None:
                (twice,) = self.con.execute("SELECT count(*) - count(DISTINCT (trace_id, span_id)) FROM spans"
                                            ).fetchone()
                self._unique = twice == 0
            body, params = scope(window, model, self._unique)
            self.con.execute(f"CREATE TEMP TABLE {name} AS {SELF_TIMES.format(scoped=body)}", params)
            self._selfs[key] = name
        return self._selfs[key]

    def stages(self, window: Window, model: str | None, slowest: float,
               fractions: Sequence[float]) -> tuple[list[TraceTotals], list[StageRow]]:
        selfs = self.selfs(window, model)
        qs = "[" + ", ".join(repr(float(f)) for f in fractions) + "]"
        sql = f"""
WITH selfs AS (SELECT * FROM {selfs}),
traces AS (
  SELECT trace_id, max(dur) FILTER (WHERE parent_id = 0) AS e2e FROM selfs GROUP BY trace_id),
cut AS (SELECT quantile_cont(e2e, ?) AS at FROM traces),
grouped AS (
  SELECT 'all' AS grp, t.trace_id, t.e2e FROM traces t
  UNION ALL
  SELECT 'slowest', t.trace_id, t.e2e FROM traces t, cut WHERE t.e2e >= cut.at),
stage AS (
  SELECT g.grp, s.trace_id, s.name, sum(s.self) AS stage_self
  FROM selfs s JOIN grouped g ON g.trace_id = s.trace_id WHERE g.e2e IS NOT NULL GROUP BY ALL),
per_name AS (
  SELECT g.grp, s.name, count(*) AS spans, count(DISTINCT s.trace_id) AS traces,
         quantile_cont(s.dur, {qs}) AS dq, quantile_cont(s.self, {qs}) AS sq, sum(s.self) AS total_self,
         bool_or(s.parent_id = 0) AS root
  FROM selfs s JOIN grouped g ON g.trace_id = s.trace_id WHERE g.e2e IS NOT NULL GROUP BY ALL),
per_stage AS (SELECT grp, name, quantile_cont(stage_self, {qs}) AS tq FROM stage GROUP BY ALL)
SELECT 'stage', p.grp, p.name, p.spans, p.traces, p.dq, p.sq, t.tq, p.total_self, p.root
FROM per_name p JOIN per_stage t USING (grp, name)
UNION ALL
SELECT 'total', grp, NULL, count(e2e), count(*) - count(e2e), quantile_cont(e2e, {qs}), NULL, NULL, sum(e2e), NULL
FROM grouped GROUP BY grp
"""
        rows = self.run(sql, [1.0 - slowest])
        totals = [TraceTotals(group=r[1], traces=int(r[3]), without_root=int(r[4]), e2e=tuple(r[5] or ()),
                              total=float(r[8] or 0)) for r in rows if r[0] == "total"]
        stages = [StageRow(group=r[1], name=r[2], spans=int(r[3]), traces=int(r[4]), duration=tuple(r[5]),
                           self_time=tuple(r[6]), stage=tuple(r[7]), total_self=float(r[8]), root=bool(r[9]))
                  for r in rows if r[0] == "stage"]
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
