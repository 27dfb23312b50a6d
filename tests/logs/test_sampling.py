"""Sampled logs: every `logs` number is the inverse-probability-weighted estimate of the population.

The generator writes logs the way the design's prediction_logs.sampling keeps them: every error, every
prediction under 0.6 confidence, and 10% of the other requests, each kept or not by a coin flip, as a serving
fleet would. The population is known (100,000 requests, exactly 2.0% of them errors), so the estimate is checked
twice: against the hand computation on the kept rows (exact), and against the population's truth (within the
sampling error the generator implies). Files (DuckDB) and a real PostgreSQL get the same rows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tests.logs.conftest import PG_PASSWORD, window_args

N_ERRORS, N_LOW, N_ORDINARY = 2_000, 5_840, 92_160  # 100,000 requests: 2.0% errors, 5.84% under 0.6
KEEP, THRESHOLD = 0.1, 0.6
SAMPLING = {"MLOBS_LOG_SAMPLING_DEFAULT_RATE": str(KEEP)}  # error and low-confidence rates: 1.0, the default
PERCENTILES = (50, 95, 99)
OVERRIDE_RATE = 0.25  # the sample_rate column of some rows: weight 4, not the config's 10
COLUMNS = {"timestamp": "timestamptz", "model_id": "text", "model_version": "text", "status": "text",
           "output_score": "double precision", "total_latency_ms": "double precision",
           "inference_ms": "double precision", "feature_values": "jsonb", "sample_rate": "double precision"}


@dataclass(frozen=True)
class Sampled:
    start: datetime
    end: datetime
    population: dict[str, np.ndarray]
    kept: np.ndarray  # bool over the population
    rates: np.ndarray  # per kept row: the sample_rate column of the override variant, NaN for none

    def rows(self, column: str) -> np.ndarray:
        return self.population[column][self.kept]

    def config_weights(self) -> np.ndarray:
        """1 / keep rate by the design's rule, per kept row."""
        status, score = self.rows("status"), self.rows("output_score")
        return np.where(status == "ERROR", 1.0, np.where(score < THRESHOLD, 1.0, 1 / KEEP))

    def override_weights(self) -> np.ndarray:
        """A sample_rate in (0, 1] wins; a missing or invalid one leaves the config's weight."""
        valid = (self.rates > 0) & (self.rates <= 1)
        return np.where(valid, 1 / np.where(valid, self.rates, 1.0), self.config_weights())


def generate(anchor: datetime) -> Sampled:
    rng = np.random.default_rng(20261207)
    n = N_ERRORS + N_LOW + N_ORDINARY
    kind = np.repeat([0, 1, 2], [N_ERRORS, N_LOW, N_ORDINARY])  # error, low confidence, ordinary
    rng.shuffle(kind)
    score = np.where(kind == 1, rng.uniform(0.05, THRESHOLD, n), rng.uniform(THRESHOLD, 1.0, n))
    score[kind == 0] = rng.uniform(0.0, 1.0, int((kind == 0).sum()))
    # the kept rows are the slow ones: low-confidence and failed requests take longer
    latency = np.where(kind == 2, rng.lognormal(3.0, 0.3, n), np.where(kind == 1, rng.lognormal(3.6, 0.4, n),
                                                                          rng.lognormal(4.0, 0.5, n)))
    start, end = anchor - timedelta(hours=2), anchor - timedelta(hours=1)
    offsets = np.sort(rng.choice(3_600_000, size=n, replace=False)).astype("timedelta64[ms]")
    population = {
        "timestamp": np.datetime64(start.replace(tzinfo=None), "ms") + offsets,
        "status": np.where(kind == 0, "ERROR", "SUCCESS").astype(object),
        "output_score": score, "total_latency_ms": latency, "inference_ms": latency * rng.uniform(0.5, 0.9, n),
        "amount": np.where(kind == 2, rng.normal(10.0, 2.0, n), rng.normal(14.0, 3.0, n)),
    }
    kept = (kind != 2) | (rng.random(n) < KEEP)
    # every 4th kept ordinary row logs its own rate, and some a broken one (0, 1.5) that the config replaces
    ordinary = np.flatnonzero(kind[kept] == 2)
    rates = np.full(int(kept.sum()), np.nan)
    rates[ordinary[::4]] = OVERRIDE_RATE
    rates[ordinary[1::40]] = 0.0
    rates[ordinary[2::40]] = 1.5
    return Sampled(start, end, population, kept, rates)


