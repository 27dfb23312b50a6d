"""The one interface every kind of check implements, and the evidence a check returns.

A check kind is a module in this package with:

- `NAME`: the `kind:` of a check in a runbook;
- `KEYS`: the keys of a check of this kind besides the common ones (id, kind, title, labels, format...);
- `TEMPLATES`: the keys of a check that are templates (rendered with the walk's variables before it runs);
- `ROW_EXPRESSIONS`: the keys that are expressions evaluated per row of evidence (`crossing`);
- `fields(check)`: the statistics each row of its evidence carries, besides the row's labels;
- `validate(check)`: problems only this kind can see, as (key, message); the loader adds the line;
- `run(check, ctx)`: the evidence (never raises for a backend failure: that is `Evidence.error`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mlobs_cli.metrics.common import scope_of

if TYPE_CHECKING:
    from mlobs_cli.config import Settings
    from mlobs_cli.runbook.model import Check

# The state of one check after a walk ran (or did not run) it.
OK = "ok"  # it answered with data
NO_DATA = "no_data"  # it answered with nothing: UNKNOWN, never OK
NOT_COLLECTED = "not_collected"  # it answered with nothing because the server has no series of a metric it reads
ERROR = "error"  # the backend failed or timed out: UNKNOWN
NOT_APPLICABLE = "not_applicable"  # its `if:` was false (e.g. no sample given)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of evidence: the labels that say what it is about, and its numbers (None: no value)."""

    labels: Mapping[str, str]
    values: Mapping[str, float | None]

    def names(self) -> dict[str, Any]:
        return {**self.labels, **self.values}

    def to_dict(self) -> dict[str, Any]:
        """With `scope` for a row about a model: "version" (its numbers are a version's) or "model" (the whole
        model's: the series carry no version), as the metrics views say it (metrics.common.scope_of)."""
        scope = scope_of(self.labels)
        return {"labels": dict(self.labels), "values": dict(self.values), **({"scope": scope} if scope else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Row:
        return cls(dict(data["labels"]), dict(data["values"]))


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one check found."""

    check: str
    kind: str
    state: str  # OK, NO_DATA, NOT_COLLECTED, ERROR, NOT_APPLICABLE
    query: str = ""  # the resolved query or a description of what was read
    rows: tuple[Row, ...] = ()
    error: str | None = None
    source: str = ""  # the backend, for errors: "prometheus", "nvml"...
    digest: str = ""  # one line that sums the result up, for the timeline
    # how to show it (set by the engine from the check): its title, the columns of its table and their formats
    title: str = ""
    columns: tuple[str, ...] = ()
    formats: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    absent: tuple[str, ...] = ()  # NOT_COLLECTED: the metrics the server has no series of
    required: bool = False  # the check's `required:`: without its data the walk is incomplete
    optional: bool = False  # the check's `optional:`: without its data the step still concludes

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "kind": self.kind, "state": self.state, "query": self.query,
                "rows": [r.to_dict() for r in self.rows], "error": self.error, "source": self.source,
                "digest": self.digest, "title": self.title, "columns": list(self.columns),
                "formats": dict(self.formats), "limit": self.limit, "absent": list(self.absent),
                "required": self.required, "optional": self.optional}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(data["check"], data["kind"], data["state"], data.get("query", ""),
                   tuple(Row.from_dict(r) for r in data.get("rows", ())), data.get("error"),
                   data.get("source", ""), data.get("digest", ""), data.get("title", ""),
                   tuple(data.get("columns", ())), dict(data.get("formats", {})), data.get("limit"),
                   tuple(data.get("absent", ())), bool(data.get("required", False)),
                   bool(data.get("optional", False)))


class Prometheus(Protocol):
    """What checks need of Prometheus: the real client, or a recording of one (`runbook test`)."""

    def query(self, promql: str, at: Any = None) -> list[Any]: ...

    def query_range(self, promql: str, start: Any, end: Any, step: float) -> list[Any]: ...

    def label_values(self, name: str) -> list[str]: ...


@dataclass
class Context:
    """What a check may read: the rendered values of its templates, the walk's variables, and the backends."""

    at: datetime
    settings: Settings
    variables: Mapping[str, Any]
    functions: Mapping[str, Callable[..., Any]]
    prometheus: Callable[[], Prometheus]  # opened on first use: a runbook without promql never needs a URL
    rendered: dict[str, str] = field(default_factory=dict)
    # every metric name the server has (asked once per walk); None when it could not say
    metric_names: Callable[[], frozenset[str] | None] = lambda: None


class CheckKind(Protocol):
    NAME: str
    KEYS: tuple[str, ...]
    TEMPLATES: tuple[str, ...]
    ROW_EXPRESSIONS: tuple[str, ...]

    def fields(self, check: Check) -> tuple[str, ...]: ...

    def validate(self, check: Check) -> list[tuple[str, str]]: ...

    def run(self, check: Check, ctx: Context) -> Evidence: ...
