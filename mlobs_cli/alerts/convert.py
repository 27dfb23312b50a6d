"""`alerts convert`: the seed's shorthand (`alerts:` list) as a Prometheus rule file that promtool accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlobs_cli.alerts import loader
from mlobs_cli.alerts.base import Severity
from mlobs_cli.errors import InputError


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
            output a file Prometheus refuses (a missing `name` or `expr`, an unknown key, a duplicate key).
    """
    try:
        rule_file = loader.load(path)
    except loader.RuleFileError as e:
        raise InputError(f"{path}: {e}") from None
    if rule_file.form != "seed":
        already = f"; it is a {rule_file.form} rule file already" if rule_file.groups else ""
        raise InputError(f"{path}: not in the seed's shorthand (a top-level `alerts:` list){already}")
    errors = [p for p in rule_file.problems if p.severity >= Severity.ERROR]
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
