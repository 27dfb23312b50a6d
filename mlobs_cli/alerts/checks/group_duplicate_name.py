"""group/duplicate-name: two groups with one name in a file."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlobs_cli.alerts.base import Check, Context, Problem, RuleFile, Severity

DOCUMENT_START = re.compile(r"---(\s|$)")


class DuplicateGroupName(Check):
    """Two groups in one file (one YAML document) share a name.

    What it checks:
        The `name` of every group in a rule file. In a file of several YAML documents (several PrometheusRule
        manifests, say) each document is checked on its own, as each becomes its own rule file.

    Why it matters:
        Prometheus refuses the file ("groupname ... is repeated in the same file"), so none of its rules load.

    Example:
        groups:
          - name: gpu
            rules:
              - alert: GpuMemoryHigh
                expr: gpu_memory_used_bytes / gpu_memory_total_bytes > 0.9
          - name: gpu
            rules:
              - alert: GpuUtilizationLow
                expr: gpu_utilization_percent < 30

    How to fix:
        Rename one of the groups, or merge their rules into one group.
    """

    NAME = "group/duplicate-name"
    SEVERITY = Severity.ERROR

    def check_file(self, file: RuleFile, ctx: Context) -> Iterable[Problem]:
        # startswith first: a cheap test that rules out nearly every line
        starts = [n for n, text in enumerate(file.lines, 1) if text.startswith("---") and DOCUMENT_START.match(text)]
        first: dict[tuple[int, str], int] = {}
        for group in file.groups:
            if not group.name:
                continue  # rule/structure reports a group without a name
            document = sum(1 for s in starts if s < group.line)
            key = (document, group.name)
            if key in first:
                yield self.problem(f"group name {group.name!r} is already used at line {first[key]}: Prometheus "
                                   "refuses the file", group.line)
            else:
                first[key] = group.line


CHECK = DuplicateGroupName()
