"""Every `logs` command in every output format: no colour codes off a terminal, CSV rows as the JSON says."""

from __future__ import annotations

import csv
import io

import pytest

from tests.logs.conftest import iso, window_args


def _commands(logs, tmp_path):
    window = window_args(*logs.current)
    return {
        "latency": (["latency", "--by", "model", *window], "p99"),
        "errors": (["errors", "--min-requests", "5000", *window], "most frequent errors"),
        "search": (["search", "--limit", "3"], "newest first"),
        "feature-shift": (["feature-shift", "--baseline", f"{iso(logs.baseline[0])}..{iso(logs.baseline[1])}",
                           "--current", f"{iso(logs.current[0])}..{iso(logs.current[1])}"], "one bin per value"),
        "confidence": (["confidence", "--bucket", "4h", *window], "confidence distribution"),
        "export": (["export", "--from", iso(logs.current[0]), "-o", str(tmp_path / "x.csv"), "--force"], "wrote"),
    }


@pytest.mark.parametrize("command", ["latency", "errors", "search", "feature-shift", "confidence", "export"])
@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_each_format(logs, stores, cli, tmp_path, command, fmt):
    args, table_text = _commands(logs, tmp_path)[command]
    result = cli("logs", *args, "--source", stores.parquet, "-o", fmt)
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout  # NO_COLOR, and no terminal
    if fmt == "table":
        assert table_text in result.stdout
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(result.stdout)))
        reference = cli.json("logs", *args, "--source", stores.parquet, expect=0)
        counted = {"latency": lambda r: 3 * len(r["groups"]), "errors": lambda r: len(r["groups"]),
                   "search": lambda r: len(r["records"]), "feature-shift": lambda r: len(r["features"]),
                   "confidence": lambda r: len(r["buckets"]), "export": lambda r: 1}[command]
        assert len(rows) == 1 + counted(reference)
    else:
        assert result.stdout.startswith("**Prediction logs**")
        assert "|---|" in result.stdout
