"""PromQL helpers shared by the semantic checks: a cached parser, a walker, and label inference.

`output_labels(node, catalogue)` answers "which labels does this expression's result carry?" as a `LabelSet`:

- `has`: labels every result series provably carries;
- `may`: an upper bound (every label a result series can carry), or None when it cannot be bounded (a metric the
  catalogue does not know: catalogue checks judge only metrics the catalogue knows);
- `known`: True when every metric under the node is in the catalogue (so `has` is as precise as we can make it).

A label is *provably missing* when `may` is bounded and does not contain it (`LabelSet.lacks`).

The semantics follow Prometheus's engine (promql/engine.go):
- a selector of a catalogue metric carries the catalogue's labels of that series (`le` on `_bucket`), `__name__`,
  and the labels of its non-empty equality matchers; it *may* carry the target labels in `TARGET_LABELS`, which
  Prometheus's scrape and service discovery attach to every series and which are never reported as missing;
- functions keep the labels of their vector argument and drop `__name__` (except `last_over_time`, `sort*`,
  `label_replace`, `label_join`); `histogram_quantile` drops `le`; `label_replace`/`label_join` add their target;
  `absent()`/`absent_over_time()` carry only the equality matchers' labels; `vector()`, `time()` carry none;
- `sum by (a)` carries at most {a}; `without (a)` removes a; `topk`/`bottomk`/`limitk` keep the input's labels;
  `count_values("v", ...)` adds v;
- a binary operator between vectors: one-to-one matching keeps the left side's labels, restricted to the `on(...)`
  labels or minus the `ignoring(...)` labels; `group_left(x)` keeps the left side's labels plus x from the right
  (`group_right` mirrors it); arithmetic and `bool` drop `__name__`; `and`/`unless` keep the left side; `or` is
  the union of both sides; a scalar side contributes nothing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import promql_parser as pp

from mlobs_cli.catalogue import Catalogue

NAME = "__name__"

# Labels Prometheus attaches from the scrape target (job, instance) or that Kubernetes service discovery commonly
# adds by relabelling. A catalogue lists the labels the application exports; these may come on top, so they are
# never reported as missing from a selected metric (an aggregation can still provably drop them).
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "service", "endpoint", "node",
                           "cluster"})

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
ABSENT_FUNCTIONS = frozenset({"absent", "absent_over_time"})
# Aggregations whose result keeps the input series' labels (they select series, not combine them).
SELECTING_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
# Functions whose result keeps `__name__` (everything else drops it).
NAME_KEEPING_FUNCTIONS = frozenset({"last_over_time", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc",
                                    "label_replace", "label_join", "first_over_time"})
SCALAR_FUNCTIONS = frozenset({"scalar", "time", "pi"})
NO_LABEL_FUNCTIONS = frozenset({"vector", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour",
                                "minute", "month", "year"})  # the date functions only when called with no argument


# How deep an expression may nest for mlobs to parse and check it. The Rust parser recurses on the nesting (16,000
# `or` terms overflow the stack and kill the process), and so do the walks of the checks (400 terms pass Python's
# recursion limit). 128 levels keep both far inside their limits, and no rule a person writes comes near it.
MAX_DEPTH = 128
# What can add a level to the AST, once strings, comments and label matchers are out: an operator (binary or
# unary), an enclosing bracket (a parenthesis, call or aggregation), or a range or subquery (`[`). Only a string
# or matcher that is closed is taken out: what the parser's lexer would read differently is then counted, never
# hidden, so the bound stays an upper one whatever the text.
_STRING = r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`'
_INERT = re.compile(_STRING + r"|#[^\n]*|\{(?:" + _STRING + r"""|[^{}"'`])*\}""")
_OPERATOR = re.compile(r"==|!=|<=|>=|[-+*/%^<>]|\b(?:and|or|unless|atan2)\b", re.IGNORECASE)
_BRACKET = re.compile(r"[][()]")


@lru_cache(maxsize=8192)
def depth_bound(expr: str) -> int:
    """An upper bound of the depth of the AST of `expr`, found without parsing it: each node on a path from the
    root is an operator of its own, or a range or subquery, or sits inside brackets of its own, so the depth is
    at most operators + `[`s + bracket nesting + 2 (a range selector and its vector selector)."""
    if 2 * len(expr) + 2 <= MAX_DEPTH:  # every operator or bracket takes a character at least
        return 2 * len(expr) + 2
    text = _INERT.sub(" ", expr)
    nesting = deepest = 0
    for m in _BRACKET.finditer(text):
        nesting += 1 if m.group() in "([" else -1
        deepest = max(deepest, nesting)
    return len(_OPERATOR.findall(text)) + text.count("[") + deepest + 2


