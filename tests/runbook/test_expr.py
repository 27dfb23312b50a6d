"""The expression language and strict templates of runbooks."""

from __future__ import annotations

import pytest

from mlobs_cli.runbook.expr import PURE_FUNCTIONS, ExprError, compile_expr, compile_template


@pytest.mark.parametrize(("source", "names", "expected"), [
    pytest.param("value > 0.1", {"value": 0.2}, True, id="comparison"),
    pytest.param("value > 0.1", {"value": None}, False, id="no data is never over a threshold"),
    pytest.param("not value > 0.1", {"value": None}, True, id="not of a comparison with no data"),
    pytest.param("value * 1000", {"value": None}, None, id="no data stays no data"),
    pytest.param("a / b", {"a": 1.0, "b": 0.0}, None, id="division by zero is no data"),
    pytest.param("10 <= x <= 20", {"x": 15}, True, id="chained comparison"),
    pytest.param("ceil(x * 1.5) if x else None", {"x": 3}, 5, id="conditional and ceil"),
    pytest.param("max(r + 1, 3)", {"r": None}, None, id="max of no data"),
    pytest.param("seconds('1h30m')", {}, 5400.0, id="a duration in seconds"),
    pytest.param("match('model', m)", {"m": 'a"b'}, 'model="a\\"b"', id="a PromQL matcher, quoted"),
    pytest.param("match('model', m)", {"m": ""}, 'model!=""', id="an empty value matches any"),
])
def test_expressions(source, names, expected):
    assert compile_expr(source)(names, PURE_FUNCTIONS) == expected


@pytest.mark.parametrize(("source", "message"), [
    pytest.param("value.real", "Attribute is not allowed", id="attribute"),
    pytest.param("values[0]", "Subscript is not allowed", id="subscript"),
    pytest.param("(lambda: 1)()", "unknown function", id="lambda call"),
    pytest.param("open('x')", "unknown function 'open'", id="builtin"),
    pytest.param("value >", "invalid syntax", id="syntax"),
    pytest.param("[1, 2]", "List is not allowed", id="list"),
])
def test_what_expressions_refuse(source, message):
    with pytest.raises(ExprError, match=message):
        compile_expr(source)


def test_names_and_calls_are_listed_for_the_loader():
    expr = compile_expr("lookup('batch', 'value', model=model) > catalogue('batch_size', 'investigate') + x")
    assert expr.names == {"model", "x"}
    assert ("catalogue", ("batch_size", "investigate"), ()) in expr.calls
    assert ("lookup", ("batch", "value"), (("model", "model"),)) in expr.calls


def test_templates_render_formats_and_report_unknown_parts():
    template = compile_template("{{ model }}: {{ value | ms }} over {{ slo | ms }} since {{ t | time }}")
    text, unknown = template.render({"model": "m", "value": 0.1994, "slo": None, "t": 1793502000}, PURE_FUNCTIONS)
    assert text == "m: 199 ms over ? since 2026-11-01T03:00:00Z"
    assert unknown == ("slo",)
    assert template.names == {"model", "value", "slo", "t"}


def test_json_braces_are_text_but_an_unclosed_part_is_refused():
    text, _ = compile_template("""-p '{"data":{"k":"{{ v }}"}}'""").render({"v": 1}, PURE_FUNCTIONS)
    assert text == """-p '{"data":{"k":"1"}}'"""
    with pytest.raises(ExprError, match="without its"):
        compile_template("{{ v ")
    with pytest.raises(ExprError, match="unknown format 'pct2'"):
        compile_template("{{ v | pct2 }}")
