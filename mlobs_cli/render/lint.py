"""How an alert-rule lint report looks: for people (a report grouped by file, with the offending lines), and for
CI (GitHub Actions workflow commands, SARIF 2.1.0, JUnit XML). Each CI format is a pure function of the report
returning text, so it can be tested without a terminal.
"""

from __future__ import annotations

import inspect
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlobs_cli.alerts.base import LintFinding, Severity

if TYPE_CHECKING:
    from rich.console import Console

    from mlobs_cli.alerts.validate import LintedFile, LintReport

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
GITHUB_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SOURCE_WIDTH = 160  # an offending line longer than this is cut, so one minified expr cannot flood the report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"


def summary(report: LintReport) -> str:
    counts = {s: sum(f.severity == s for f in report.findings) for s in Severity}
    files = _plural(len(report.files) + len(report.file_errors), "file")
    if report.file_errors:
        files += f" ({len(report.file_errors)} unreadable)"
    return (f"{files}, {_plural(report.rules_checked, 'rule')}: {_plural(counts[Severity.ERROR], 'error')}, "
            f"{_plural(counts[Severity.WARNING], 'warning')}, {counts[Severity.INFO]} info")


def _source_line(file: LintedFile | None, line: int) -> str | None:
    text = file.source.get(line) if file is not None else None
    if text is None:
        return None
    text = text.rstrip("\r\n").expandtabs(4)
    return text if len(text) <= SOURCE_WIDTH else text[:SOURCE_WIDTH - 1] + "…"


def _by_path(findings: Iterable[LintFinding]) -> dict[str, list[LintFinding]]:
    grouped: dict[str, list[LintFinding]] = {}
    for f in findings:
        grouped.setdefault(f.path, []).append(f)
    return grouped


def _where(f: LintFinding) -> str:
    return f"{f.line}:{f.column}" if f.column else str(f.line)


def table(report: LintReport, console: Console) -> None:
    from rich.table import Table  # rich only for people: -o json, github, sarif and junit start faster without it
    from rich.text import Text

    """A heading per file with findings; per finding its place, severity, check, rule and message (wrapped within
    its column), and under it the offending line, unwrapped."""
    files = {f.path: f for f in report.files}
    for path, findings in _by_path(report.findings).items():
        console.print(Text(path, style="bold underline"))
        widths = [max(len(cell) for cell in column) for column in
                  zip(*[(_where(f), str(f.severity), f.check, f.rule or "") for f in findings], strict=True)]
        for f in findings:
            grid = Table.grid(padding=(0, 2), pad_edge=False)
            grid.add_column(justify="right", no_wrap=True, width=widths[0] + 2)
            for width in widths[1:]:
                grid.add_column(no_wrap=True, width=width)
            grid.add_column(ratio=1)
            grid.add_row(_where(f), Text(str(f.severity), style=SEVERITY_STYLE[f.severity]),
                         Text(f.check, style="bold"), Text(f.rule or "", style="magenta"), Text(f.message))
            console.print(grid)
            source = _source_line(files.get(path), f.line)
            if source is not None:
                console.print(Text(" " * (widths[0] + 4) + "│ " + source, style="dim"), soft_wrap=True)
        console.print()
    if not report.findings and not report.file_errors:
        console.print("No problems found.", style="green")
    console.print(summary(report), markup=False)
    for e in report.file_errors:
        console.print(Text(f"{e.path}: ", style="bold red").append(e.message, style=""))


def markdown_header(report: LintReport) -> str:
    return f"**Alert rules** — {summary(report)}"


def markdown_footer(report: LintReport) -> str:
    return "\n".join(f"- **{e.path}** (cannot be read): {e.message}" for e in report.file_errors)


# GitHub Actions workflow commands: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
# (escaping as in @actions/core's command.ts: data escapes %, CR, LF; properties also escape : and ,)
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, message: str, **props: Any) -> str:
    shown = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{name} {shown}::{_escape_data(message)}" if shown else f"::{name}::{_escape_data(message)}"