def too_deep(expr: str) -> bool:
    """Whether `expr` may nest deeper than MAX_DEPTH: then it is neither parsed nor checked (promql/depth)."""
    return depth_bound(expr) > MAX_DEPTH


@lru_cache(maxsize=8192)
def _parsed(expr: str) -> tuple[Any | None, str | None]:
    """(AST, None), or (None, the parser's message): one parse per distinct expression for every check.
    (None, None) for an expression too deep to parse safely."""
    if too_deep(expr):
        return None, None
    try:
        return pp.parse(expr), None
    except (ValueError, TypeError, OverflowError) as e:
        return None, " ".join(str(e).split()) or "invalid PromQL"


def parse(expr: str) -> Any | None:
    """The AST of `expr`, or None when it does not parse (the `promql/syntax` check reports that) or is too deep
    to parse (`promql/depth`)."""
    return _parsed(expr)[0]


def parse_error(expr: str) -> str | None:
    """The parser's message when `expr` is not valid PromQL, else None (also when it is too deep to parse)."""
    return _parsed(expr)[1]


def op_name(node: Any) -> str:
    """The operator of a BinaryExpr or AggregateExpr as written (`/`, `and`, `sum`)."""
    return str(node.op).strip().lower()


# The children of each kind of node, looked up by exact type (promql-parser's classes cannot be subclassed): one
# dict lookup instead of a chain of isinstance tests, on every node of every expression.
_CHILDREN: dict[type, Callable[[Any], Sequence[Any]]] = {
    pp.BinaryExpr: operator.attrgetter("lhs", "rhs"),
    pp.ParenExpr: lambda node: (node.expr,),
    pp.UnaryExpr: lambda node: (node.expr,),
    pp.SubqueryExpr: lambda node: (node.expr,),
    pp.AggregateExpr: lambda node: (node.expr,) if node.param is None else (node.param, node.expr),
    pp.Call: lambda node: node.args,
    pp.MatrixSelector: lambda node: (node.vector_selector,),
}


# Several checks walk every rule's AST: remember each walk, held with its node like the label cache below.
_WALKS: dict[int, tuple[Any, tuple[tuple[Any, tuple[Any, ...]], ...]]] = {}
_WALKS_MAX = 50_000


def walk(node: Any) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
    """Every node under `node` (pre-order) with its ancestors, outermost first."""
    hit = _WALKS.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    found: list[tuple[Any, tuple[Any, ...]]] = []

    def visit(current: Any, parents: tuple[Any, ...]) -> None:
        found.append((current, parents))
        get = _CHILDREN.get(type(current))
        if get is not None:
            below = (*parents, current)
            for child in get(current):
                visit(child, below)

    visit(node, ())
    if len(_WALKS) >= _WALKS_MAX:
        _WALKS.clear()
    result = tuple(found)
    _WALKS[id(node)] = (node, result)
    return result


def nodes(expr: str) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
    """walk() of a rule's whole expression; nothing when it is empty or does not parse (promql/syntax says so)."""
    ast = parse(expr) if expr else None
    return walk(ast) if ast is not None else ()


def strip_parens(node: Any) -> Any:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def selector_name(sel: Any) -> str | None:
    """The metric a VectorSelector selects: its name, or its `{__name__="x"}` matcher."""
    if sel.name:
        return sel.name
    for m in sel.matchers.matchers:
        if m.name == NAME and m.op == pp.MatchOp.Equal:
            return m.value
    return None


def equality_labels(sel: Any) -> frozenset[str]:
    """Labels a selector's equality matchers guarantee (a matcher `x=""` selects series *without* x)."""
    return frozenset(m.name for m in sel.matchers.matchers if m.op == pp.MatchOp.Equal and m.value and m.name != NAME)


def empty_labels(sel: Any) -> frozenset[str]:
    return frozenset(m.name for m in sel.matchers.matchers if m.op == pp.MatchOp.Equal and not m.value)


