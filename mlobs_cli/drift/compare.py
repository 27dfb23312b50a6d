"""`drift compare`: choose the features, then compute each one's drift while the next one is read."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlobs_cli.backends.samples import Column, Sample
from mlobs_cli.drift import features
from mlobs_cli.drift.report import DriftReport, FeatureDrift, NotCompared, SampleInfo
from mlobs_cli.drift.thresholds import DriftConfig
from mlobs_cli.errors import InputError
from mlobs_cli.results import Finding

# Fields of the seed's PredictionLog that describe the request, not the model's input: comparing them says
# nothing about data drift (ids are always "new", timestamps always move). `output_class` and `output_score`
# stay: their drift is prediction drift. Name a field in --features to compare it anyway.
PREDICTION_LOG_FIELDS = frozenset({
    "prediction_id", "request_id", "trace_id", "model_id", "model_version", "endpoint", "experiment_id",
    "variant_id", "user_id", "input_hash", "input_features", "input_size_bytes", "output", "output_size_bytes",
    "total_latency_ms", "queue_wait_ms", "inference_ms", "preprocessing_ms", "postprocessing_ms", "status",
    "error_message", "timestamp", "client_ip_hash", "user_agent",
})

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Selection:
    """What the user asked to compare, and how."""

    features: tuple[str, ...] = ()  # empty: every feature
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numerical: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    compare: tuple[tuple[str, str, str | None], ...]  # (name, kind, note)
    skipped: tuple[NotCompared, ...]


def plan(ref: Sample, cur: Sample, selection: Selection) -> Plan:
    """Which features to compare and as what kind; InputError for names that are in neither sample."""
    names = list(dict.fromkeys([*ref.columns, *cur.columns]))
    named = {*selection.features, *selection.exclude, *selection.categorical, *selection.numerical}
    unknown = sorted(n for n in named if n not in ref.columns and n not in cur.columns)
    if unknown:
        raise InputError(f"unknown feature {', '.join(unknown)}; the samples have: {', '.join(names) or 'no columns'}")
    both_forced = set(selection.categorical) & set(selection.numerical)
    if both_forced:
        raise InputError(f"{', '.join(sorted(both_forced))}: given as both --categorical and --numerical")
    forced = {*selection.categorical, *selection.numerical}
    wanted = list(selection.features) or [n for n in names if n not in PREDICTION_LOG_FIELDS or n in forced]
    to_compare, skipped = [], []
    for name in wanted:
        if name in selection.exclude:
            continue
        r, c = ref.columns.get(name), cur.columns.get(name)
        if r is None or c is None:
            skipped.append(NotCompared(name, f"only in the {'current' if r is None else 'reference'} sample"))
            continue
        kind, note = _kind(name, r, c, selection)
        if kind is None:
            skipped.append(NotCompared(name, note))
        else:
            to_compare.append((name, kind, note))
    return Plan(tuple(to_compare), tuple(skipped))


def _kind(name: str, r: Column, c: Column, selection: Selection) -> tuple[str | None, str | None]:
    if name in selection.categorical:
        return "categorical", None
    if name in selection.numerical:
        return "numerical", None
    # a column with no value in one sample has no type there: the other sample's type decides
    families = {r.family, c.family} - {"null"} or {"categorical"}
    if families == {"numerical"}:
        return "numerical", None
    if families == {"categorical"}:
        return "categorical", None
    if families == {"numerical", "categorical"}:
        return "numerical", (f"types differ ({r.type} in the reference, {c.type} in the current sample): " \
                            "values that are not numbers count as missing")
    if "time" in families:
        return None, f"time column ({r.type}); not a feature"
    return None, f"type {r.type if r.family == 'other' else c.type} is not comparable"


def _read(ref: Sample, cur: Sample, planned: tuple[str, str, str | None]) -> tuple[Any, Any]:
    """Both samples' values of one feature: float arrays for numbers, category counts for categories."""
    name, kind, _ = planned
    if kind == "numerical":
        return ref.numbers(ref.columns[name]), cur.numbers(cur.columns[name])
    return ref.category_counts(ref.columns[name]), cur.category_counts(cur.columns[name])


def compare(ref: Sample, cur: Sample, selection: Selection, config: DriftConfig,
            progress: Progress | None = None) -> DriftReport:
    """Compare every selected feature of two open samples.

    Raises:
        InputError: a sample has no rows, or nothing is left to compare.
    """
    for sample in (ref, cur):
        if sample.rows == 0:
            raise InputError(f"{sample.role}: {', '.join(sample.files)} has no rows")
    chosen = plan(ref, cur, selection)
    if not chosen.compare:
        reasons = "; ".join(f"{n.name}: {n.reason}" for n in chosen.skipped[:5]) or "no columns"
        raise InputError(f"no common feature to compare ({reasons})")
    results: list[FeatureDrift] = []
    findings: list[Finding] = []
    total = len(chosen.compare)
    # Read the next column pair from DuckDB while numpy works on this one: both release the GIL, so on two cores
    # the reads cost almost nothing. At most two pairs are in memory, however many columns there are. Only the
    # reader thread uses the DuckDB connection from here on.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlobs-read") as reader:
        pending = reader.submit(_read, ref, cur, chosen.compare[0])
        for done, (name, kind, note) in enumerate(chosen.compare):
            if progress:
                progress(done, total, name)
            ref_data, cur_data = pending.result()
            if done + 1 < total:
                pending = reader.submit(_read, ref, cur, chosen.compare[done + 1])
            measure = features.numerical if kind == "numerical" else features.categorical
            feature, found = measure(name, ref_data, cur_data, config, note)
            del ref_data, cur_data
            results.append(feature)
            findings += found
    if progress:
        progress(total, total, "")
    results.sort(key=lambda f: f.sort_key)
    order = {f.name: i for i, f in enumerate(results)}
    findings.sort(key=lambda f: order[f.subject])
    return DriftReport(
        reference=SampleInfo("reference", ref.source, tuple(ref.files), ref.rows),
        current=SampleInfo("current", cur.source, tuple(cur.files), cur.rows),
        features=tuple(results),
        not_compared=chosen.skipped,
        config=config,
        findings=tuple(findings),
    )
