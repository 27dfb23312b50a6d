"""promql/depth: an expression nested too deep for the parser (Rust, recursive) and the checks is reported as a
finding without being parsed, and the rest of the file is linted; at the limit every check still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import promql_parser as pp
import pytest

from mlobs_cli.alerts import promql
from mlobs_cli.alerts import validate as lint
from mlobs_cli.alerts.base import Context
from mlobs_cli.catalogue import load as load_catalogue

MLOBS = str(Path(sys.executable).with_name("mlobs"))
CTX = Context(load_catalogue())


def ast_depth(node) -> int:
    """The depth of a parsed expression, counted without recursion (the thing the bound must not undercount)."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        current, depth = todo.pop()
        deepest = max(deepest, depth)
        get = promql._CHILDREN.get(type(current))
        todo += [(child, depth + 1) for child in (get(current) if get else ())]
    return deepest


def nested(kind: str, n: int) -> str:
    """An expression nested `n` times by one construct."""
    return {
        "or": lambda: " or ".join(f'up{{job="j{i}"}}' for i in range(n + 1)),
        "parens": lambda: "(" * n + "up" + ")" * n,
        "calls": lambda: "abs(" * n + "up" + ")" * n,
        "right-nested": lambda: "up + (" * n + "up" + ")" * n,
        "unary": lambda: "-" * n + "up",
        "aggregations": lambda: "sum by (model) (" * n + "rate(inference_requests_total[5m])" + ")" * n,
        "subqueries": lambda: "max_over_time((" * n + "up" + ")[5m:1m])" * n,
    }[kind]()


KINDS = ["or", "parens", "calls", "right-nested", "unary", "aggregations", "subqueries"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 5, 40])
def test_the_bound_is_never_below_the_real_depth(kind, n):
    expr = nested(kind, n)
    assert promql.depth_bound(expr) >= ast_depth(pp.parse(expr))


@pytest.mark.parametrize("expr", [
    pytest.param('x{a="}"} ' + "or x " * 60, id="a brace in a matcher's string"),
    pytest.param('x{a="b\\" or ", c=`}`} ' + "or x " * 60, id="escaped quote and raw string"),
    pytest.param("x # a comment: ) ( or ]\n" + "or x " * 60, id="a comment"),
    pytest.param('label_replace(up, "d", "$1", "s", "(.*)") ' + "+ x " * 60, id="brackets inside strings"),
])
def test_strings_comments_and_matchers_cannot_hide_operators(expr):
    assert promql.depth_bound(expr) >= ast_depth(pp.parse(expr)) > 60


@pytest.mark.parametrize("text", ['"' + " or x" * 200, "x{a=`" + " or x" * 200, "x{" + " or x" * 200])
def test_an_unclosed_string_or_matcher_hides_nothing(text):
    # the parser may lex these differently from us: whatever it reads, the operators are counted
    assert promql.depth_bound(text) >= 200


@pytest.mark.parametrize("kind", KINDS)
def test_at_the_limit_every_check_runs(tmp_path, kind):
    n = max(k for k in range(1, promql.MAX_DEPTH) if promql.depth_bound(nested(kind, k)) <= promql.MAX_DEPTH)
    expr = nested(kind, n)
    assert not promql.too_deep(expr) and promql.parse(expr) is not None
    path = tmp_path / "r.yml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n      - record: deep\n        expr: '{expr}'\n",
                    encoding="utf-8")
    report = lint.validate([str(path)], CTX, debug=True)  # debug: a RecursionError would raise here
    assert report.file_errors == () and "promql/depth" not in {f.check for f in report.findings}


@pytest.mark.parametrize("terms", [400, 16_000])
def test_a_rule_too_deep_to_parse_is_a_finding_and_the_rest_is_linted(tmp_path, terms):
    """16,000 `or` terms overflowed the Rust parser's stack (the process died, signal 11); 400 passed Python's
    recursion limit (internal error). Run as a subprocess: a crash must fail the test, not end the run."""
    deep = " or ".join(f'absent(up{{job="m{i}"}})' for i in range(terms))
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n  - name: g\n    rules:\n"
                    f"      - alert: AnyModelDown\n        expr: '{deep}'\n"
                    # a real error after it: still found
                    "      - alert: GaugeRate\n        expr: rate(gpu_utilization_percent[5m]) > 1\n",
                    encoding="utf-8")
    (tmp_path / "other.yml").write_text("groups:\n  - name: h\n    rules:\n      - record: x\n        expr: sum(\n",
                                        encoding="utf-8")
    result = subprocess.run([MLOBS, "alerts", "validate", str(tmp_path), "-o", "json"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    found = {(f["rule"], f["check"]) for f in json.loads(result.stdout)["findings"]}
    assert ("AnyModelDown", "promql/depth") in found
    assert ("GaugeRate", "promql/counter") in found and ("x", "promql/syntax") in found
    assert not {check for rule, check in found if rule == "AnyModelDown"} & {"promql/syntax", "promql/series"}
