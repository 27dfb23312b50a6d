"""The types every part of the linter shares: a rule as it was read, a problem found in it, the check protocol."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Protocol

from mlobs_cli.catalogue import Catalogue

DOCS_PATH = "docs/checks/{name}.md"  # in the mlobs repository, one page per check


class Severity(IntEnum):
    """How bad a problem is. ERROR: the rule cannot load, never fires or fires wrong. WARNING, INFO: policy, style."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """One alerting or recording rule as read from a file, with the line of everything a finding may point at."""

    kind: str  # "alert" | "record"
    name: str
    expr: str
    group: str
    line: int  # first line of the rule, 1-based
    expr_line: int  # line of `expr:` (or of the rule when expr is missing)
    keys: Mapping[str, int]  # every key of the rule (and `labels.x`, `annotations.x`) -> its line
    for_: str | None = None
    keep_firing_for: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()  # checks silenced on this rule by `# mlobs: disable=...`

    def line_of(self, key: str) -> int:
        """Line of a key (`expr`, or nested: `annotations.summary`), else of its parent key, else of the rule."""
        while key not in self.keys and "." in key:
            key = key.rsplit(".", 1)[0]
        return self.keys.get(key, self.line)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    line: int
    rules: tuple[Rule, ...]
    keys: Mapping[str, int]  # every key of the group mapping -> its line


@dataclass(frozen=True, slots=True)
class Problem:
    """What a check (or the loader) reports, before it is tied to a file."""

    check: str
    severity: Severity
    message: str
    line: int
    column: int | None = None
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A file as read: its groups and rules, or the problems that kept them from being read."""

    path: str
    form: str  # "prometheus" | "prometheusrule" | "thanos" | "seed"
    groups: tuple[Group, ...]
    problems: tuple[Problem, ...] = ()  # found while reading: YAML structure, duplicate keys, unknown keys
    disabled: frozenset[str] = frozenset()  # checks silenced for the whole file
    lines: tuple[str, ...] = ()  # the file's text, to show offending lines

    @property
    def rules(self) -> Iterable[Rule]:
        return (r for g in self.groups for r in g.rules)


class SeriesUnavailable(Exception):
    """The server behind a SeriesSource cannot be asked. `first` is True only the first time a source raises it,
    so that a run reports an unreachable server once, not once per rule or file."""

    def __init__(self, message: str, first: bool) -> None:
        super().__init__(message)
        self.first = first


class SeriesSource(Protocol):
    """Which series a Prometheus server holds over a recent window: what the online checks ask
    (`alerts validate --prometheus`). Checks see only this protocol, never an HTTP client;
    `mlobs_cli.alerts.online.ServerSeries` implements it. Answers are cached for the run.
    """

    lookback: str  # the window, as the user wrote it ("1h"), for messages
    strict: bool  # --strict: an unreachable server is an error finding, not a warning

    def existing(self, metrics: Collection[str]) -> frozenset[str]:
        """Those of `metrics` that have at least one series in the window (one request for many names).

        Raises:
            SeriesUnavailable: The server cannot be asked (then every later call raises it too, without trying).
        """
        ...

    def label_names(self, metric: str) -> frozenset[str]:
        """The label names any series of `metric` carries in the window (`__name__` included).

        Raises:
            SeriesUnavailable: As `existing`.
        """
        ...


@dataclass(frozen=True, slots=True)
class Context:
    """What checks may consult besides the rule: the metrics catalogue (built-in plus --catalog) and, with
    `--prometheus`, the series the server holds (None offline: the online checks then report nothing)."""

    catalogue: Catalogue
    series: SeriesSource | None = None


class Check:
    """Base of every check: it looks at one rule (`check_rule`) or at a whole file (`check_file`).

    Subclasses set NAME ("group/name": the code users see, the docs path docs/checks/<NAME>.md, the word in
    `# mlobs: disable=<NAME>`) and SEVERITY, and override one of the two methods. The class docstring has the
    sections What it checks / Why it matters / Example / How to fix.
    """

    NAME: ClassVar[str]
    SEVERITY: ClassVar[Severity]

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        return ()

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        return ()

    def problem(self, message: str, line: int, rule: str | None = None, column: int | None = None,
                severity: Severity | None = None) -> Problem:
        return Problem(self.NAME, self.SEVERITY if severity is None else severity, message, line, column, rule)


@dataclass(frozen=True, slots=True)
class LintFinding:
    """A problem tied to its file, as reported."""

    check: str
    severity: Severity
    path: str
    line: int
    column: int | None
    rule: str | None
    message: str

    @property
    def docs(self) -> str:
        return DOCS_PATH.format(name=self.check)

    def to_dict(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict, which deep-copies every field: a thousand findings took 40 ms
        return {"check": self.check, "severity": str(self.severity), "path": self.path, "line": self.line,
                "column": self.column, "rule": self.rule, "message": self.message, "docs": self.docs}
