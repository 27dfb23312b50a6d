"""The metrics catalogue of the seed design, loaded once from metrics.yaml beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

METRIC_TYPES = ("counter", "gauge", "histogram", "summary")
LEVELS = ("warn", "alert", "investigate", "scale_up")
OPERATORS = ("<", ">")


@dataclass(frozen=True, slots=True)
class Threshold:
    stat: str  # what is compared: value, p99, avg, a ratio; see metrics.yaml
    op: str
    value: float
    level: str

    def crossed(self, observed: float) -> bool:
        return observed < self.value if self.op == "<" else observed > self.value


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    type: str
    labels: tuple[str, ...]
    category: str
    unit: str | None = None
    thresholds: tuple[Threshold, ...] = ()

    def series_labels(self, series: str) -> tuple[str, ...]:
        """Labels of one series of this family: a histogram's `_bucket` adds `le`, a summary adds `quantile`."""
        if self.type == "histogram" and series == f"{self.name}_bucket":
            return (*self.labels, "le")
        if self.type == "summary" and series == self.name:
            return (*self.labels, "quantile")
        return self.labels

    def series_names(self) -> tuple[str, ...]:
        if self.type in ("histogram", "summary"):
            suffixes = ("_bucket", "_sum", "_count") if self.type == "histogram" else ("", "_sum", "_count")
            return tuple(self.name + s for s in suffixes)
        return (self.name,)


@dataclass(frozen=True, slots=True)
class Catalogue:
    metrics: tuple[Metric, ...]

    def get(self, name: str) -> Metric | None:
        """The metric a family or series name belongs to (`x_bucket` -> histogram `x`), or None."""
        return self._by_series().get(name)

    @cache  # noqa: B019 - the catalogue is frozen and loaded once
    def _by_series(self) -> dict[str, Metric]:
        return {series: m for m in self.metrics for series in (m.name, *m.series_names())}


def _metric(entry: dict) -> Metric:
    if entry["type"] not in METRIC_TYPES:
        raise ValueError(f"catalogue: {entry['name']}: unknown type {entry['type']!r}")
    thresholds = tuple(Threshold(**t) for t in entry.get("thresholds", ()))
    for t in thresholds:
        if t.op not in OPERATORS or t.level not in LEVELS:
            raise ValueError(f"catalogue: {entry['name']}: bad threshold {t}")
    return Metric(
        name=entry["name"],
        type=entry["type"],
        labels=tuple(entry["labels"]),
        category=entry["category"],
        unit=entry.get("unit"),
        thresholds=thresholds,
    )


@cache
def load() -> Catalogue:
    """The catalogue shipped with mlobs."""
    text = resources.files(__package__).joinpath("metrics.yaml").read_text(encoding="utf-8")
    return Catalogue(tuple(_metric(e) for e in yaml.safe_load(text)["metrics"]))
