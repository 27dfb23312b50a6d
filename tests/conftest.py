"""Fixtures for every test: an isolated configuration, sample files, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from mlobs_cli.app import app


@pytest.fixture(autouse=True)
def isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No MLOBS_* variable, ./mlobs.yaml or XDG config of the machine leaks into a test."""
    for name in list(__import__("os").environ):
        if name.startswith("MLOBS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.setenv("NO_COLOR", "1")


def write_sample(path: Path, columns: dict[str, Any]) -> Path:
    """Write columns (numpy arrays or lists, None for null) as CSV, Parquet or JSONL, chosen by the suffix."""
    con = duckdb.connect()
    data = {k: np.asarray(v) if not isinstance(v, list) else v for k, v in columns.items()}
    if any(isinstance(v, list) for v in data.values()) or path.suffix == ".jsonl":
        rows = [dict(zip(data, values)) for values in zip(*data.values())]
        if path.suffix == ".jsonl":
            path.write_text("".join(json.dumps(_plain(r)) + "\n" for r in rows), encoding="utf-8")
            return path
        con.execute("CREATE TABLE t AS SELECT * FROM read_json_auto(?)", [_jsonl_temp(path, rows)])
    else:
        frame = data  # noqa: F841 - DuckDB scans the dict of arrays by its variable name
        con.execute("CREATE TABLE t AS SELECT * FROM frame")
    fmt = "parquet" if path.suffix == ".parquet" else "csv"
    con.execute(f"COPY t TO '{path}' (FORMAT {fmt})")
    return path


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}


def _jsonl_temp(path: Path, rows: list[dict[str, Any]]) -> str:
    tmp = path.with_suffix(".tmp.jsonl")
    tmp.write_text("".join(json.dumps(_plain(r)) + "\n" for r in rows), encoding="utf-8")
    return str(tmp)


@pytest.fixture
def sample(tmp_path: Path):
    """sample("ref.parquet", {"a": array}) -> path of the written file."""
    return lambda name, columns: write_sample(tmp_path / name, columns)


class Cli:
    """Runs mlobs in-process, as a user would type it."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: Any, env: dict[str, str] | None = None):
        return self.runner.invoke(app, [str(a) for a in args], env=env)

    def json(self, *args: Any, expect: int | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
        result = self(*args, "-o", "json", env=env)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.stderr, result.exception)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()