def records(s: Sampled, with_rate: bool) -> list[dict[str, Any]]:
    out = []
    for i, j in enumerate(np.flatnonzero(s.kept)):
        p = s.population
        row = {"timestamp": str(p["timestamp"][j]) + "Z", "model_id": "fraud", "model_version": "v1",
               "status": p["status"][j], "output_score": float(p["output_score"][j]),
               "total_latency_ms": float(p["total_latency_ms"][j]), "inference_ms": float(p["inference_ms"][j]),
               "feature_values": {"amount": float(p["amount"][j])}}
        if with_rate:
            row["sample_rate"] = None if math.isnan(s.rates[i]) else float(s.rates[i])
        out.append(row)
    return out


@pytest.fixture(scope="module")
def sampled() -> Sampled:
    return generate(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="module")
def sampled_files(sampled: Sampled, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sampled")
    out = {}
    for name, with_rate in (("plain", False), ("rated", True)):
        jsonl = root / f"{name}.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in records(sampled, with_rate)), encoding="utf-8")
        parquet = root / f"{name}.parquet"
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("COPY (SELECT * FROM read_json(?, format = 'newline_delimited')) TO ? (FORMAT parquet)",
                    [str(jsonl), str(parquet)])
        con.close()
        out[f"{name}-jsonl"], out[f"{name}-parquet"] = jsonl, parquet
    return out


@pytest.fixture(scope="module")
def sampled_tables(sampled: Sampled, postgres: Any) -> dict[str, str]:
    """Tables sampled_plain and sampled_rated (with a sample_rate column) in the session's PostgreSQL."""
    out = {}
    with postgres.connect() as conn:
        for name, with_rate in (("plain", False), ("rated", True)):
            table = f"sampled_{name}"
            cols = [c for c in COLUMNS if with_rate or c != "sample_rate"]
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            quoted = [f'"{c}"' for c in cols]
            conn.execute(f"CREATE TABLE {table} ({', '.join(f'{q} {COLUMNS[c]}' for q, c in zip(quoted, cols))})")
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(quoted)}) FROM STDIN") as copy:
                for r in records(sampled, with_rate):
                    copy.write_row([json.dumps(r[c]) if c == "feature_values" else r[c] for c in cols])
            out[name] = f"{postgres.url}?table={table}"
    return out


@pytest.fixture(params=["jsonl", "parquet", "postgres"])
def store(request: pytest.FixtureRequest, sampled_files: dict[str, Path]) -> Any:
    """store("plain") or store("rated"): the source of that variant in this parameter's store."""
    if request.param == "postgres":
        tables = request.getfixturevalue("sampled_tables")
        return lambda variant: tables[variant]
    return lambda variant: str(sampled_files[f"{variant}-{request.param}"])


def run(cli: Any, *args: Any, env: dict[str, str] | None = None, expect: int = 0) -> dict[str, Any]:
    return cli.json("logs", *args, expect=expect, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD, **(env or {})})


def weighted_percentiles(values: np.ndarray, weights: np.ndarray) -> list[float]:
    return [float(np.percentile(values, q, weights=weights, method="inverted_cdf")) for q in PERCENTILES]


