"""Not collected here: which metrics explain an empty PromQL answer, and what to install to have them.

A query that reads a metric the server has no series of at all cannot answer, whatever happens on the platform:
that is not missing evidence of an incident but a metric this platform does not collect (no dcgm-exporter, no
kube-state-metrics). `absent_metrics` finds the metrics that make a query's answer necessarily empty, following
PromQL's semantics: `a or b` is empty only when both sides are, `a unless b` when `a` is, any other binary
operator (arithmetic, comparison, `and`) when either vector side is; a function or aggregation when its vector
argument is, except `absent()`, `vector()` and the other functions that answer without series.
"""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from mlobs_cli import catalogue
from mlobs_cli.alerts.promql import ABSENT_FUNCTIONS, op_name, parse, selector_name

# functions that answer without any series under them
ANSWER_WITHOUT_SERIES = ABSENT_FUNCTIONS | {"vector", "time", "pi", "scalar"}

# metric prefix -> what collects it, longest prefix first where they overlap
EXPORTERS = (
    ("DCGM_", "dcgm-exporter (NVIDIA DCGM, GPU metrics of every node)"),
    ("kube_", "kube-state-metrics"),
    ("container_", "cAdvisor (scrape the kubelet's /metrics/cadvisor)"),
    ("node_", "node_exporter"),
    ("nvidia_", "nvidia_gpu_exporter"),
    ("ALERTS", "alerting rules loaded in Prometheus"),
    # the seed's alert rules read it (no_healthy_replicas); kube-state-metrics counts the same per deployment
    ("healthy_replicas", "the serving platform's replica health (or kube-state-metrics: "
                         "kube_deployment_status_replicas_available)"),
)
SERVING = "the model server's own metrics (the seed's catalogue, as `mlobs metrics summary` reads them)"


def absent_metrics(query: str, names: frozenset[str]) -> tuple[str, ...]:
    """The metrics of `query` the server has none of (`names`: every metric it has) that make its answer empty,
    sorted; empty when the query could answer (so an empty answer is "no data", not "not collected")."""
    ast = parse(query)
    return tuple(sorted(_absent(ast, names))) if ast is not None else ()


def _absent(node: Any, names: frozenset[str]) -> frozenset[str]:
    if isinstance(node, pp.VectorSelector):
        name = selector_name(node)
        return frozenset({name}) if name and name not in names else frozenset()
    if isinstance(node, pp.MatrixSelector):
        return _absent(node.vector_selector, names)
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr | pp.AggregateExpr):
        return _absent(node.expr, names)
    if isinstance(node, pp.Call):
        if node.func.name in ANSWER_WITHOUT_SERIES:
            return frozenset()
        return frozenset().union(*(_absent(a, names) for a in node.args))
    if isinstance(node, pp.BinaryExpr):
        left, right = _absent(node.lhs, names), _absent(node.rhs, names)
        op = op_name(node)
        if op == "or":
            return left | right if left and right else frozenset()
        if op == "unless":
            return left
        return left | right
    return frozenset()  # a number or string literal


def exporter(metric: str) -> str:
    """What to install or configure so that the server collects `metric`."""
    for prefix, what in EXPORTERS:
        if metric.startswith(prefix):
            return what
    if catalogue.load().get(metric) is not None:
        return SERVING
    return "the exporter that publishes it (none known to mlobs)"
