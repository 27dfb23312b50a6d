"""docs/corpus-findings.md lists exactly what the linter reports on the real-world corpus, each with a judgement."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "corpus_findings.py"))


@pytest.mark.skipif(not SCRIPT["DEFAULT_CORPUS"].is_dir(), reason="the corpus in ../shared is not beside this clone")
def test_corpus_findings_page_is_current():
    expected = SCRIPT["render"](SCRIPT["DEFAULT_CORPUS"])
    assert (ROOT / "docs" / "corpus-findings.md").read_text(encoding="utf-8") == expected, \
        "docs/corpus-findings.md is stale: run .venv/bin/python scripts/corpus_findings.py"


FIXTURES = SCRIPT["DEFAULT_CORPUS"] / "prometheus__prometheus"


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="the corpus in ../shared is not beside this clone")
def test_every_fixture_promtool_rejects_gets_an_error():
    """promtool 2.42 refuses these four of its own test fixtures (checked by hand with `promtool check rules`);
    mlobs must report an error on each, for the reason promtool gives."""
    from mlobs_cli import catalogue
    from mlobs_cli.alerts.base import Context, Severity
    from mlobs_cli.alerts.validate import validate

    rejected = {
        "cmd__promtool__testdata__bad-rules-syntax.yml": "promql/syntax",
        "cmd__promtool__testdata__features.yml": "promql/syntax",
        "cmd__promtool__testdata__rules-bad.yml": "alerts/template",  # undefined variable $label
        "cmd__promtool__testdata__rules_extrafields.yml": "rule/structure",
    }
    report = validate([str(FIXTURES / name) for name in rejected], Context(catalogue.load()))
    errors = {(f.path.rsplit("/", 1)[1], f.check) for f in report.findings if f.severity == Severity.ERROR}
    assert set(rejected.items()) <= errors