def github(report: LintReport) -> str:
    """One workflow command per finding (an annotation on the pull request), and one per unreadable file."""
    lines = [_command(GITHUB_COMMAND[f.severity], f"{f.rule}: {f.message}" if f.rule else f.message,
                      file=f.path, line=f.line, col=f.column, title=f.check) for f in report.findings]
    lines += [_command("error", e.message, file=e.path, title="mlobs: cannot read file") for e in report.file_errors]
    return "".join(line + "\n" for line in lines)


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_uri() if p.is_absolute() else quote(p.as_posix())


def check_summary(check: object) -> str:
    """One sentence on what a check finds, from its class docstring (the README table, SARIF shortDescription)."""
    doc = inspect.getdoc(type(check)) or getattr(check, "NAME", "")
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    paragraph = re.sub(r"^What it checks:\s*", "", paragraph)
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", paragraph, maxsplit=1)[0]
    return sentence[:1].upper() + sentence[1:]


def _check_rules(report: LintReport) -> list[dict[str, Any]]:
    from mlobs_cli.alerts.base import DOCS_PATH
    from mlobs_cli.alerts.registry import all_checks

    rules = {}
    for check in all_checks():
        rules[check.NAME] = (check_summary(check), check.SEVERITY)
    for f in report.findings:  # checks the loader reports (YAML structure) may not be in the registry
        rules.setdefault(f.check, (f.check, f.severity))
    return [{"id": name, "name": name, "shortDescription": {"text": doc}, "helpUri": DOCS_PATH.format(name=name),
             "defaultConfiguration": {"level": SARIF_LEVEL[severity]}} for name, (doc, severity) in rules.items()]


def sarif(report: LintReport) -> str:
    """SARIF 2.1.0, one run: every check as a rule, every finding as a result; unreadable files as notifications."""
    from mlobs_cli import __version__

    rules = _check_rules(report)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        region: dict[str, int] = {"startLine": max(f.line, 1)}
        if f.column:
            region["startColumn"] = f.column
        result: dict[str, Any] = {
            "ruleId": f.check, "ruleIndex": index[f.check], "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.rule}: {f.message}" if f.rule else f.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(f.path)}, "region": region}}],
        }
        if f.rule:
            result["properties"] = {"rule": f.rule}
        results.append(result)
    notifications = [{"level": "error", "message": {"text": e.message},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}]}
                     for e in report.file_errors]
    run = {
        "tool": {"driver": {"name": "mlobs", "version": __version__, "rules": rules}},
        "invocations": [{"executionSuccessful": not report.file_errors,
                         "toolExecutionNotifications": notifications}],
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2, sort_keys=True)


def junit(report: LintReport) -> str:
    """JUnit XML: a testsuite per file, a testcase per rule with a failure per finding, an error per unreadable
    file. Findings not tied to a rule (a duplicate group name, a YAML problem) go to a testcase named `(file)`."""
    root = ET.Element("testsuites", name="mlobs alerts validate")
    by_path = _by_path(report.findings)
    total = failures = 0
    for file in report.files:
        findings = by_path.get(file.path, [])
        names = list(dict.fromkeys(file.rule_names))
        unowned = [f for f in findings if f.rule not in names]
        suite = ET.SubElement(root, "testsuite", name=file.path, tests=str(len(names) + bool(unowned)),
                              failures=str(len(findings)), errors="0")
        for name in ([*names, "(file)"] if unowned else names):
            case = ET.SubElement(suite, "testcase", name=name, classname=file.path)
            for f in (unowned if name == "(file)" else [f for f in findings if f.rule == name]):
                failure = ET.SubElement(case, "failure", message=f"{f.check}: {f.message}", type=str(f.severity))
                where = f"{f.path}:{f.line}" + (f":{f.column}" if f.column else "")
                failure.text = f"{where} {f.severity} {f.check}: {f.message}\nsee {f.docs}"
        total += int(suite.get("tests"))
        failures += len(findings)
    for e in report.file_errors:
        suite = ET.SubElement(root, "testsuite", name=e.path, tests="1", failures="0", errors="1")
        case = ET.SubElement(suite, "testcase", name="(load)", classname=e.path)
        ET.SubElement(case, "error", message=e.message, type="file").text = e.message
        total += 1
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(len(report.file_errors)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def ci_format(report: LintReport, fmt: str) -> str:
    return {"github": github, "sarif": sarif, "junit": junit}[fmt](report)
