"""Drift thresholds and binning: defaults from the seed design, each overridable in the config file."""

from __future__ import annotations

from dataclasses import dataclass, field

FAIL_ON_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Every number the drift rules use. Field names are the config keys (`drift.<name>`); `min` and `max` bound
    each (config.Key): a million bins would take memory and say nothing more."""

    bins: int = field(default=10, metadata={"help": "PSI bins: reference quantiles at i/bins", "min": 2, "max": 1000})
    max_categories: int = field(default=50, metadata={
        "help": "reference categories kept before the rarest pool into __other__", "min": 1, "max": 100_000})
    psi_epsilon: float = field(default=0.0001, metadata={
        "help": "floor of every PSI proportion (the seed's epsilon)", "max": 0.5})
    psi_watch: float = field(default=0.1, metadata={"help": "PSI from which a feature is 'watch'"})
    psi_alert: float = field(default=0.2, metadata={"help": "PSI above which a feature alerts"})
    psi_high: float = field(default=0.25, metadata={"help": "PSI above which an alert is high severity"})
    ks_pvalue: float = field(default=0.01, metadata={
        "help": "KS p-value below which, with ks_stat, a feature alerts", "max": 1})
    ks_stat: float = field(default=0.1, metadata={
        "help": "KS statistic above which, with ks_pvalue, a feature alerts", "max": 1})
    out_of_range_watch: float = field(default=0.01, metadata={
        "help": "share of current values outside the reference range that makes 'watch'", "max": 1})
    new_categories_watch: float = field(default=0.01, metadata={
        "help": "share of current values in unseen categories that makes 'watch'", "max": 1})
    missing_change: float = field(default=0.05, metadata={
        "help": "change of the missing share that makes 'watch' (feature coverage)", "max": 1})
    fail_on: str = field(
        default="medium", metadata={"help": "exit 1 on a finding at or above this severity", "choices": FAIL_ON_LEVELS}
    )
