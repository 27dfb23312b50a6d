"""From the counts of each variant to the verdict: pure, no I/O.

Order of the verdict, most serious first (issue 14): an SRM makes every other number untrustworthy (invalid); a
guardrail breach or a treatment significantly worse than the control is a roll back; a treatment significantly
better, with its guardrails intact, is a promote; anything else keeps running, with the days left. "Significant"
is the always-valid (mSPRT) p-value under the Bonferroni-corrected level, so checking every hour is safe; the
fixed-horizon p-value is shown beside it, as the design's panel has it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mlobs_cli import catalogue
from mlobs_cli.errors import ConfigError, InputError
from mlobs_cli.experiment import stats
from mlobs_cli.experiment.results import (
    INVALID,
    KEEP_RUNNING,
    PROMOTE,
    ROLL_BACK,
    Comparison,
    ExperimentStatus,
    Look,
    Srm,
    Variant,
    VariantCounts,
)
from mlobs_cli.results import BackendError, Finding
from mlobs_cli.timeparse import isoformat

DAY = 86400.0


def parse_split(text: str) -> tuple[tuple[str, float], ...] | tuple[float, ...]:
    """`--split 95/5` (the control first, then the treatments by name) or `--split v2.1.0=95,v2.2.0=5`, in percent.

    Raises:
        InputError: a part that is not a number, a share not above 0, or shares that do not sum to 100.
    """
    named = "=" in text
    parts = [p.strip() for p in text.split("," if named else "/") if p.strip()]
    values: list[tuple[str, float]] = []
    for part in parts:
        name, _, number = part.rpartition("=") if named else ("", "", part)
        try:
            value = float(number)
        except ValueError:
            raise InputError(f"--split {text}: {number!r} is not a percentage; expected like 95/5 or "
                             "control=95,canary=5") from None
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"--split {text}: every share must be above 0")
        values.append((name.strip(), value))
    total = sum(v for _, v in values)
    if len(values) < 2 or abs(total - 100) > 1e-6:
        raise InputError(f"--split {text}: the shares sum to {total:g}, not 100")
    return tuple(values) if named else tuple(v for _, v in values)


def configured(experiments: Any, experiment: str) -> tuple[str | None, Mapping[str, float] | None]:
    """(control, split) of `experiment` in the config's `experiments` key, None where not set.

    Raises:
        ConfigError: the entry is not a mapping of `control` and `split`, or its split is not VARIANT: PERCENT.
    """
    entry = (experiments or {}).get(experiment)
    if entry is None:
        return None, None
    key = f"experiments.{experiment}"
    if not isinstance(entry, Mapping) or set(entry) - {"control", "split"}:
        raise ConfigError(f"{key}: expected a mapping with control: VARIANT and split: {{VARIANT: PERCENT}}")
    control, split = entry.get("control"), entry.get("split")
    if control is not None and not isinstance(control, str):
        raise ConfigError(f"{key}.control: expected a variant name")
    if split is not None and not (isinstance(split, Mapping) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in split.values())):
        raise ConfigError(f"{key}.split: expected VARIANT: PERCENT, like {{v2.1.0: 95, v2.2.0: 5}}")
    return control, None if split is None else {str(k): float(v) for k, v in split.items()}


def order(counts: Sequence[VariantCounts], control: str | None, experiment: str) -> list[VariantCounts]:
    """The control first (given, else the variant with the most samples), then the treatments by name."""
    names = [c.name for c in counts]
    if control is not None and control not in names:
        raise InputError(f"experiment {experiment}: no variant {control!r} (variants: {', '.join(sorted(names))})")
    # a tie (a 50/50 test) goes to a variant named "control", else the first by name: never to a coin flip
    most = sorted(counts, key=lambda c: (-c.samples, c.name.lower() != "control", c.name))[0].name
    chosen = control if control is not None else most
    return sorted(counts, key=lambda c: (c.name != chosen, c.name))


def expected_shares(split: Sequence[float] | Sequence[tuple[str, float]] | Mapping[str, float] | None,
                    variants: Sequence[VariantCounts], experiment: str) -> tuple[float, ...] | None:
    if split is None:
        return None
    names = [v.name for v in variants]
    if isinstance(split, Mapping):  # experiments.NAME.split in the config file
        split = tuple(split.items())
        try:
            total = sum(float(v) for _, v in split)
        except (TypeError, ValueError):
            raise InputError(f"experiments.{experiment}.split: expected VARIANT: PERCENT") from None
        if abs(total - 100) > 1e-6 or any(float(v) <= 0 for _, v in split):
            raise InputError(f"experiments.{experiment}.split: the shares sum to {total:g}, not 100")
    if split and isinstance(split[0], tuple):
        given = dict(split)
        if sorted(given) != sorted(names):
            raise InputError(f"split of {experiment} names {', '.join(sorted(given))}; the variants are "
                             f"{', '.join(sorted(names))}")
        shares = [float(given[n]) for n in names]
    else:
        if len(split) != len(names):
            raise InputError(f"split {'/'.join(f'{s:g}' for s in split)} has {len(split)} shares; experiment "
                             f"{experiment} has {len(names)} variants ({', '.join(names)}, control first)")
        shares = [float(s) for s in split]
    total = sum(shares)
    return tuple(s / total for s in shares)


def guardrail_breaches(control: VariantCounts, treatment: VariantCounts) -> tuple[str, ...]:
    """The catalogue's thresholds (p99 latency > 100 ms warn, errors > 0.1% alert) that the treatment crosses
    while doing worse than the control: a threshold the control crosses as much is not the treatment's doing."""
    cat = catalogue.load()
    out = []
    checks = (("p99 latency", treatment.p99_latency_s, control.p99_latency_s, "inference_latency_seconds", "p99",
               lambda v: f"{v * 1000:.0f} ms"),
              ("error rate", treatment.error_rate, control.error_rate, "inference_errors_total",
               "ratio_to_requests", lambda v: f"{v:.2%}"))
    for label, value, base, metric, stat, show in checks:
        entry = cat.get(metric)
        if value is None or entry is None:
            continue
        for t in entry.thresholds:
            if t.stat == stat and t.crossed(value) and (base is None or value > base):
                control_text = "" if base is None else f" (control {show(base)})"
                out.append(f"{label} {show(value)} over the catalogue's {show(t.value)} ({t.level}){control_text}")
    return tuple(out)


