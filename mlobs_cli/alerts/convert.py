"""`alerts convert`: the seed's shorthand (`alerts:` list) as a Prometheus rule file that promtool accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Context, Problem, Rule, Severity
from mlobs_cli.alerts.checks import alerts_for, alerts_template, promql_syntax
from mlobs_cli.catalogue import Catalogue
from mlobs_cli.errors import InputError

# What promtool refuses in a rule that the loader does not: a duration (`for: -5m`), an expression or a template
# it cannot read (`_template_errors`). None of it looks at the catalogue.
PROMTOOL_CHECKS = (alerts_for.CHECK, promql_syntax.CHECK)


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings (long expressions) as `|` literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def convert(path: str) -> str:
    """The rules of the seed-shorthand file at `path` as a Prometheus rule file (YAML text).

    One group named after the file; each alert keeps its name, `expr` and `for`; `severity` becomes a label; every
    label and annotation value is a string (`page: true` becomes `page: "true"`).

    Raises:
        InputError: the file cannot be read, is not in the seed's shorthand, or has errors that would make the
            output a file Prometheus refuses (a missing `name` or `expr`, an unknown key, a duplicate key, a
            negative or malformed `for`, an expression that does not parse).
    """
    try:
        rule_file = loader.load(path)
    except loader.RuleFileError as e:
        raise InputError(f"{path}: {e}") from None
    if rule_file.form != "seed":
        already = f"; it is a {rule_file.form} rule file already" if rule_file.groups else ""
        raise InputError(f"{path}: not in the seed's shorthand (a top-level `alerts:` list){already}")
    ctx = Context(Catalogue(()))
    found = [*rule_file.problems, *(p for rule in rule_file.rules for check in PROMTOOL_CHECKS
                                    for p in check.check_rule(rule, ctx)),
             *(p for rule in rule_file.rules for p in _template_errors(rule))]
    errors = sorted((p for p in found if p.severity >= Severity.ERROR), key=lambda p: p.line)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(f"{path}:{first.line}: {first.message}{more}")
    rules: list[dict[str, Any]] = []
    for rule in rule_file.rules:
        out: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
        if rule.for_ is not None:
            out["for"] = rule.for_
        if rule.keep_firing_for is not None:
            out["keep_firing_for"] = rule.keep_firing_for
        if rule.labels:
            out["labels"] = {k: str(v) for k, v in rule.labels.items()}
        if rule.annotations:
            out["annotations"] = {k: str(v) for k, v in rule.annotations.items()}
        rules.append(out)
    document = {"groups": [{"name": Path(path).stem, "rules": rules}]}
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1_000_000)


def _template_errors(rule: Rule) -> Iterator[Problem]:
    """The syntax errors of the templates in the rule's labels and annotations, which promtool refuses. Not the
    rest of alerts/template (a label the expression drops): promtool loads such a rule."""
    for section, mapping in (("labels", rule.labels), ("annotations", rule.annotations)):
        for key, value in mapping.items():
            for error in alerts_template.parse_template(value).errors if isinstance(value, str) else ():
                yield Problem(alerts_template.CHECK.NAME, Severity.ERROR, f"{section[:-1]} `{key}`: template error: "
                              f"{error}", rule.line_of(f"{section}.{key}"), rule=rule.name)
