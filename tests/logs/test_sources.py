"""Where the logs come from, and what goes wrong there: one line on stderr, the documented exit code, no secret."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.logs.conftest import PG_PASSWORD, window_args


def _run(cli, *args, env=None):
    result = cli("logs", *args, "-o", "json", env=env)
    assert "Traceback" not in result.stderr and result.exception is None or isinstance(result.exception, SystemExit)
    return result


@pytest.mark.parametrize(("source", "message"), [
    ("/nonexistent/logs.parquet", "no such file: /nonexistent/logs.parquet"),
    ("/nonexistent/*.parquet", "no file matches /nonexistent/*.parquet"),
    ("file:///nonexistent/x.jsonl", "no such file: /nonexistent/x.jsonl"),
    ("logs.txt.xz", "unknown format"),
    ("s3://bucket/logs.parquet", "unknown scheme 's3'"),
])
def test_a_source_that_does_not_exist(cli, tmp_path, monkeypatch, source, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs.txt.xz").write_text("x")
    result = _run(cli, "latency", "--source", source)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_source_anywhere(cli):
    result = _run(cli, "errors")
    assert result.exit_code == 2 and "MLOBS_LOG_SOURCE" in result.stderr


def test_source_from_the_environment_and_by_name_from_the_config(logs, stores, cli, tmp_path):
    args = ("latency", *window_args(*logs.current))
    by_env = json.loads(_run(cli, *args, env={"MLOBS_LOG_SOURCE": str(stores.parquet)}).stdout)
    config = tmp_path / "mlobs.yaml"
    config.write_text(f"log:\n  sources:\n    local: {stores.jsonl}\n")
    by_name = json.loads(_run(cli, *args, "--config", str(config), "--source", "local").stdout)
    assert by_env["groups"][0]["requests"] == by_name["groups"][0]["requests"] == int(
        logs.between(*logs.current).sum())
    assert by_name["source"] == str(stores.jsonl)


def test_the_password_comes_from_the_environment_and_is_never_shown(postgres, cli, tmp_path):
    result = _run(cli, "latency", "--source", postgres.url, env={"MLOBS_LOG_PASSWORD": "wrong-" + PG_PASSWORD})
    assert result.exit_code == 3 and "password authentication failed" in result.stderr
    assert PG_PASSWORD not in result.stderr + result.stdout
    # in the URL: refused on the command line (ps shows it), masked in every message when it comes from the env
    url = postgres.url.replace("mlobs@", f"mlobs:{PG_PASSWORD}x@")
    result = _run(cli, "latency", "--source", url)
    assert result.exit_code == 2 and "visible to every user" in result.stderr and PG_PASSWORD not in result.stderr
    result = _run(cli, "latency", env={"MLOBS_LOG_SOURCE": url})
    assert result.exit_code == 3 and "****@127.0.0.1" in result.stderr and PG_PASSWORD not in result.stderr
    # and in `config show`
    config = tmp_path / "mlobs.yaml"
    config.write_text(f"log:\n  password: {PG_PASSWORD}\n  source: {url}\n")
    shown = cli("--config", str(config), "config", "show")
    assert shown.exit_code == 0 and PG_PASSWORD not in shown.stdout


def test_a_password_in_the_url_query_is_never_shown(postgres, cli):
    """libpq takes `?password=` as well as `user:password@`: a wrong one, in the query, is masked in the error
    and in the JSON's `source`; the right one works and is not shown either."""
    flag = _run(cli, "latency", "--source", f"{postgres.url}?sslmode=disable&password={PG_PASSWORD}")
    assert flag.exit_code == 2 and "MLOBS_LOG_PASSWORD" in flag.stderr and PG_PASSWORD not in flag.stderr
    wrong = _run(cli, "latency", env={"MLOBS_LOG_SOURCE": f"{postgres.url}?password=wrong-{PG_PASSWORD}"})
    assert wrong.exit_code == 3 and "password=****" in wrong.stderr and PG_PASSWORD not in wrong.stderr
    right = cli("logs", "latency", "-o", "json", env={"MLOBS_LOG_SOURCE": f"{postgres.url}?password={PG_PASSWORD}"})
    assert right.exit_code == 0 and PG_PASSWORD not in right.stdout + right.stderr
    assert "password=****" in json.loads(right.stdout)["source"]


