"""The kinds of check a runbook step can run, one module each behind the interface of `base`."""

from __future__ import annotations

import importlib
from typing import cast

from mlobs_cli.runbook.checks.base import CheckKind

# kind -> module; imported when a runbook uses the kind, so a walk loads only what it runs
KINDS = {"promql": "promql", "gpu": "gpu", "logs": "logs", "drift": "drift", "trace": "trace", "quality": "quality"}


def kind(name: str) -> CheckKind:
    """The module of a check kind.

    Raises:
        KeyError: No such kind in this build.
    """
    return cast(CheckKind, importlib.import_module(f"mlobs_cli.runbook.checks.{KINDS[name]}"))
