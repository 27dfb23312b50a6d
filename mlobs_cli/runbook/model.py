"""A runbook as data: load a YAML file, validate it (schema, templates, expressions, references), with lines.

Everything that could fail at 3 a.m. fails here instead: a template or rule naming an undefined variable or label,
a rule about a check that does not exist, a `lookup` of a later step, a cause no mitigation knows, a catalogue
threshold that does not exist, invalid PromQL. `problems(path)` lists every problem (for `runbook lint`);
`load(path)` raises `RunbookError` (exit 2) on the first.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlobs_cli import catalogue, yamlbounds
from mlobs_cli.errors import InputError
from mlobs_cli.runbook import checks, schema
from mlobs_cli.runbook.expr import FORMATS, PURE_FUNCTIONS, Expr, ExprError, Template, compile_expr, compile_template
from mlobs_cli.timeparse import parse_duration

BUILTIN_VARIABLES = ("at",)  # the walk's time, Unix seconds
DEFAULT_TIMEOUT = 20.0  # seconds, for a check whose step and runbook say nothing
COMMON_CHECK_KEYS = frozenset({"id", "kind", "title", "labels", "format", "sort", "limit", "if", "optional",
                               "required", "empty_means", "timeout"})
PLACEHOLDERS = {"duration": "5m", "number": 1, "string": "x"}


class RunbookError(InputError):
    """A runbook that cannot be used; every problem has its line."""

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = sorted(problems)
        line, message = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problem(s): mlobs runbook lint {path})" \
            if len(self.problems) > 1 else ""
        super().__init__(f"runbook {path} line {line}: {message}{more}")


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    description: str
    default: Any = None
    pattern: str | None = None
    type: str = "string"


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    kind: str
    title: str
    spec: Mapping[str, Any]  # the check as written
    line: int
    labels: tuple[str, ...] = ()
    templates: Mapping[str, Template] = field(default_factory=dict)
    row_exprs: Mapping[str, Expr] = field(default_factory=dict)
    samples: Mapping[str, str] = field(default_factory=dict)  # templates rendered with placeholder values
    formats: Mapping[str, str] = field(default_factory=dict)
    sort: Expr | None = None
    descending: bool = False
    limit: int | None = None
    condition: Expr | None = None  # `if:`
    optional: bool = False  # without data, the step concludes on its other checks
    required: bool = False  # without data (or not collected), the walk is incomplete: exit 3
    empty_means: str | None = None  # an empty answer is OK and says this ("none firing")
    timeout: float = DEFAULT_TIMEOUT

    def fields(self) -> tuple[str, ...]:
        return tuple(checks.kind(self.kind).fields(self))


@dataclass(frozen=True, slots=True)
class Rule:
    check: str
    when: Expr
    status: str
    message: Template
    subject: Template | None
    supports: Mapping[str, float]
    line: int


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    ask: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    run: Template
    why: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    line: int
    why: str = ""
    layout: str = "tables"
    join: str | None = None
    checks: tuple[Check, ...] = ()
    rules: tuple[Rule, ...] = ()
    questions: tuple[Question, ...] = ()
    commands: tuple[Command, ...] = ()


@dataclass(frozen=True, slots=True)
class Mitigation:
    id: str
    title: str
    fits: Mapping[str, float]  # cause -> how well it fits
    line: int
    variables: tuple[tuple[str, Expr], ...] = ()
    command: Template | None = None
    change: Template | None = None
    undo: Template | None = None
    executable: bool = False
    target: Template | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    after: float  # seconds
    page: str
    customer_impact: str = ""
    question: str | None = None
    started: Expr | None = None  # when the incident began (Unix seconds), from the evidence


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    title: str
    path: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    symptoms: tuple[str, ...] = ()
    inputs: Mapping[str, Input] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    causes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    mitigations: tuple[Mitigation, ...] = ()
    escalation: Escalation | None = None

    def step_index(self, step_id: str) -> int:
        """Position of a step by id or 1-based number.

        Raises:
            InputError: No such step.
        """
        for i, step in enumerate(self.steps):
            if step.id == step_id or step_id == str(i + 1):
                return i
        known = ", ".join(f"{i + 1}:{s.id}" for i, s in enumerate(self.steps))
        raise InputError(f"runbook {self.name} has no step {step_id!r} (steps: {known})")

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.steps for q in s.questions)


# -- loading -----------------------------------------------------------------------------------------------------


def load(path: str | Path) -> Runbook:
    """Read and validate a runbook file.

    Raises:
        RunbookError: The file is not a valid runbook (every problem, with its line).
        InputError: The file cannot be read.
    """
    runbook, problems = _load(Path(path))
    if problems:
        raise RunbookError(str(path), problems)
    assert runbook is not None
    return runbook


def problems(path: str | Path) -> list[tuple[int, str]]:
    """Every problem of a runbook file, as (line, message), sorted; empty when it is valid."""
    return sorted(_load(Path(path))[1])


def _load(path: Path) -> tuple[Runbook | None, list[tuple[int, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read runbook {path}: {e}") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        yamlbounds.check(node)
        data = yaml.safe_load(text)  # aliases bounded by the check above
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return None, [(mark.line + 1 if mark else 1, f"invalid YAML: {getattr(e, 'problem', None) or e}")]
    if node is None:
        return None, [(1, "empty file: expected a runbook (version, name, title, steps)")]
    lines = schema.line_map(node)
    found = [(schema.line_of(lines, p), f"{schema.dotted(p)}: {m}") for p, m in schema.validate(data)]
    if found:
        return None, found
    builder = _Builder(data, lines, str(path))
    runbook = builder.build()
    return runbook, builder.problems


class _Builder:
    """Turns validated data into a Runbook, collecting what the schema cannot see."""

    def __init__(self, data: dict[str, Any], lines: Mapping[tuple, int], path: str) -> None:
        self.data, self.lines, self.path = data, lines, path
        self.problems: list[tuple[int, str]] = []
        self.catalogue = catalogue.load()
        self.inputs = {name: Input(name, spec["description"], spec.get("default"), spec.get("pattern"),
                                   spec.get("type", "string")) for name, spec in data.get("inputs", {}).items()}
        questions = [q["id"] for s in data["steps"] for q in s.get("questions", ())]
        self.variables = frozenset((*self.inputs, *BUILTIN_VARIABLES, *questions))
        self.checks: dict[str, Check] = {}  # id -> check, as the steps are built
        self.all_checks = {c["id"] for s in data["steps"] for c in s.get("checks", ())}
        self.causes = data.get("causes", {})

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append((schema.line_of(self.lines, path), f"{schema.dotted(path)}: {message}"))

    def build(self) -> Runbook:
        data = self.data
        for name, spec in self.inputs.items():
            self._input(name, spec)
        steps = []
        seen_steps: set[str] = set()
        for i, raw in enumerate(data["steps"]):
            if raw["id"] in seen_steps:
                self.problem(("steps", i, "id"), f"step {raw['id']!r} is defined twice")
            seen_steps.add(raw["id"])
            steps.append(self._step(i, raw))
        for cause in self.causes:
            if not any(cause in m.get("for", {}) for m in data.get("mitigations", ())):
                self.problem(("causes", cause), f"cause {cause!r} has no mitigation (add it to a mitigation's `for`)")
        mitigations = tuple(self._mitigation(i, raw) for i, raw in enumerate(data.get("mitigations", ())))
        escalation = None
        if "escalation" in data:
            raw = data["escalation"]
            started = self._expr(("escalation", "started"), raw["started"], self.variables) \
                if "started" in raw else None
            escalation = Escalation(self._seconds(("escalation", "after"), raw["after"]), raw["page"],
                                    raw.get("customer_impact", ""), raw.get("question"), started)
            if escalation.question and escalation.question not in self.variables - set(self.inputs):
                self.problem(("escalation", "question"), f"no question {escalation.question!r} in any step")
        return Runbook(
            name=data["name"], title=data["title"], path=self.path, description=data.get("description", ""),
            aliases=tuple(data.get("aliases", ())), symptoms=tuple(data.get("symptoms", ())), inputs=self.inputs,
            steps=tuple(steps), causes=self.causes, mitigations=mitigations, escalation=escalation)

    def _input(self, name: str, spec: Input) -> None:
        where = ("inputs", name)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            self.problem(where, f"input name {name!r}: use lower case letters, digits and _")
        if spec.pattern is not None:
            try:
                pattern = re.compile(spec.pattern)
            except re.error as e:
                self.problem((*where, "pattern"), f"invalid regular expression: {e}")
                return
            if spec.default is not None and not pattern.fullmatch(str(spec.default)):
                self.problem((*where, "default"), f"default {spec.default!r} does not match {spec.pattern}")
        if spec.type == "number" and spec.default not in (None, ""):
            try:
                float(spec.default)
            except ValueError:
                self.problem((*where, "default"), f"default {spec.default!r} is not a number")
        if spec.type == "duration" and spec.default not in (None, ""):
            self._seconds((*where, "default"), str(spec.default))

    def _seconds(self, path: tuple, text: str) -> float:
        try:
            return parse_duration(text, "duration").total_seconds()
        except InputError as e:
            self.problem(path, str(e))
            return DEFAULT_TIMEOUT

    # -- expressions and templates -------------------------------------------------------------------------------

    def _expr(self, path: tuple, source: Any, names: frozenset[str]) -> Expr | None:
        try:
            expr = compile_expr(str(source))
        except ExprError as e:
            self.problem(path, str(e))
            return None
        self._names(path, expr, names)
        return expr

    def _template(self, path: tuple, source: Any, names: frozenset[str]) -> Template | None:
        try:
            template = compile_template(str(source))
        except ExprError as e:
            self.problem(path, str(e))
            return None
        for expr in template.exprs:
            self._names(path, expr, names)
        return template

    def _names(self, path: tuple, expr: Expr, names: frozenset[str]) -> None:
        """Reject undefined names, and calls whose constant arguments name what does not exist. A lookup may read
        the checks of its own and earlier steps: those built so far."""
        undefined = sorted(expr.names - names)
        if undefined:
            self.problem(path, f"undefined variable {undefined[0]!r} in {expr.source!r} "
                               f"(defined here: {', '.join(sorted(names))})")
        for fn, args, kwargs in expr.calls:
            if fn == "catalogue":
                self._catalogue_call(path, args)
            elif fn in ("lookup", "count", "min_of"):
                self._check_call(path, fn, args, kwargs)

    def _catalogue_call(self, path: tuple, args: tuple) -> None:
        if len(args) != 2 or None in args:
            self.problem(path, "catalogue() takes two quoted names: catalogue('metric', 'level')")
            return
        metric = self.catalogue.get(args[0])
        if metric is None or metric.name != args[0]:
            self.problem(path, f"catalogue(): {args[0]!r} is not a metric of the catalogue")
        elif args[1] not in {t.level for t in metric.thresholds}:
            levels = ", ".join(t.level for t in metric.thresholds) or "none"
            self.problem(path, f"catalogue(): {args[0]} has no {args[1]!r} threshold (it has: {levels})")

    def _check_call(self, path: tuple, fn: str, args: tuple, kwargs: tuple) -> None:
        usage = {"lookup": "lookup('check', 'field', label=name)", "count": "count('check')",
                 "min_of": "min_of('check', 'field')"}[fn]
        if len(args) != usage.count("'") // 2 or None in args:
            self.problem(path, f"{fn}() takes quoted names: {usage}")
            return
        check = self.checks.get(args[0])
        if check is None:
            where = "runs in a later step" if args[0] in self.all_checks else "does not exist"
            self.problem(path, f"{fn}(): check {args[0]!r} {where} (a lookup reads this or an earlier step)")
            return
        if fn != "count" and args[1] not in (*check.labels, *check.fields()):
            self.problem(path, f"{fn}(): check {check.id!r} has no field {args[1]!r} "
                               f"(it has: {', '.join((*check.labels, *check.fields()))})")
        for label, _ in kwargs:
            if label not in check.labels:
                self.problem(path, f"{fn}(): check {check.id!r} has no label {label!r} (declare it in `labels`)")

    # -- steps -----------------------------------------------------------------------------------------------------

    def _step(self, index: int, raw: dict[str, Any]) -> Step:
        where = ("steps", index)
        timeout = self._seconds((*where, "timeout"), raw["timeout"]) if "timeout" in raw else DEFAULT_TIMEOUT
        step_checks = []
        for i, raw_check in enumerate(raw.get("checks", ())):
            check = self._check((*where, "checks", i), raw_check, timeout)
            if check is not None:
                if check.id in self.checks:
                    self.problem((*where, "checks", i, "id"), f"check {check.id!r} is defined twice")
                self.checks[check.id] = check
                step_checks.append(check)
        own = {c.id: c for c in step_checks}
        rules = tuple(r for i, raw_rule in enumerate(raw.get("rules", ()))
                      if (r := self._rule((*where, "rules", i), raw_rule, own)) is not None)
        if raw.get("layout") == "side_by_side" and not raw.get("join"):
            self.problem((*where, "layout"), "layout side_by_side needs `join: LABEL`")
        if raw.get("join") and any(raw["join"] not in c.labels for c in step_checks):
            self.problem((*where, "join"), f"every check of the step must declare the label {raw['join']!r}")
        commands = tuple(Command(t, c.get("why", "")) for i, c in enumerate(raw.get("commands", ()))
                         if (t := self._template((*where, "commands", i, "run"), c["run"], self.variables))
                         is not None)
        questions = tuple(Question(q["id"], q["ask"], tuple(q.get("choices", ()))) for q in raw.get("questions", ()))
        return Step(raw["id"], raw["title"], schema.line_of(self.lines, where), raw.get("why", ""),
                    raw.get("layout", "tables"), raw.get("join"), tuple(step_checks), rules, questions, commands)

    def _check(self, where: tuple, raw: dict[str, Any], timeout: float) -> Check | None:
        try:
            kind = checks.kind(raw["kind"])
        except KeyError:
            self.problem((*where, "kind"), f"check kind {raw['kind']!r} is not available in this build of mlobs "
                                           f"(available: {', '.join(checks.KINDS)})")
            return None
        for key in sorted(set(raw) - COMMON_CHECK_KEYS - set(kind.KEYS)):
            self.problem((*where, key), f"`{key}` is not a key of a {raw['kind']} check (its own keys: "
                                        f"{', '.join(kind.KEYS)})")
        labels = tuple(raw.get("labels", ()))
        templates = {key: t for key in kind.TEMPLATES if key in raw
                     if (t := self._template((*where, key), raw[key], self.variables)) is not None}
        row_exprs = {key: e for key in kind.ROW_EXPRESSIONS if key in raw
                     if (e := self._expr((*where, key), raw[key], self.variables | set(labels))) is not None}
        condition = self._expr((*where, "if"), raw["if"], self.variables) if "if" in raw else None
        check = Check(
            id=raw["id"], kind=raw["kind"], title=raw["title"], spec=raw, line=schema.line_of(self.lines, where),
            labels=labels, templates=templates, row_exprs=row_exprs, samples=self._samples(where, templates),
            formats=dict(raw.get("format", {})), limit=raw.get("limit"), condition=condition,
            optional=bool(raw.get("optional", False)), required=bool(raw.get("required", False)),
            empty_means=raw.get("empty_means") or None,
            timeout=self._seconds((*where, "timeout"), raw["timeout"]) if "timeout" in raw else timeout)
        if check.required and check.optional:
            self.problem((*where, "required"), "a check is either required or optional, not both")
        row_names = self.variables | set(labels) | set(check.fields())
        for key, fmt in check.formats.items():
            if key not in (*labels, *check.fields()):
                self.problem((*where, "format", key), f"no field {key!r} to format")
            if fmt not in FORMATS:
                self.problem((*where, "format", key), f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        if "sort" in raw:
            text = str(raw["sort"])
            sort = self._expr((*where, "sort"), text.removeprefix("-"), row_names)
            check = dataclasses.replace(check, sort=sort, descending=text.startswith("-"))
        for key, message in kind.validate(check):
            self.problem((*where, key), message)
        return check

    def _samples(self, where: tuple, templates: Mapping[str, Template]) -> dict[str, str]:
        """Each template rendered with placeholder values, for the kinds to check their syntax at load."""
        values: dict[str, Any] = {"at": 0.0}
        for name, spec in self.inputs.items():
            values[name] = spec.default if spec.default not in (None, "") else PLACEHOLDERS[spec.type]
        for name in self.variables - set(values):
            values[name] = "yes"
        functions = {**PURE_FUNCTIONS, "slo": lambda *_: 0.1, "catalogue": lambda *_: 1.0,
                     "lookup": lambda *_, **__: None, "count": lambda *_: 0,
                     "min_of": lambda *_: None}
        out = {}
        for key, template in templates.items():
            if not template.names <= self.variables:
                continue  # the undefined name is the problem, reported already
            try:
                out[key] = template.render(values, functions, missing="0")[0]
            except (ExprError, TypeError, ValueError) as e:
                self.problem((*where, key), f"cannot render: {e}")
                out[key] = ""
        return out

    def _rule(self, where: tuple, raw: dict[str, Any], own: Mapping[str, Check]) -> Rule | None:
        check = own.get(raw["check"])
        if check is None:
            self.problem((*where, "check"), f"no check {raw['check']!r} in this step (checks: {', '.join(own)})")
            return None
        names = self.variables | set(check.labels) | set(check.fields())
        when = self._expr((*where, "when"), raw["when"], names)
        message = self._template((*where, "message"), raw["message"], names)
        subject = self._template((*where, "subject"), raw["subject"], names) if "subject" in raw else None
        for cause in raw.get("supports", {}):
            if cause not in self.causes:
                self.problem((*where, "supports", cause), f"no cause {cause!r} under `causes`")
        if when is None or message is None:
            return None
        return Rule(check.id, when, raw["status"], message, subject, dict(raw.get("supports", {})),
                    schema.line_of(self.lines, where))

    def _mitigation(self, index: int, raw: dict[str, Any]) -> Mitigation:
        where = ("mitigations", index)
        for cause in raw["for"]:
            if cause not in self.causes:
                self.problem((*where, "for", cause), f"no cause {cause!r} under `causes`")
        names = self.variables | {"model"}
        variables = []
        for name, source in raw.get("vars", {}).items():
            expr = self._expr((*where, "vars", name), source, frozenset(names))
            names = names | {name}
            if expr is not None:
                variables.append((name, expr))
        names = frozenset(names)
        templates = {key: self._template((*where, key), raw[key], names) if key in raw else None
                     for key in ("command", "change", "undo", "target")}
        if ("command" in raw) == ("change" in raw):
            self.problem(where, "a mitigation has either `command` or `change`")
        if raw.get("executable") and ("command" not in raw or "target" not in raw):
            self.problem((*where, "executable"), "an executable mitigation needs `command` and `target` (the "
                                                 "deployment name the engineer types to confirm)")
        return Mitigation(raw["id"], raw["title"], dict(raw["for"]), schema.line_of(self.lines, where),
                          tuple(variables), templates["command"], templates["change"], templates["undo"],
                          bool(raw.get("executable", False)), templates["target"])
