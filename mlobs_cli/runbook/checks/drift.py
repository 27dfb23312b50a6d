"""`kind: drift`: `drift compare` of a reference and a current sample, when the walk is given both.

One row per compared feature, labelled `feature`, with `psi`, `ks_stat`, `ks_pvalue`, `js_divergence` and `alert`
(1 when `drift compare` alerts on the feature, else 0), judged by the `drift.*` thresholds of the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlobs_cli.errors import MlobsError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Context, Evidence, Row

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "drift"
TEMPLATES = ("reference", "current")
KEYS = TEMPLATES
ROW_EXPRESSIONS = ()
FIELDS = ("psi", "ks_stat", "ks_pvalue", "js_divergence", "alert")


def fields(check: Check) -> tuple[str, ...]:
    return FIELDS


def validate(check: Check) -> list[tuple[str, str]]:
    problems = [("kind", f"a drift check needs `{key}`") for key in TEMPLATES if key not in check.spec]
    return problems


def run(check: Check, ctx: Context) -> Evidence:
    from mlobs_cli.drift import service  # numpy, scipy and DuckDB only when a drift check runs

    reference, current = ctx.rendered["reference"], ctx.rendered["current"]
    described = f"drift compare {reference} {current}"
    try:
        report = service.run(service.Request(reference, current), ctx.settings)
    except MlobsError as e:
        return Evidence(check.id, NAME, ERROR, described, error=str(e), source="drift")
    rows = tuple(Row({"feature": f.name}, {"psi": f.psi, "ks_stat": f.ks_stat, "ks_pvalue": f.ks_pvalue,
                                           "js_divergence": f.js_divergence, "alert": float(f.alert)})
                 for f in report.features)
    if not rows:
        return Evidence(check.id, NAME, NO_DATA, described, digest="no feature compared", source="drift")
    alerts = [f.name for f in report.alerts]
    digest = f"{len(rows)} features; alert: {', '.join(alerts) or 'none'}"
    return Evidence(check.id, NAME, OK, described, rows, source="drift", digest=digest)