def analyse(experiment: str, counts: Sequence[VariantCounts], start: datetime, end: datetime, *,
            control: str | None = None, split: Sequence[float] | Sequence[tuple[str, float]] | Mapping[str, float]
            | None = None, mde: float | None = None, looks: Sequence[Look] = (), errors: Sequence[BackendError] = (),
            warnings: Sequence[str] = (), source: str = "prometheus") -> ExperimentStatus:
    """The status of one experiment from its variants' counts over [start, end).

    Args:
        control: the control variant; None: the one with the most samples.
        split: the configured traffic split (percent or shares): `95/5` in variant order (control first), or by
            name; None: no SRM check.
        mde: a relative lift to size the experiment for, instead of the observed one.
        looks: the counts at earlier moments of the window (a fixed grid, in time order), for the always-valid
            p-value's running minimum; the counts given are the last look.

    Raises:
        InputError: fewer than two variants, a variant with no samples, no conversions in any arm, a control or
            split that does not match the variants.
    """
    if len(counts) < 2:
        raise InputError(f"experiment {experiment}: {len(counts)} variant(s) in {_window(start, end)}; a test needs "
                         "a control and at least one treatment")
    empty = [c.name for c in counts if c.samples <= 0]
    if empty:
        raise InputError(f"experiment {experiment}: variant {', '.join(empty)} has no samples in "
                         f"{_window(start, end)}; nothing to compare (widen --since, or check the router)")
    if all(c.conversions == 0 for c in counts):
        raise InputError(f"experiment {experiment}: no conversions in any variant in {_window(start, end)}; is "
                         "experiment_conversion exported?")
    bad = [c.name for c in counts if c.conversions > c.samples]
    if bad:
        raise InputError(f"experiment {experiment}: variant {', '.join(bad)} has more conversions than samples; "
                         "the counters do not count the same events")
    ordered = order(counts, control, experiment)
    shares = expected_shares(split, ordered, experiment)
    total = sum(c.samples for c in ordered)
    variants = tuple(Variant(c, "control" if i == 0 else "treatment", c.samples / total,
                             None if shares is None else shares[i]) for i, c in enumerate(ordered))
    findings: list[Finding] = []
    if shares is None:
        srm = Srm(None, None, None, False)
    else:
        chi2, p_srm, mismatch = stats.srm([c.samples for c in ordered], shares)
        srm = Srm(shares, chi2, p_srm, mismatch)
        if mismatch:
            observed = "/".join(f"{v.share:.2%}" for v in variants)
            expected = "/".join(f"{s:.2%}" for s in shares)
            findings.append(Finding("experiment/srm", "error", experiment,
                                    f"sample-ratio mismatch: observed {observed}, expected {expected} "
                                    f"(chi-square p = {p_srm:.2g}); every other number is untrustworthy"))
    base = ordered[0]
    alpha = stats.bonferroni(stats.ALPHA, len(ordered) - 1)
    seconds = (end - start).total_seconds()
    comparisons = []
    for t in ordered[1:]:
        z, p = stats.ztest(base.conversions, base.samples, t.conversions, t.samples)
        p_c, p_t = base.conversions / base.samples, t.conversions / t.samples
        lift = (p_t - p_c) / p_c if p_c else None
        target = p_t if mde is None else p_c * (1 + mde)
        needed = stats.sample_size(p_c, min(target, 1.0), base.samples / t.samples, alpha=alpha)
        days = None
        if needed is not None:
            left = max(needed[0] / base.samples, needed[1] / t.samples)  # both arms grow at their own rate
            days = max(0.0, (left - 1) * seconds / DAY)
        earlier = [(look.variants[base.name][1], look.variants[base.name][0], look.variants[t.name][1],
                    look.variants[t.name][0]) for look in looks
                   if look.variants.get(base.name, (0, 0))[0] > 0 and look.variants.get(t.name, (0, 0))[0] > 0]
        seen = [*earlier, (base.conversions, base.samples, t.conversions, t.samples)]
        p_valid = stats.always_valid_pvalue(seen)
        # the sign of the difference where the evidence was strongest: what the test concluded, then
        cc, nc, ct, nt = min(reversed(seen), key=lambda look: stats.msprt_pvalue(*look))
        comparison = Comparison(t.name, lift, z, p, p_valid, (ct / nt > cc / nc) - (ct / nt < cc / nc),
                                alpha, None if needed is None else needed[0], None if needed is None else needed[1],
                                days, guardrail_breaches(base, t))
        comparisons.append(comparison)
        for breach in comparison.guardrail_breaches:
            findings.append(Finding("experiment/guardrail", "error", t.name, breach))
        if comparison.worse:
            findings.append(Finding("experiment/worse", "error", t.name,
                                    f"converts significantly less than {base.name} (always-valid p = "
                                    f"{comparison.p_value_always_valid:.2g} < {alpha:.3g}; lift now "
                                    f"{(lift or 0):+.1%})"))
    verdict, reason = _verdict(srm, variants, comparisons)
    return ExperimentStatus(experiment, start, end, variants, tuple(comparisons), srm, verdict, reason,
                            stats.MIXTURE_VARIANCE, mde, tuple(findings), tuple(errors), tuple(warnings), source,
                            tuple(looks))


