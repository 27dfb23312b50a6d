"""`mlobs drift compare` through the CLI, judged on its JSON, its exit code and its one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import stats

FEATURE_KEYS = {
    "name", "kind", "psi", "ks_stat", "ks_pvalue", "js_divergence", "js_distance", "wasserstein",
    "wasserstein_norm", "chi2_stat", "chi2_pvalue", "missing_ref", "missing_cur", "out_of_range",
    "new_categories", "n_ref", "n_cur", "status", "alert", "severity", "reasons", "note",
}
NUMERICAL_ONLY = {"ks_stat", "ks_pvalue", "wasserstein", "wasserstein_norm", "out_of_range"}
CATEGORICAL_ONLY = {"chi2_stat", "chi2_pvalue", "new_categories"}
WEATHER = ("examples/weather-2012.csv", "examples/weather-2015.csv")


@pytest.fixture
def drifted(sample):
    """Reference and current Parquet files: one shifted number, one stable number, one shifted category."""
    rng = np.random.default_rng(7)
    n = 5000
    ref = sample("ref.parquet", {"amount": rng.normal(0, 1, n), "stable": rng.normal(5, 2, n),
                                 "device": rng.choice(["ios", "android", "web"], n, p=[0.5, 0.3, 0.2])})
    cur = sample("cur.parquet", {"amount": rng.normal(0.8, 1, n), "stable": rng.normal(5, 2, n),
                                 "device": rng.choice(["ios", "android", "web"], n, p=[0.2, 0.3, 0.5])})
    return ref, cur


def features_by_name(report: dict) -> dict[str, dict]:
    return {f["name"]: f for f in report["features"]}


def test_json_schema_and_values_match_scipy(cli, drifted):
    report = cli.json("drift", "compare", *drifted, expect=1)
    assert report["version"] == 1 and report["complete"] is True and report["errors"] == []
    assert {"reference", "current", "features", "alerts", "not_compared", "thresholds", "findings"} <= set(report)
    by_name = features_by_name(report)
    for f in report["features"]:
        assert set(f) == FEATURE_KEYS
        not_applicable = CATEGORICAL_ONLY if f["kind"] == "numerical" else NUMERICAL_ONLY
        assert all(f[k] is None for k in not_applicable), f["name"]
    # independent check of the numbers through the whole pipeline (file -> DuckDB -> engine -> JSON)
    import duckdb

    ref = duckdb.sql(f"SELECT amount FROM '{drifted[0]}'").fetchnumpy()["amount"]
    cur = duckdb.sql(f"SELECT amount FROM '{drifted[1]}'").fetchnumpy()["amount"]
    ks = stats.ks_2samp(ref, cur)
    amount = by_name["amount"]
    assert amount["ks_stat"] == pytest.approx(ks.statistic, abs=1e-12)
    assert amount["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)
    assert amount["status"] == "alert" and amount["severity"] == "high"
    assert by_name["stable"]["status"] == "ok"
    assert by_name["device"]["kind"] == "categorical" and by_name["device"]["alert"] is True
    assert [a["feature"] for a in report["alerts"]] == ["amount", "device"] or \
        {a["feature"] for a in report["alerts"]} == {"amount", "device"}
    # sorted by severity, then PSI
    severities = [f["severity"] for f in report["features"]]
    assert severities == sorted(severities, key=["high", "medium", "none"].index)


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        pytest.param([], 1, id="alerts exit 1 at the default fail-on medium"),
        pytest.param(["--exit-zero"], 0, id="exit-zero"),
        pytest.param(["--fail-on", "high"], 0, id="only medium alerts, fail-on high"),
        pytest.param(["--fail-on", "low"], 1, id="watch signals count at fail-on low"),
    ],
)
def test_exit_code_follows_fail_on(cli, flags, code):
    # weather: 'weather' alerts high, temp_max medium; the subset below has medium alerts and watch signals
    result = cli("drift", "compare", *WEATHER, "--features", "temp_max,temp_min,wind", *flags)
    assert result.exit_code == code, result.stderr


def test_fail_on_low_catches_watch_only(cli):
    assert cli("drift", "compare", *WEATHER, "--features", "wind").exit_code == 0
    assert cli("drift", "compare", *WEATHER, "--features", "wind", "--fail-on", "low").exit_code == 1


def test_common_options_work_before_and_after_the_subcommand(cli):
    before = cli("-o", "json", "drift", "compare", *WEATHER)
    after = cli("drift", "compare", *WEATHER, "-o", "json")
    assert before.exit_code == after.exit_code == 1
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_csv_and_markdown(cli):
    csv_out = cli("drift", "compare", *WEATHER, "-o", "csv").stdout.splitlines()
    assert csv_out[0].startswith("feature,kind,status,severity,psi")
    assert len(csv_out) == 1 + 5
    md = cli("drift", "compare", *WEATHER, "-o", "markdown").stdout
    assert "| feature | kind | status |" in md and "**weather** (high)" in md


def test_table_without_tty_has_no_colour_codes(cli):
    result = cli("drift", "compare", *WEATHER, "--plot", "weather")
    assert result.exit_code == 1
    assert "\x1b[" not in result.stdout
    assert "weather" in result.stdout and "Alert (high)" in result.stdout
    assert "rain" in result.stdout  # the plot's bins


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        pytest.param(lambda p: [p / "missing.csv", WEATHER[1]], r"reference: no such file", id="missing file"),
        pytest.param(lambda p: [_touch(p / "empty.csv", ""), WEATHER[1]], r"is empty", id="empty file"),
        pytest.param(lambda p: [_touch(p / "bad.parquet", "not parquet at all"), WEATHER[1]],
                     r"reference: cannot read", id="unreadable file"),
        pytest.param(lambda p: [p, WEATHER[1]], r"is a directory", id="directory"),
        pytest.param(lambda p: [p / "*.nothing.csv", WEATHER[1]], r"no file matches", id="empty glob"),
        pytest.param(lambda p: [_touch(p / "x.xlsx", "x"), WEATHER[1]], r"unknown format", id="unknown format"),
        pytest.param(lambda p: [_touch(p / "other.csv", "a,b\n1,2\n"), WEATHER[1]], r"no common feature",
                     id="no common columns"),
        pytest.param(lambda p: [_touch(p / "header.csv", "temp_max,wind\n"), WEATHER[1]], r"has no rows",
                     id="header but no rows"),
        pytest.param(lambda p: [*WEATHER, "--features", "nope"], r"unknown feature nope", id="unknown --features"),
        pytest.param(lambda p: [*WEATHER, "--exclude", "nope"], r"unknown feature nope", id="unknown --exclude"),
        pytest.param(lambda p: [*WEATHER, "--categorical", "wind", "--numerical", "wind"], r"both",
                     id="categorical and numerical"),
        pytest.param(lambda p: [*WEATHER, "--plot", "weather", "-o", "json"], r"--plot", id="plot needs table"),
        pytest.param(lambda p: [*WEATHER, "--plot", "nope"], r"--plot nope", id="plot unknown feature"),
        pytest.param(lambda p: [*WEATHER, "--html", WEATHER[0]], r"is an input file", id="html over an input"),
        pytest.param(lambda p: [*WEATHER, "--html", p / "no-such-dir" / "r.html"], r"does not exist",
                     id="html in a missing directory"),
        pytest.param(lambda p: [*WEATHER, "--html", "/proc/r.html"], r"--html", id="html where nothing can be written"),
        pytest.param(lambda p: [*WEATHER, "--pushgateway", "http://127.0.0.1:9"], r"needs --model",
                     id="pushgateway without model"),
        pytest.param(lambda p: [*WEATHER, "--html", _touch(p / "old.html", "last week's report")],
                     r"--html .*old.html exists: give --force", id="html over an existing file"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, tmp_path, make_args, message):
    result = cli("drift", "compare", *make_args(tmp_path))
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlobs: error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr


def _touch(path, text):
    path.write_text(text)
    return path


def test_inputs_are_not_modified(cli, drifted, tmp_path):
    before = [p.read_bytes() for p in drifted]
    cli("drift", "compare", *drifted, "--html", tmp_path / "report.html")
    assert [p.read_bytes() for p in drifted] == before


def test_html_replaces_a_file_only_with_force(cli, drifted, tmp_path):
    out = _touch(tmp_path / "report.html", "last week's report")
    refused = cli("drift", "compare", *drifted, "--html", out)
    assert refused.exit_code == 2 and out.read_text() == "last week's report"
    replaced = cli("drift", "compare", *drifted, "--html", out, "--force", "--exit-zero")
    assert replaced.exit_code == 0, replaced.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_debug_shows_the_traceback(cli, tmp_path):
    from mlobs_cli.errors import InputError

    result = cli("drift", "compare", tmp_path / "missing.csv", WEATHER[1], "--debug")
    assert isinstance(result.exception, InputError)


def test_prediction_log_feature_values_are_flattened(cli, tmp_path):
    """JSONL (objects), Parquet (MAP) and JSON text in CSV all give one column per feature key."""
    import duckdb

    rng = np.random.default_rng(3)
    paths = {}
    for role, shift in (("ref", 0.0), ("cur", 1.0)):
        rows = [{"prediction_id": f"p{i}", "model_id": "m", "total_latency_ms": float(rng.gamma(2, 10)),
                 "output_score": float(rng.random()),
                 "feature_values": {"a": float(rng.normal(shift)), "b": float(rng.normal())}} for i in range(800)]
        rows[0]["feature_values"]["only_sometimes"] = 1.0
        jsonl = tmp_path / f"{role}.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
        parquet = tmp_path / f"{role}.parquet"
        duckdb.sql(f"COPY (SELECT * REPLACE (feature_values::JSON::MAP(VARCHAR, DOUBLE) AS feature_values) "
                   f"FROM read_json('{jsonl}', columns={{prediction_id: 'VARCHAR', model_id: 'VARCHAR', "
                   f"total_latency_ms: 'DOUBLE', output_score: 'DOUBLE', feature_values: 'JSON'}})) "
                   f"TO '{parquet}' (FORMAT parquet)")
        paths[role] = (jsonl, parquet)
    results = [cli.json("drift", "compare", paths["ref"][i], paths["cur"][i], expect=1) for i in (0, 1)]
    for report in results:
        by_name = features_by_name(report)
        assert set(by_name) == {"a", "b", "only_sometimes", "output_score"}  # ids and latency are not features
        assert by_name["a"]["alert"] and not by_name["b"]["alert"]
        assert by_name["only_sometimes"]["missing_ref"] == pytest.approx(799 / 800, abs=1e-12)
    # the same numbers whichever format carried them
    jsonl_a, parquet_a = (features_by_name(r)["a"] for r in results)
    assert jsonl_a["psi"] == pytest.approx(parquet_a["psi"], rel=1e-12)
    assert jsonl_a["ks_stat"] == pytest.approx(parquet_a["ks_stat"], abs=1e-12)


def test_edge_cases_get_answers_not_crashes(cli, sample):
    rng = np.random.default_rng(11)
    n = 400
    levels = np.array([f"level-{i}" for i in range(3000)])
    ref = sample("ref.jsonl", {
        "constant": [1.0] * n,
        "goes_null": list(rng.normal(size=n)),
        "only_ref": list(rng.normal(size=n)),
        "mixed": [str(v) if i % 3 else float(v) for i, v in enumerate(rng.normal(size=n))],
        "many_levels": list(rng.choice(levels, n)),
        "flag": list(rng.random(n) < 0.5),
        "with_gaps": [None if i % 10 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))],
    })
    cur = sample("cur.jsonl", {
        "constant": [1.0] * n,
        "goes_null": [None] * n,
        "only_cur": list(rng.normal(size=n)),
        "mixed": [str(v) for v in rng.normal(size=n)],
        "many_levels": list(rng.choice(levels, n)),
        "flag": list(rng.random(n) < 0.9),
        "with_gaps": [float(v) for v in rng.normal(size=n)],
    })
    report = cli.json("drift", "compare", ref, cur, "--exit-zero", expect=0)
    by_name = features_by_name(report)
    assert by_name["constant"]["psi"] == 0.0 and by_name["constant"]["status"] == "ok"
    assert by_name["constant"]["wasserstein_norm"] == 0.0
    gone = by_name["goes_null"]
    assert gone["missing_cur"] == 1.0 and gone["psi"] is None and "no values in the current sample" in gone["note"]
    assert gone["status"] == "watch"  # coverage fell by more than 0.05
    assert {(n["name"], n["reason"]) for n in report["not_compared"]} == {
        ("only_ref", "only in the reference sample"), ("only_cur", "only in the current sample")}
    assert by_name["mixed"]["kind"] == "categorical"
    assert by_name["flag"]["kind"] == "categorical" and by_name["flag"]["alert"]
    assert by_name["with_gaps"]["missing_ref"] == pytest.approx(0.1) and by_name["with_gaps"]["missing_cur"] == 0.0
    many = by_name["many_levels"]
    assert many["kind"] == "categorical" and many["chi2_pvalue"] is not None


def test_forced_kinds_and_globs(cli, sample):
    rng = np.random.default_rng(5)
    for i in range(2):
        sample(f"ref-{i}.csv", {"zip": rng.integers(10000, 10010, 300), "score": rng.normal(size=300)})
        sample(f"cur-{i}.csv", {"zip": rng.integers(10000, 10010, 300), "score": rng.normal(size=300)})
    base = sample("x.csv", {"a": [1]}).parent
    report = cli.json("drift", "compare", base / "ref-*.csv", base / "cur-*.csv", "--categorical", "zip", expect=0)
    assert report["reference"]["rows"] == 600 and len(report["reference"]["files"]) == 2
    assert features_by_name(report)["zip"]["kind"] == "categorical"
    forced = cli.json("drift", "compare", base / "ref-*.csv", base / "cur-*.csv", "--numerical", "zip",
                      "--exclude", "score", expect=0)
    assert [f["name"] for f in forced["features"]] == ["zip"]
    assert forced["features"][0]["kind"] == "numerical"


def test_thresholds_come_from_the_config(cli, tmp_path):
    config = tmp_path / "mlobs.yaml"
    config.write_text("drift:\n  psi_alert: 5\n  psi_high: 6\n  ks_stat: 0.9\n")
    report = cli.json("drift", "compare", *WEATHER, "--config", config, expect=0)
    assert report["alerts"] == [] and report["thresholds"]["psi_alert"] == 5
    env_wins = cli.json("drift", "compare", *WEATHER, "--config", config, env={"MLOBS_DRIFT_PSI_ALERT": "0.2"})
    assert [a["feature"] for a in env_wins["alerts"]] == ["weather", "temp_max"]


@pytest.mark.parametrize("width", [80, 100, 160])
def test_table_fits_the_terminal_by_dropping_columns_not_squeezing_them(cli, width):
    result = cli("drift", "compare", *WEATHER, env={"COLUMNS": str(width)})
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Feature"))
    table = lines[start:start + 6]
    assert all(len(line.rstrip()) <= width for line in table)
    assert "…" not in "\n".join(table)
    assert table[0].split()[:3] == ["Feature", "Kind", "Status"] or table[0].split()[:2] == ["Feature", "Status"]
