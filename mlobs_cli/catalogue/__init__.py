"""The metrics catalogue of the seed design, loaded once from metrics.yaml beside this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

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
    # series name -> metric, built once: the linter looks a name up for every selector of every rule
    _by_series: dict[str, Metric] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {series: m for m in self.metrics for series in (m.name, *m.series_names())}
        object.__setattr__(self, "_by_series", index)

    def get(self, name: str) -> Metric | None:
        """The metric a family or series name belongs to (`x_bucket` -> histogram `x`), or None."""
        return self._by_series.get(name)


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


METRIC_KEYS = ("name", "type", "labels", "category", "unit", "thresholds")


def load_file(path: str | Path) -> Catalogue:
    """A user's catalogue file (`alerts validate --catalog FILE`), in the format of metrics.yaml.

    A user's entry may leave out `category` (it becomes "custom"); everything else is checked as for the built-in
    file, and every problem names the line of the entry.

    Raises:
        InputError: the file cannot be read, is not YAML, or an entry is invalid.
    """
    from mlobs_cli.errors import InputError

    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read catalog file {path}: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"catalog file {path}{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        raise InputError(f"catalog file {path} line 1: expected a mapping with a `metrics:` list (as metrics.yaml)")
    items = next(v for k, v in node.value if k.value == "metrics").value
    metrics = []
    for entry, item in zip(data["metrics"], items, strict=True):
        line = item.start_mark.line + 1
        try:
            metrics.append(_user_metric(entry))
        except (ValueError, TypeError, KeyError) as e:
            raise InputError(f"catalog file {path} line {line}: {e}") from e
    return Catalogue(tuple(metrics))


def _user_metric(entry: object) -> Metric:
    if not isinstance(entry, dict):
        raise TypeError("expected a mapping with name, type and labels")
    missing = [k for k in ("name", "type", "labels") if k not in entry]
    if missing:
        raise ValueError(f"metric {entry.get('name', '?')!r}: missing {', '.join(missing)}")
    unknown = sorted(set(entry) - set(METRIC_KEYS))
    if unknown:
        raise ValueError(f"metric {entry['name']!r}: unknown key {unknown[0]!r} (known: {', '.join(METRIC_KEYS)})")
    if not isinstance(entry["labels"], list) or not all(isinstance(label, str) for label in entry["labels"]):
        raise ValueError(f"metric {entry['name']!r}: labels must be a list of names")
    return _metric({"category": "custom", **entry})


def merged(base: Catalogue, extra: Catalogue) -> Catalogue:
    """`base` with the metrics of `extra` added; an entry of `extra` replaces the base entry of the same name."""
    replaced = {m.name for m in extra.metrics}
    return Catalogue(tuple(m for m in base.metrics if m.name not in replaced) + extra.metrics)