def test_errors_estimate_the_population_rate_and_show_the_logged_share(sampled, store, cli):
    out = run(cli, "errors", "--source", store("plain"), *window_args(sampled.start, sampled.end), env=SAMPLING)
    assert out["weighted"] is True
    (g,) = out["groups"]
    kept = int(sampled.kept.sum())
    ordinary_kept = kept - N_ERRORS - N_LOW
    # the estimate on these rows, by hand: every error and low-confidence row weighs 1, an ordinary one 10
    requests = N_ERRORS + N_LOW + ordinary_kept / KEEP
    assert g["requests"] == pytest.approx(requests, rel=1e-12)
    assert g["errors"] == pytest.approx(N_ERRORS, rel=1e-12)
    assert g["error_rate"] == pytest.approx(N_ERRORS / requests, rel=1e-12)
    # against the population: the only randomness is the Binomial(N_ORDINARY, 0.1) count of kept ordinary rows,
    # so the estimated requests have sd sqrt(N_ORDINARY * 0.1 * 0.9) / 0.1; 4 sd of it, as a rate
    truth = N_ERRORS / (N_ERRORS + N_LOW + N_ORDINARY)
    assert truth == 0.02
    sd_requests = math.sqrt(N_ORDINARY * KEEP * (1 - KEEP)) / KEEP
    tolerance = truth * 4 * sd_requests / (N_ERRORS + N_LOW + N_ORDINARY)  # about 0.00073
    assert abs(g["error_rate"] - truth) < tolerance
    # what the unweighted count showed: the logged share, about 11.7%
    assert (g["logged_requests"], g["logged_errors"]) == (kept, N_ERRORS)
    assert g["logged_error_rate"] == pytest.approx(N_ERRORS / kept, rel=1e-12)
    assert 0.11 < g["logged_error_rate"] < 0.125


def test_errors_table_shows_estimated_and_logged(sampled, sampled_files, cli):
    result = cli("logs", "errors", "--source", sampled_files["plain-parquet"], "--min-requests", "1",
                 *window_args(sampled.start, sampled.end), env=SAMPLING)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "logged share" in out and "estimated from sampled logs" in out
    logged = f"{N_ERRORS / int(sampled.kept.sum()):.2%}"
    assert logged in out and "2.0" in out


def test_weighted_percentiles_match_numpy_inverted_cdf(sampled, store, cli):
    out = run(cli, "latency", "--source", store("plain"), *window_args(sampled.start, sampled.end), env=SAMPLING)
    (g,) = out["groups"]
    w = sampled.config_weights()
    assert g["requests"] == pytest.approx(w.sum(), rel=1e-12) and g["logged"] == int(sampled.kept.sum())
    for column in ("total_latency_ms", "inference_ms"):
        want = weighted_percentiles(sampled.rows(column), w)
        got = [g[f"p{q}"][column] for q in PERCENTILES]
        assert got == want, column  # exact: both pick one logged value, the same one
    # and the weighted p99 is the population's, near enough; the logged rows' own p99 is far above it
    population = np.percentile(sampled.population["total_latency_ms"], 99)
    logged = np.percentile(sampled.rows("total_latency_ms"), 99)
    assert abs(g["p99"]["total_latency_ms"] - population) < 0.25 * abs(logged - population)


def test_a_sample_rate_column_overrides_the_config(sampled, store, cli):
    window = window_args(sampled.start, sampled.end)
    w = sampled.override_weights()
    assert not np.allclose(w.sum(), sampled.config_weights().sum())  # the override changes the answer
    out = run(cli, "errors", "--source", store("rated"), *window, env=SAMPLING)
    (g,) = out["groups"]
    assert g["requests"] == pytest.approx(w.sum(), rel=1e-12)
    assert g["error_rate"] == pytest.approx(N_ERRORS / w.sum(), rel=1e-12)
    out = run(cli, "latency", "--source", store("rated"), *window, env=SAMPLING)
    (g,) = out["groups"]
    assert [g[f"p{q}"]["total_latency_ms"] for q in PERCENTILES] == weighted_percentiles(
        sampled.rows("total_latency_ms"), w)
    # a sample_rate column alone weighs the rows, with the config's rates left at 1 for rows without one
    out = run(cli, "errors", "--source", store("rated"), *window)
    valid = (sampled.rates > 0) & (sampled.rates <= 1)
    alone = np.where(valid, 1 / np.where(valid, sampled.rates, 1.0), 1.0)
    assert out["weighted"] is True and out["groups"][0]["requests"] == pytest.approx(alone.sum(), rel=1e-12)


