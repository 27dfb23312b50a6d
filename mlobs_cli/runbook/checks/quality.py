"""`kind: quality`: the model-quality half of the drift step, from the prediction-log store (mlobs_cli/quality).

One row per model labelled `model` and `signal`: `prediction` (`drift predictions`: `class_psi`, `alert` 1 when
it is over concept.prediction_psi) and, when a label source is configured (log.labels), `accuracy`
(`drift concept`: `accuracy_baseline`, `accuracy_current`, `accuracy_drop`, `p_value`, `alert` 1 on concept
drift). `source` is the store (empty: the log.source setting); `range` the current period, ending at the walk's
time; `baseline` how far before the walk's time the baseline ends and `baseline_range` its length; `window`
(default 1h) the detection windows of the accuracy t-test. An accuracy the labels cannot decide (too few per
window) has no row: the digest says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlobs_cli.errors import MlobsError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Context, Evidence, Row
from mlobs_cli.timeparse import isoformat, parse_duration

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "quality"
TEMPLATES = ("source", "range", "baseline", "baseline_range", "window")
KEYS = TEMPLATES
ROW_EXPRESSIONS = ()
LABELS = ("model", "signal")
FIELDS = ("class_psi", "accuracy_baseline", "accuracy_current", "accuracy_drop", "p_value", "alert")


def fields(check: Check) -> tuple[str, ...]:
    return FIELDS


def validate(check: Check) -> list[tuple[str, str]]:
    problems = [("kind", f"a quality check needs `{key}` (a duration)") for key in ("range", "baseline",
                                                                                   "baseline_range")
                if key not in check.spec]
    problems += [("labels", f"rows of a quality check have the labels {', '.join(LABELS)}, not {label!r}")
                 for label in check.labels if label not in LABELS]
    return problems


def run(check: Check, ctx: Context) -> Evidence:
    from mlobs_cli.quality import concept, predictions  # DuckDB and scipy only when a quality check runs

    source = ctx.rendered.get("source") or None
    model = ctx.variables.get("model") or None
    try:
        length = parse_duration(ctx.rendered["range"], "range")
        before = parse_duration(ctx.rendered["baseline"], "baseline")
        baseline_length = parse_duration(ctx.rendered["baseline_range"], "baseline_range")
        current = f"{isoformat(ctx.at - length)}..{isoformat(ctx.at)}"
        baseline = f"{isoformat(ctx.at - before - baseline_length)}..{isoformat(ctx.at - before)}"
        described = f"drift predictions --baseline {baseline} --current {current}" + (
            f" --model {model}" if model else "")
        report = predictions.run(source, baseline, current, model, ctx.settings, by_version=False)
    except MlobsError as e:
        return Evidence(check.id, NAME, ERROR, "drift predictions", error=str(e), source="logs")
    rows = [Row({"model": g.model, "signal": "prediction"},
                {"class_psi": g.class_psi, "alert": float(g.alert)}) for g in report.groups]
    digest = f"prediction drift of {len(rows)} model{'' if len(rows) == 1 else 's'}"
    labels, verdict = ctx.settings["log.labels"], None
    if labels and rows:
        try:
            window = ctx.rendered.get("window") or "1h"
            verdict = concept.run(concept.Request(source, baseline, current, window, labels=labels, model=model),
                                  ctx.settings)
        except MlobsError as e:  # the labels cannot say: the prediction drift still stands
            digest += f"; accuracy unknown: {e}"
        else:
            digest += f"; accuracy: {verdict.verdict.drift_type}, {verdict.verdict.reason}"
        if verdict is not None and verdict.verdict.drift_type != "unknown":
            b, c = verdict.baseline.accuracy, verdict.current.accuracy
            rows.append(Row({"model": model or "all", "signal": "accuracy"},
                            {"accuracy_baseline": b, "accuracy_current": c,
                             "accuracy_drop": None if b is None or c is None else b - c,
                             "p_value": verdict.p_value,
                             "alert": float(verdict.verdict.detected)}))
    if not rows:
        return Evidence(check.id, NAME, NO_DATA, described, digest="no predictions in the periods", source="logs")
    return Evidence(check.id, NAME, OK, described, tuple(rows), source="logs", digest=digest)