def matching(node: Any) -> tuple[str | None, tuple[str, ...]]:
    """A BinaryExpr's vector matching: ("on" | "ignoring" | None, labels)."""
    mod = node.modifier
    if mod is None or mod.matching is None:
        return None, ()
    kind = "on" if mod.matching.type == pp.LabelModifierType.Include else "ignoring"
    return kind, tuple(mod.matching.labels or ())


def cardinality(node: Any) -> str:
    """'one-to-one', 'many-to-one' (group_left), 'one-to-many' (group_right) or 'many-to-many' (set operators)."""
    if op_name(node) in SET_OPS:
        return "many-to-many"
    mod = node.modifier
    card = mod.card if mod is not None else None
    if card == pp.VectorMatchCardinality.ManyToOne:
        return "many-to-one"
    if card == pp.VectorMatchCardinality.OneToMany:
        return "one-to-many"
    return "one-to-one"


def returns_bool(node: Any) -> bool:
    return node.modifier is not None and bool(node.modifier.return_bool)


@dataclass(frozen=True, slots=True)
class LabelSet:
    has: frozenset[str] = frozenset()
    may: frozenset[str] | None = frozenset()
    known: bool = True
    scalar: bool = False  # a scalar or string: no series, no labels

    def lacks(self, label: str) -> bool:
        """The result provably carries no `label`."""
        return self.may is not None and label not in self.may

    def without(self, labels: frozenset[str] | set[str]) -> LabelSet:
        return LabelSet(self.has - labels, None if self.may is None else self.may - labels, self.known, self.scalar)

    def keep(self, labels: frozenset[str] | set[str]) -> LabelSet:
        may = frozenset(labels) if self.may is None else self.may & labels
        return LabelSet(self.has & labels, may, self.known, self.scalar)

    def plus(self, labels: frozenset[str] | set[str], provably: bool = True) -> LabelSet:
        has = self.has | labels if provably else self.has
        return LabelSet(has, None if self.may is None else self.may | labels, self.known, self.scalar)

    def shown(self) -> str:
        """The labels for a message: `{model, version}` (__name__ and the target labels a selector may carry left out)."""
        labels = set(self.has if self.may is None else self.may) - {NAME}
        implicit = (labels & TARGET_LABELS) - self.has
        if len(implicit) > len(TARGET_LABELS) // 2:  # the target labels a selector may carry: not worth listing
            labels -= implicit
        labels = sorted(labels)
        return "{" + ", ".join(labels) + "}" + ("" if self.may is not None else " and possibly more")


SCALAR = LabelSet(scalar=True)
NOTHING = LabelSet()  # a vector whose series carry no labels at all


# Every check asks for the labels of the same subtrees: remember them per node. promql-parser hands out the same
# Python object for a node on every access; each entry holds the node (and catalogue), so an id cannot be reused
# while its entry lives. One entry per node, for the catalogue last asked about (a run has one). Bounded, for a
# linter run over very many rules.
_LABELS: dict[int, tuple[Any, Catalogue, LabelSet]] = {}
_LABELS_MAX = 200_000


def output_labels(node: Any, catalogue: Catalogue) -> LabelSet:
    """The labels the result of `node` carries (see the module docstring for the rules)."""
    key = id(node)
    hit = _LABELS.get(key)
    if hit is not None and hit[0] is node and hit[1] is catalogue:
        return hit[2]
    if len(_LABELS) >= _LABELS_MAX:
        _LABELS.clear()
    labels = _output_labels(node, catalogue)
    _LABELS[key] = (node, catalogue, labels)
    return labels


def _output_labels(node: Any, catalogue: Catalogue) -> LabelSet:
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return SCALAR
    if isinstance(node, (pp.ParenExpr, pp.SubqueryExpr)):
        return output_labels(node.expr, catalogue)
    if isinstance(node, pp.UnaryExpr):
        return output_labels(node.expr, catalogue).without({NAME})
    if isinstance(node, pp.MatrixSelector):
        return output_labels(node.vector_selector, catalogue)
    if isinstance(node, pp.VectorSelector):
        return _selector_labels(node, catalogue)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate_labels(node, catalogue)
    if isinstance(node, pp.Call):
        return _call_labels(node, catalogue)
    if isinstance(node, pp.BinaryExpr):
        return _binary_labels(node, catalogue)
    return LabelSet(may=None, known=False)


