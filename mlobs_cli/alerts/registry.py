"""Every check, found as the modules of mlobs_cli.alerts.checks: each module defines one `CHECK` instance.

Discovery instead of a hand-kept list, so that adding a check is adding one module (and its docs page, which
tests/alerts/test_docs.py requires).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from mlobs_cli.alerts import checks
from mlobs_cli.alerts.base import Check


@cache
def all_checks() -> tuple[Check, ...]:
    found = [importlib.import_module(f"{checks.__name__}.{m.name}").CHECK
             for m in pkgutil.iter_modules(checks.__path__)]
    names = [c.NAME for c in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two checks share a name: {sorted(n for n in names if names.count(n) > 1)}")
    return tuple(sorted(found, key=lambda c: c.NAME))
