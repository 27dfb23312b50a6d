"""alerts/template: Go-template errors in labels and annotations, `$value` in labels, labels that cannot exist."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from mlobs_cli.alerts import promql
from mlobs_cli.alerts.base import Check, Context, Problem, Rule, Severity

# Go's builtins, Prometheus's template functions and the template keywords: any other bare word in an action is
# "function not defined", which Prometheus reports when it loads the rule.
KNOWN_WORDS = frozenset({
    # keywords and literals
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil", "true", "false",
    # Go text/template builtins
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery", "call",
    "eq", "ne", "lt", "le", "gt", "ge",
    # Prometheus (template/template.go)
    "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match", "title", "toUpper",
    "toLower", "graphLink", "tableLink", "sortByLabel", "humanize", "humanize1024", "humanizeDuration",
    "humanizePercentage", "humanizeTimestamp", "toTime", "toDuration", "pathPrefix", "externalURL", "parseDuration",
    "stripPort", "stripDomain", "urlQueryEscape", "now", "safeUrl",
})
OPENERS = frozenset({"if", "range", "with", "define", "block"})

ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
WORD = re.compile(r"(?<![\w.$])([A-Za-z_]\w*)")
LABEL_REFS = (re.compile(r"\$labels\.([A-Za-z_]\w*)"), re.compile(r'index\s+\$labels\s+"([A-Za-z_]\w*)"'))
DOT_LABEL_REF = re.compile(r"(?<![\w$])\.Labels\.([A-Za-z_]\w*)")
VALUE_REF = re.compile(r"\$value\b|(?<![\w$])\.Value\b")
# Prometheus runs every alert template after `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
# {{$externalURL := .ExternalURL}}{{$value := .Value}}`: those are the only variables a template gets for free.
PREDEFINED = frozenset({"labels", "externalLabels", "externalURL", "value"})
VARIABLE = re.compile(r"\$([A-Za-z_]\w*)")
DECLARED = re.compile(r"\$([A-Za-z_]\w*)\s*(?:,\s*\$([A-Za-z_]\w*)\s*)?:?=")


@dataclass
class Template:
    """What the pragmatic parse of one template found."""

    errors: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # alert labels referenced: $labels.x, .Labels.x at top level
    uses_value: bool = False
    variables: set[str] = field(default_factory=lambda: set(PREDEFINED))  # declared so far (scopes not tracked)


@lru_cache(maxsize=4096)  # the same annotations recur across rules: treat the result as read-only
def parse_template(text: str) -> Template:
    """Parse a Go template well enough to find its errors and the alert labels it reads.

    Limits: this is not Go's parser. It finds unclosed actions, unbalanced quotes and parentheses in actions,
    `if`/`range`/`with`/`define`/`block` without `end` (and `end`/`else` without an opener), and bare words that
    are neither keywords nor Go/Prometheus template functions. It does not type-check pipelines or arguments, and
    it treats a variable declared anywhere before its use as defined (Go ends its scope with the enclosing
    block).
    """
    result = Template()
    if "{{" not in text:
        return result
    stack: list[str] = []
    pos = 0
    for m in ACTION.finditer(text):
        if "{{" in text[pos:m.start()]:
            result.errors.append("`{{` without a closing `}}`")
            return result
        pos = m.end()
        _action(m.group(1), stack, result)
    if "{{" in text[pos:]:
        result.errors.append("`{{` without a closing `}}`")
    for opener in reversed(stack):
        result.errors.append(f"`{{{{ {opener} }}}}` without `{{{{ end }}}}`")
    return result


def _action(body: str, stack: list[str], result: Template) -> None:
    body = body.strip()
    body = body.removeprefix("-")
    body = body.removesuffix("-")
    body = body.strip()
    if body.startswith("/*"):
        if not body.endswith("*/"):
            result.errors.append("comment `{{/*` without `*/}}`")
        return
    code = STRING.sub('""', body)
    if code.count('"') % 2 or code.count("`") % 2:
        result.errors.append(f"unterminated string in `{{{{ {body} }}}}`")
        return
    if code.count("(") != code.count(")"):
        result.errors.append(f"unbalanced parentheses in `{{{{ {body} }}}}`")
    if not code:
        result.errors.append("empty action `{{ }}`")
        return
    words = code.split()
    first = words[0] if words else ""
    if first in OPENERS:
        stack.append(first)
    elif first == "end":
        if not stack:
            result.errors.append("`{{ end }}` without an opening `if`, `range` or `with`")
        else:
            stack.pop()
    elif first == "else" and not stack:
        result.errors.append("`{{ else }}` outside `if`, `range` or `with`")
    for word in WORD.findall(code):
        if word not in KNOWN_WORDS:
            result.errors.append(f"function `{word}` not defined in `{{{{ {body} }}}}`")
    if "$" in code:
        for declared in DECLARED.findall(code):
            result.variables.update(v for v in declared if v)
        for name in VARIABLE.findall(code):
            if name not in result.variables:
                result.errors.append(f"undefined variable `${name}` in `{{{{ {body} }}}}` (did you mean `$labels`?)"
                                     if name.startswith("label") else f"undefined variable `${name}` in `{{{{ {body} }}}}`")
    # The substring tests skip the regular expressions in the many actions that cannot match them.
    if "$labels" in body:
        for ref in LABEL_REFS:
            result.labels += ref.findall(code if ref.pattern.startswith(r"\$") else body)
    if ".Labels" in code and "range" not in stack and "with" not in stack:  # inside them the dot is something else
        result.labels += DOT_LABEL_REF.findall(code)
    if ("$value" in code or ".Value" in code) and VALUE_REF.search(code):
        result.uses_value = True


def _templates(rule: Rule) -> Iterator[tuple[str, str, str]]:
    for section, mapping in (("labels", rule.labels), ("annotations", rule.annotations)):
        for key, value in (mapping or {}).items():
            if isinstance(value, str):
                yield section, key, value


class AlertTemplate(Check):
    """What it checks: the Go templates in an alert's labels and annotations: syntax errors (an unclosed `{{`,
    `{{ if }}`/`{{ range }}`/`{{ with }}` without `{{ end }}`, an undefined function), `$value` or `.Value` in a
    label (a warning), and `$labels.X` / `.Labels.X` where the expression provably has no label X: an aggregation
    dropped it (`sum by (...)`, `without (X)`), `absent()` never has it, `on(...)` kept only other labels, or the
    metrics catalogue says the metric does not carry it.

    Why it matters: Prometheus refuses to load a rule whose template does not parse; a label referenced but absent
    renders as an empty string, so the page says "High latency for " and the on-call engineer does not know which
    model; `$value` in a label starts a new alert (resolving the old one) every time the value changes.

    Example: `expr: max by (model) (feature_psi) > 0.2` with `summary: "Drift for {{ $labels.model_id }}"`.

    How to fix: reference a label the expression keeps (`{{ $labels.model }}`), or keep the label in the
    aggregation (`by (model, model_id)`); close every `{{ if }}` with `{{ end }}`; move `$value` to an annotation.
    """

    NAME = "alerts/template"
    SEVERITY = Severity.ERROR

    def check_rule(self, rule: Rule, ctx: Context) -> Iterable[Problem]:
        if rule.kind != "alert":
            return
        output = promql.labels_of(rule.expr, ctx.catalogue) if rule.expr else None
        reported: set[tuple[str, str]] = set()
        for section, key, text in _templates(rule):
            line = rule.line_of(f"{section}.{key}")
            parsed = parse_template(text)
            for error in parsed.errors:
                yield self.problem(f"{section[:-1]} `{key}`: template error: {error}", line, rule.name)
            if parsed.uses_value and section == "labels":
                yield self.problem(f"label `{key}` uses $value: every change of the value creates a new alert "
                                   "(and resolves the old one); put the value in an annotation instead",
                                   line, rule.name, severity=Severity.WARNING)
            if output is None:
                continue
            for label in parsed.labels:
                if output.lacks(label) and (key, label) not in reported:
                    reported.add((key, label))
                    yield self.problem(
                        f"{section[:-1]} `{key}` uses $labels.{label}, but the expression's result has no "
                        f"`{label}` label (its labels: {output.shown()}), so it renders empty; use one of those "
                        f"labels or keep `{label}` in the expression", line, rule.name)


CHECK = AlertTemplate()