def test_a_database_that_does_not_answer_is_exit_3(cli, closed_port):
    result = _run(cli, "errors", "--source", f"postgresql://mlobs@127.0.0.1:{closed_port}/postgres")
    assert result.exit_code == 3 and "connection" in result.stderr.lower()


@pytest.mark.parametrize(("table", "message"), [
    ("no_latency", "no column total_latency_ms (needed by `mlobs logs latency`)"),
    ("missing_table", "no table missing_table"),
    ("x;drop", "expected NAME or SCHEMA.NAME"),
])
def test_a_table_without_the_expected_columns(postgres, cli, table, message):
    result = _run(cli, "latency", "--source", f"{postgres.url}?table={table}",
                  env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
    assert result.exit_code == 2 and message in result.stderr


def test_a_file_without_the_expected_columns(sample, cli):
    path = sample("flat.parquet", {"timestamp": np.array(["2026-11-26T00:00:00"], dtype="datetime64[us]"),
                                   "total_latency_ms": np.array([1.0])})
    result = _run(cli, "feature-shift", "--source", str(path), "--baseline", "2026-11-01..2026-11-02")
    assert result.exit_code == 2 and "no column feature_values" in result.stderr
    assert "the logs have: timestamp, total_latency_ms" in result.stderr


def test_malformed_jsonl_lines_are_named_and_the_rest_is_read(logs, stores, cli, tmp_path):
    lines = stores.jsonl.read_text().splitlines(keepends=True)
    broken = {4: '{"timestamp": "2026-11-26T00:00:00Z", "model_id": \n', 101: "not json at all\n"}
    for index, text in broken.items():
        lines[index] = text
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(lines))
    start, end = logs.baseline
    result = _run(cli, "latency", "--source", str(path), *window_args(start, end))
    assert result.exit_code == 3  # a partial result never exits 0
    assert "malformed JSON on lines 5, 102; skipped, the rest was read" in result.stderr
    out = json.loads(result.stdout)
    assert not out["complete"] and "lines 5, 102" in out["errors"][0]["message"]
    keep = logs.between(start, end)
    keep[[4, 101]] = False
    assert out["groups"][0]["requests"] == int(keep.sum())
    assert out["groups"][0]["p99"]["total_latency_ms"] == pytest.approx(
        np.percentile(logs.columns["total_latency_ms"][keep], 99), rel=1e-9)


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "1h", "--from", "2h"], "--since or --from, not both"),
    (["--from", "2026-11-26T10:00:00Z", "--to", "2026-11-26T09:00:00Z"], "the window is empty"),
    (["--since", "soon"], "--since 'soon'"),
    (["--by", "model,region"], "--by 'region'"),
])
def test_bad_options_are_exit_2(stores, cli, args, message):
    result = _run(cli, "latency", "--source", str(stores.parquet), *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(("host", "query", "env", "expected"), [
    ("db.internal", [], {}, "verify-full"),  # across the network: the certificate is checked
    ("10.0.0.5", [("table", "x")], {}, "verify-full"),
    ("db.internal", [("sslmode", "disable")], {}, None),  # the user chose
    ("db.internal", [("SSLMODE", "require")], {}, None),
    ("db.internal", [], {"PGSSLMODE": "prefer"}, None),
    ("localhost", [], {}, None), ("127.0.0.1", [], {}, None), ("::1", [], {}, None),
    (None, [], {}, None), ("/var/run/postgresql", [], {}, None),  # Unix sockets
])
def test_tls_is_verified_across_the_network_unless_the_user_says_otherwise(host, query, env, expected):
    from mlobs_cli.backends.logstore.postgres import default_sslmode

    assert default_sslmode(host, query, env) == expected