def test_without_sampling_the_numbers_are_the_logged_rows(sampled, store, cli):
    window = window_args(sampled.start, sampled.end)
    kept = int(sampled.kept.sum())
    out = run(cli, "errors", "--source", store("plain"), *window)
    assert "weighted" not in out
    (g,) = out["groups"]
    assert g == {"model_id": "fraud", "model_version": "v1", "requests": kept, "errors": N_ERRORS,
                 "error_rate": N_ERRORS / kept, "timeouts": 0, "timeout_rate": 0.0}
    out = run(cli, "latency", "--source", store("plain"), *window)
    (g,) = out["groups"]
    assert "logged" not in g and g["requests"] == kept
    assert g["p99"]["total_latency_ms"] == pytest.approx(np.percentile(sampled.rows("total_latency_ms"), 99),
                                                         rel=1e-9)


def test_confidence_counts_and_means_are_weighted(sampled, store, cli):
    out = run(cli, "confidence", "--source", store("plain"), "--bucket", "1h",
              *window_args(sampled.start, sampled.end), env=SAMPLING)
    w, score = sampled.config_weights(), sampled.rows("output_score")
    assert out["predictions"] == pytest.approx(w.sum(), rel=1e-12) and out["logged"] == int(sampled.kept.sum())
    low = score < 0.6  # log.confidence_threshold, the same as the sampling threshold here
    assert out["low_confidence"] == pytest.approx(w[low].sum(), rel=1e-12)
    assert out["mean_score"] == pytest.approx(np.average(score, weights=w), rel=1e-9)
    hist = np.bincount(np.minimum((score * 10).astype(int), 9), weights=w, minlength=10)
    assert [d["count"] for d in out["distribution"]] == pytest.approx(hist.tolist(), rel=1e-12)


def test_feature_shift_weighs_quantiles_and_bins(sampled, sampled_files, cli):
    """Baseline: the sampled logs weighted; current: the same rows. The weighted quartiles are numpy's
    inverted_cdf ones; the PSI of a period against itself is 0."""
    period = f"{sampled.start.isoformat()}..{sampled.end.isoformat()}"
    out = run(cli, "feature-shift", "--source", sampled_files["plain-jsonl"], "--baseline", period,
              "--current", period, env=SAMPLING)
    (f,) = out["features"]
    w = sampled.config_weights()
    amount = sampled.rows("amount")
    want = [float(np.percentile(amount, q, weights=w, method="inverted_cdf")) for q in (25, 50, 75)]
    assert [f["baseline_q1"], f["baseline_median"], f["baseline_q3"]] == want
    assert f["n_baseline"] == pytest.approx(w.sum(), rel=1e-12) and f["logged_baseline"] == amount.size
    assert f["psi"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("value", ["0", "-0.1", "1.5", "nan"])
def test_a_keep_rate_outside_zero_to_one_is_a_config_error(sampled_files, cli, value):
    result = cli("logs", "errors", "--source", sampled_files["plain-jsonl"],
                 env={"MLOBS_LOG_SAMPLING_DEFAULT_RATE": value})
    assert result.exit_code == 2
    assert "log.sampling.default_rate" in result.stderr and "Traceback" not in result.stderr


def test_the_runbooks_log_checks_see_the_estimates(sampled, sampled_files):
    """The runbook's `kind: logs` checks call the same service: its error rate is the population's estimate."""
    from mlobs_cli import config as cfg
    from mlobs_cli.runbook.checks import logs as log_check
    from mlobs_cli.runbook.checks.base import OK, Context
    from mlobs_cli.runbook.model import Check

    settings = cfg.resolve({}, env=SAMPLING)
    rows = {}
    for query in ("errors", "latency"):
        ctx = Context(at=sampled.end, settings=settings, variables={}, functions={}, prometheus=lambda: None,
                      rendered={"query": query, "source": str(sampled_files["plain-parquet"]), "range": "1h"})
        evidence = log_check.run(Check(id=query, kind="logs", title=query, spec={}, line=1), ctx)
        assert evidence.state == OK, evidence.error
        (rows[query],) = evidence.rows
    w = sampled.config_weights()
    assert rows["errors"].values["error_rate"] == pytest.approx(N_ERRORS / w.sum(), rel=1e-12)
    assert rows["errors"].values["requests"] == pytest.approx(w.sum(), rel=1e-12)
    p99 = weighted_percentiles(sampled.rows("total_latency_ms"), w)[2]
    assert rows["latency"].values["p99"] == pytest.approx(p99 / 1000, rel=1e-12)  # the check gives seconds