def _verdict(srm: Srm, variants: Sequence[Variant], comparisons: Sequence[Comparison]) -> tuple[str, str]:
    control = variants[0].counts.name
    if srm.mismatch:
        return INVALID, "sample-ratio mismatch: fix the traffic split before reading any result"
    broken = [c for c in comparisons if c.guardrail_breaches]
    if broken:
        return ROLL_BACK, "; ".join(f"{c.treatment}: {', '.join(c.guardrail_breaches)}" for c in broken)
    worse = [c for c in comparisons if c.worse]
    if worse:
        return ROLL_BACK, "; ".join(f"{c.treatment} converts significantly worse than {control} "
                                    f"(lift now {(c.relative_lift or 0):+.1%})" for c in worse)
    better = [c for c in comparisons if c.better]
    if better:
        best = max(better, key=lambda c: c.relative_lift or 0)
        return PROMOTE, (f"{best.treatment} converts significantly better than {control} "
                         f"({(best.relative_lift or 0):+.1%}), guardrails intact")
    known = [c.days_left for c in comparisons if c.days_left is not None]
    if not known:
        return KEEP_RUNNING, "no difference observed yet: no sample size can be estimated (try --mde)"
    days = max(known)
    if days == 0:
        return KEEP_RUNNING, "the fixed-horizon sample size is reached, yet the always-valid p-value is not " \
            "significant: the effect is smaller than it looks, keep collecting or stop without a winner"
    return KEEP_RUNNING, f"not significant yet; about {days:.1f} days left at the current traffic"


def _window(start: datetime, end: datetime) -> str:
    return f"{isoformat(start)} .. {isoformat(end)}"