def _selector_labels(sel: Any, catalogue: Catalogue) -> LabelSet:
    name = selector_name(sel)
    metric = catalogue.get(name) if name else None
    eq, empty = equality_labels(sel), empty_labels(sel)
    named = frozenset({NAME}) if name else frozenset()
    if metric is None:
        return LabelSet(eq | named, None, known=False)
    has = (frozenset(metric.series_labels(name)) | eq | named) - empty
    return LabelSet(has, (has | TARGET_LABELS) - empty, known=True)


def _aggregate_labels(node: Any, catalogue: Catalogue) -> LabelSet:
    inner = output_labels(node.expr, catalogue)
    op = op_name(node)
    if op in SELECTING_AGGREGATIONS:
        return inner
    mod = node.modifier
    if mod is None:
        result = NOTHING
    elif mod.type == pp.AggModifierType.By:
        result = inner.keep(frozenset(mod.labels or ()))
    else:
        result = inner.without(frozenset(mod.labels or ()) | {NAME})
    result = LabelSet(result.has - {NAME}, None if result.may is None else result.may - {NAME}, inner.known)
    if op == "count_values" and isinstance(node.param, pp.StringLiteral):
        result = result.plus({node.param.val})
    return result


def _vector_args(node: Any, catalogue: Catalogue) -> list[LabelSet]:
    return [ls for ls in (output_labels(a, catalogue) for a in node.args) if not ls.scalar]


def _call_labels(node: Any, catalogue: Catalogue) -> LabelSet:
    name = node.func.name
    if name in SCALAR_FUNCTIONS:
        return SCALAR
    if name in ABSENT_FUNCTIONS:
        arg = strip_parens(node.args[0]) if node.args else None
        if isinstance(arg, pp.MatrixSelector):
            arg = arg.vector_selector
        eq = equality_labels(arg) if isinstance(arg, pp.VectorSelector) else frozenset()
        return LabelSet(eq, eq, known=True)
    vectors = _vector_args(node, catalogue)
    if name in NO_LABEL_FUNCTIONS and not vectors:
        return NOTHING
    if not vectors:
        return LabelSet(may=None, known=False)
    result = vectors[0]
    if name not in NAME_KEEPING_FUNCTIONS:
        result = result.without({NAME})
    if name == "histogram_quantile":
        result = result.without({"le"})
    elif name in ("label_replace", "label_join") and len(node.args) > 1:
        dst = node.args[1]
        if isinstance(dst, pp.StringLiteral):
            result = result.plus({dst.val})
    return result


def _binary_labels(node: Any, catalogue: Catalogue) -> LabelSet:
    lhs, rhs = output_labels(node.lhs, catalogue), output_labels(node.rhs, catalogue)
    op = op_name(node)
    drop_name = op in ARITHMETIC_OPS or returns_bool(node)
    if lhs.scalar and rhs.scalar:
        return SCALAR
    if lhs.scalar or rhs.scalar:
        vec = rhs if lhs.scalar else lhs
        return vec.without({NAME}) if drop_name else vec
    known = lhs.known and rhs.known
    if op == "or":
        may = None if lhs.may is None or rhs.may is None else lhs.may | rhs.may
        return LabelSet(lhs.has & rhs.has, may, known)
    if op in ("and", "unless"):
        return lhs
    kind, labels = matching(node)
    card = cardinality(node)
    if card == "one-to-one":
        result = lhs
        if kind == "on":
            result = result.keep(frozenset(labels))
        elif kind == "ignoring":
            result = result.without(frozenset(labels))
    else:
        many, one = (lhs, rhs) if card == "many-to-one" else (rhs, lhs)
        extra = frozenset(node.modifier.group_labels or ())
        result = many.without(extra)
        result = LabelSet(result.has | (extra & one.has),
                          None if result.may is None or one.may is None else result.may | (extra & one.may),
                          result.known)
    if drop_name:
        result = result.without({NAME})
    return LabelSet(result.has, result.may, known)


def labels_of(expr: str, catalogue: Catalogue) -> LabelSet | None:
    """The result labels of a whole rule expression, or None when it does not parse."""
    ast = parse(expr)
    return None if ast is None else output_labels(ast, catalogue)


def canonical(expr: str) -> str:
    """A formatting-independent form of `expr` (the parser's own printing), or the whitespace-collapsed text."""
    ast = parse(expr)
    return str(ast) if ast is not None else " ".join(expr.split())


def short(node: Any, limit: int = 80) -> str:
    """A node's text for a message, shortened."""
    text = str(node).replace("{}", "")
    return text if len(text) <= limit else text[: limit - 3] + "..."
