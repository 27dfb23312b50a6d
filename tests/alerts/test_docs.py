"""Docs stay true to the code (sqlite-utils' test_docs): every check has its page and its docstring, and every
command has --help with an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from mlobs_cli.alerts.registry import all_checks
from mlobs_cli.app import app

ROOT = Path(__file__).resolve().parents[2]
HEADINGS = ("What it checks", "Why it matters", "Example", "How to fix", "How to disable")
DOCSTRING_SECTIONS = HEADINGS[:4]


def _commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    return [[], *([g, c] for g, sub in group.commands.items() for c in getattr(sub, "commands", {}))]


def test_there_are_checks():
    assert all_checks(), "no check module in mlobs_cli/alerts/checks"


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.NAME)
def test_every_check_has_a_docs_page_with_the_headings(check):
    page = ROOT / "docs" / "checks" / f"{check.NAME}.md"
    assert page.is_file(), f"missing {page.relative_to(ROOT)}"
    text = page.read_text(encoding="utf-8")
    headings = [h.strip() for h in re.findall(r"^#{2,3}\s+(.+?)\s*#*$", text, re.MULTILINE)]
    for heading in HEADINGS:
        assert heading in headings, f"{page.relative_to(ROOT)} lacks the heading {heading!r}"
    assert f"mlobs: disable={check.NAME}" in text.split("How to disable", 1)[1]


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.NAME)
def test_every_check_has_a_class_docstring_with_the_sections(check):
    doc = type(check).__doc__ or ""
    assert doc.strip(), f"{type(check).__name__} has no docstring"
    for section in DOCSTRING_SECTIONS:
        assert section.lower() in doc.lower(), f"{check.NAME}: the docstring lacks {section!r}"


def test_check_names_are_group_slash_name():
    for check in all_checks():
        assert re.fullmatch(r"[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*", check.NAME), check.NAME


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "mlobs")
def test_every_command_has_help_with_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout and "mlobs " in result.stdout.split("Example:", 1)[1]
