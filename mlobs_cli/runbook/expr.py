"""The small, safe expression language of runbooks, and the strict `{{ ... }}` templates built on it.

An expression is a Python expression limited to: numbers, strings, names, arithmetic (+ - * / %), comparisons,
`and`/`or`/`not`, `x if c else y`, and calls of the functions in FUNCTIONS. Names are resolved from the row of
evidence being judged (its labels and statistics), then from the walk's variables. Nothing else is reachable: no
attributes, no subscripts, no lambdas. `compile_expr` parses once and lists every name and call, so the loader can
reject an expression that names something undefined when the runbook is loaded, not at 3 a.m.

Missing data is None and stays None through arithmetic; a comparison with None is False (never "OK by default":
the engine counts a check without data as UNKNOWN before any rule runs).

A template is text with `{{ expr }}` or `{{ expr | format }}` parts; FORMATS lists the formats.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlobs_cli.timeparse import parse_duration


class ExprError(ValueError):
    """An expression or template that cannot be used; the loader adds the file and line."""


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _promql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _match(label: str, value: Any) -> str:
    """A PromQL matcher: `label="value"`, or `label!=""` (any value) when value is empty or None."""
    return f"{label}!=\"\"" if value in (None, "") else f"{label}={_promql_string(str(value))}"


def _seconds(text: str) -> float:
    return parse_duration(str(text), "duration").total_seconds()


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return None if any(a is None for a in args) else fn(*args)
    return call


# Functions every expression may call; those of SCOPE_FUNCTIONS read the walk and are bound by engine.Scope.
PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _none_safe(abs),
    "ceil": _none_safe(math.ceil),
    "floor": _none_safe(math.floor),
    "round": _none_safe(round),
    "min": _none_safe(min),
    "max": _none_safe(max),
    "seconds": _seconds,
    "match": _match,
    "known": lambda value: value is not None,
}
SCOPE_FUNCTIONS = ("slo", "catalogue", "lookup", "count", "min_of")
FUNCTIONS = (*PURE_FUNCTIONS, *SCOPE_FUNCTIONS)


@dataclass(frozen=True, slots=True)
class Expr:
    """A parsed expression: its source, the names it reads, and its calls of lookup/catalogue/count with their
    constant arguments (so the loader can check them)."""

    source: str
    tree: ast.Expression
    names: frozenset[str]
    calls: tuple[tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]], ...]

    def __call__(self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> Any:
        return _eval(self.tree.body, names, functions)


def compile_expr(source: str) -> Expr:
    """Parse `source`.

    Raises:
        ExprError: Not valid, or uses something outside the language (an attribute, a subscript, a lambda...).
    """
    text = str(source).strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ExprError(f"expression {text!r}: {e.msg}") from None
    names: set[str] = set()
    calls: list[tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                shown = ast.unparse(node.func)
                raise ExprError(f"expression {text!r}: unknown function {shown!r} (known: {', '.join(FUNCTIONS)})")
            args = tuple(a.value if isinstance(a, ast.Constant) else None for a in node.args)
            kwargs = tuple((k.arg or "", k.value.id if isinstance(k.value, ast.Name) else None) for k in node.keywords)
            calls.append((node.func.id, args, kwargs))
        elif isinstance(node, ast.Name):
            if not any(isinstance(p, ast.Call) and p.func is node for p in ast.walk(tree)):
                names.add(node.id)
        elif not isinstance(node, _ALLOWED):
            raise ExprError(f"expression {text!r}: {type(node).__name__} is not allowed in a runbook expression")
    return Expr(text, tree, frozenset(names), tuple(calls))


_ALLOWED = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
            ast.IfExp, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.keyword, *_BINARY, *_COMPARE)


def _eval(node: ast.AST, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ExprError(f"undefined name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, names, functions), _eval(node.right, names, functions)
        if left is None or right is None:
            return None
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            return None  # a rate of zero requests: no answer, not a crash
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names, functions)
        if isinstance(node.op, ast.Not):
            return not value
        if value is None:
            return None
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, names, functions) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names, functions)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names, functions)
            if left is None or right is None or not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, names, functions) else node.orelse
        return _eval(branch, names, functions)
    if isinstance(node, ast.Call):
        fn = functions[node.func.id]  # type: ignore[attr-defined]
        args = [_eval(a, names, functions) for a in node.args]
        kwargs = {k.arg: _eval(k.value, names, functions) for k in node.keywords if k.arg}
        return fn(*args, **kwargs)
    raise ExprError(f"{type(node).__name__} is not allowed")  # compile_expr has refused it already


# -- templates ---------------------------------------------------------------------------------------------------

_PART = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _fmt_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if not value.is_integer() else str(int(value))
    return str(value)


def _fmt_time(value: Any) -> str:
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt_duration(value: Any) -> str:
    total = round(float(value))
    sign, total = ("-", -total) if total < 0 else ("", total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return sign + (f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


FORMATS: dict[str, Callable[[Any], str]] = {
    "num": _fmt_number,
    "ms": lambda v: f"{float(v) * 1000:.0f} ms",
    "pct": lambda v: f"{float(v):.0%}",
    "percent": lambda v: f"{float(v):.0f}%",
    "bytes": lambda v: f"{float(v) / 2**30:.1f} GiB",
    "time": _fmt_time,
    "duration": _fmt_duration,
    "int": lambda v: str(round(float(v))),
}


@dataclass(frozen=True, slots=True)
class Template:
    """Text with `{{ expr | format }}` parts."""

    source: str
    parts: tuple[tuple[str, Expr, str | None], ...]  # (literal text before, expression, format)
    tail: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset().union(*(e.names for _, e, _ in self.parts)) if self.parts else frozenset()

    @property
    def exprs(self) -> tuple[Expr, ...]:
        return tuple(e for _, e, _ in self.parts)

    def render(self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]],
               missing: str = "?", quote: Callable[[str], str] | None = None) -> tuple[str, tuple[str, ...]]:
        """The text, and the source of every part whose value was unknown (None): each shows as `missing`.
        `quote` wraps every unformatted text value (shlex.quote for a shell command: a label value from the
        server must stay one argument when the command is pasted)."""
        out: list[str] = []
        unknown: list[str] = []
        for literal, expr, fmt in self.parts:
            out.append(literal)
            value = expr(names, functions)
            if value is None:
                unknown.append(expr.source)
                out.append(missing)
            elif quote is not None and fmt is None and isinstance(value, str):
                out.append(quote(value))
            else:
                out.append(FORMATS[fmt](value) if fmt else _fmt_number(value))
        out.append(self.tail)
        return "".join(out), tuple(unknown)


def compile_template(source: str) -> Template:
    """Parse a template.

    Raises:
        ExprError: An unclosed `{{`, an empty part, an unknown format, or an invalid expression.
    """
    text = str(source)
    parts: list[tuple[str, Expr, str | None]] = []
    position = 0
    for m in _PART.finditer(text):
        body = m.group(1)
        expr_text, _, fmt = body.partition("|")
        fmt_name = fmt.strip() or None
        if fmt_name is not None and fmt_name not in FORMATS:
            raise ExprError(f"template {text!r}: unknown format {fmt_name!r} (known: {', '.join(FORMATS)})")
        if not expr_text.strip():
            raise ExprError(f"template {text!r}: empty {{{{ }}}}")
        parts.append((text[position:m.start()], compile_expr(expr_text), fmt_name))
        position = m.end()
    tail = text[position:]
    if "{{" in tail or any("{{" in literal for literal, _, _ in parts):
        raise ExprError(f"template {text!r}: a {{{{ without its }}}}")
    return Template(text, tuple(parts), tail)
