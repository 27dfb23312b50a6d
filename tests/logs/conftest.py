"""Seeded prediction logs with known percentiles and a planted shift, in JSONL, Parquet and a real PostgreSQL.

`logs` holds the rows as numpy arrays, the reference every command's numbers are checked against; `source` is
parametrised over the three stores, loaded with the same rows.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from tests.conftest import free_port, installed

SEED = 20261126
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PASSWORD = "s3cret-Pa55"  # the tests check that this never shows in any output
FEATURES = ("amount", "age", "is_mobile", "score_a", "score_b", "stable")
MODELS = (("fraud", "v1", 0.4), ("fraud", "v2", 0.38), ("ranker", "v1", 0.2), ("ranker", "v0", 0.02))
MESSAGES = ("CUDA out of memory", "invalid input: feature 'age' missing", "upstream 503 from feature store")
TIMEOUT_MESSAGE = "deadline exceeded after 2000 ms"
BASELINE = (timedelta(days=7), timedelta(days=3))  # before the anchor
CURRENT = (timedelta(hours=20), timedelta(minutes=1))


@dataclass
class Logs:
    """The generated rows, column by column; features are NaN where a row has none."""

    anchor: datetime  # every row is before it; "now" of the session, to the second
    ts: np.ndarray  # datetime64[ms], UTC
    columns: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    has_features: np.ndarray
    input_features: list[dict | None]

    @property
    def n(self) -> int:
        return self.ts.size

    def between(self, start: datetime, end: datetime) -> np.ndarray:
        """Rows in [start, end)."""
        lo, hi = np.datetime64(start.replace(tzinfo=None), "ms"), np.datetime64(end.replace(tzinfo=None), "ms")
        return (self.ts >= lo) & (self.ts < hi)

    # the periods of the data, and their windows as the CLI takes them
    @property
    def baseline(self) -> tuple[datetime, datetime]:
        return self.anchor - BASELINE[0], self.anchor - BASELINE[1]

    @property
    def current(self) -> tuple[datetime, datetime]:
        return self.anchor - CURRENT[0], self.anchor - CURRENT[1]

    @property
    def edge(self) -> datetime:
        """Rows at exactly edge, edge + 1 h and edge + 1 h - 1 ms (model `edge`), for the window bounds."""
        return self.anchor - timedelta(days=2)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_args(start: datetime, end: datetime) -> list[str]:
    return ["--from", iso(start), "--to", iso(end)]


def _times(rng: np.random.Generator, start: datetime, end: datetime, n: int) -> np.ndarray:
    span = int((end - start).total_seconds() * 1000)
    offsets = np.sort(rng.choice(span, size=n, replace=False))
    return np.datetime64(start.replace(tzinfo=None), "ms") + offsets.astype("timedelta64[ms]")


def generate(anchor: datetime) -> Logs:
    rng = np.random.default_rng(SEED)
    n_base, n_cur = 12_000, 10_000
    lo, hi = anchor - BASELINE[0], anchor - BASELINE[1]
    clo, chi = anchor - CURRENT[0], anchor - CURRENT[1]
    edge = anchor - timedelta(days=2)
    edge_ts = np.array([edge, edge + timedelta(hours=1), edge + timedelta(hours=1) - timedelta(milliseconds=1)])
    ts = np.concatenate([_times(rng, lo, hi, n_base), _times(rng, clo, chi, n_cur),
                         np.array([np.datetime64(t.replace(tzinfo=None), "ms") for t in edge_ts])])
    n = ts.size
    current = np.zeros(n, dtype=bool)
    current[n_base:n_base + n_cur] = True
    pick = rng.choice(len(MODELS), size=n, p=[m[2] for m in MODELS])
    pick[-3:] = 0
    model = np.array([m[0] for m in MODELS], dtype=object)[pick]
    model[-3:] = "edge"
    version = np.array([m[1] for m in MODELS], dtype=object)[pick]
    v2 = (model == "fraud") & (version == "v2")
    # latency phases, in ms: fraud v2's inference has a heavy tail, so its p99 is the slow phase
    queue = rng.exponential(4.0, n)
    pre = rng.gamma(2.0, 1.5, n)
    inference = rng.lognormal(3.0, 0.35, n) + np.where(v2, rng.exponential(40.0, n) * (rng.random(n) < 0.1), 0)
    post = rng.exponential(0.8, n)
    total = queue + pre + inference + post + rng.random(n)
    # status: fraud v2 fails more
    u = rng.random(n)
    err_p = np.where(v2, 0.05, 0.01)
    status = np.where(u < err_p, "ERROR", np.where(u < err_p + np.where(v2, 0.02, 0.005), "TIMEOUT", "SUCCESS"))
    status = status.astype(object)
    message = np.array([None] * n, dtype=object)
    is_err = status == "ERROR"
    message[is_err] = np.array(MESSAGES, dtype=object)[rng.choice(3, size=int(is_err.sum()), p=[0.6, 0.3, 0.1])]
    message[status == "TIMEOUT"] = TIMEOUT_MESSAGE
    # confidence: a dip in the current period, between 10 h and 8 h before the anchor
    score = rng.beta(6.0, 2.0, n)
    dip = current & (ts >= np.datetime64((anchor - timedelta(hours=10)).replace(tzinfo=None), "ms")) & (
        ts < np.datetime64((anchor - timedelta(hours=8)).replace(tzinfo=None), "ms"))
    score[dip] = rng.beta(2.0, 2.0, int(dip.sum()))
    output_class = np.where(score > 0.5, "fraud", "legit").astype(object)
    # features, logged for 70% of requests; planted: score_a's mean +0.5 sd, score_b's scale x1.5
    has = rng.random(n) < 0.7
    feats = {
        "amount": np.round(rng.lognormal(3.5, 0.8, n), 2),
        "age": rng.integers(18, 80, n).astype(float),
        "is_mobile": (rng.random(n) < np.where(current, 0.6, 0.4)).astype(float),
        "score_a": rng.normal(0.0, 1.0, n) + np.where(current, 0.5, 0.0),
        "score_b": rng.normal(0.0, 1.0, n) * np.where(current, 1.5, 1.0),
        "stable": rng.uniform(0.0, 10.0, n),
    }
    for values in feats.values():
        values[~has] = np.nan
    sampled = rng.random(n) < 0.3
    inputs = [{"amount": float(feats["amount"][i]) if has[i] else None, "email": f"user{i}@example.com",
               "contact": {"phone": "+1-555-0100", "ssn": "123-45-6789"}} if sampled[i] else None for i in range(n)]
    columns = {
        "prediction_id": np.array([f"p{i:06d}" for i in range(n)], dtype=object),
        "request_id": np.array([f"r{i:06d}" for i in range(n)], dtype=object),
        "trace_id": np.array([f"{rng.integers(2**62):016x}" for _ in range(n)], dtype=object),
        "model_id": model, "model_version": version,
        "endpoint": np.array(["/v1/predict"] * n, dtype=object),
        "user_id": np.array([f"user-{i % 997}" for i in range(n)], dtype=object),
        "client_ip_hash": np.array([f"ip-{i % 251}" for i in range(n)], dtype=object),
        "output_class": output_class, "output_score": score,
        "total_latency_ms": total, "queue_wait_ms": queue, "inference_ms": inference,
        "preprocessing_ms": pre, "postprocessing_ms": post,
        "status": status, "error_message": message,
    }
    return Logs(anchor, ts, columns, feats, has, inputs)


def records(logs: Logs) -> Iterator[dict[str, Any]]:
    """The rows as the seed's PredictionLog objects (what a serving fleet writes as JSON lines)."""
    for i in range(logs.n):
        row: dict[str, Any] = {"timestamp": str(logs.ts[i]) + "Z"}
        for name, values in logs.columns.items():
            v = values[i]
            row[name] = v.item() if isinstance(v, np.generic) else v
        row["input_features"] = logs.input_features[i]
        row["output"] = {"class": row["output_class"], "score": row["output_score"]}
        row["feature_values"] = {f: float(logs.features[f][i]) for f in FEATURES} if logs.has_features[i] else None
        yield row


JSON_TYPES = {
    "timestamp": "TIMESTAMPTZ", "prediction_id": "VARCHAR", "request_id": "VARCHAR", "trace_id": "VARCHAR",
    "model_id": "VARCHAR", "model_version": "VARCHAR", "endpoint": "VARCHAR", "user_id": "VARCHAR",
    "client_ip_hash": "VARCHAR", "output_class": "VARCHAR", "output_score": "DOUBLE", "total_latency_ms": "DOUBLE",
    "queue_wait_ms": "DOUBLE", "inference_ms": "DOUBLE", "preprocessing_ms": "DOUBLE", "postprocessing_ms": "DOUBLE",
    "status": "VARCHAR", "error_message": "VARCHAR", "input_features": "JSON", "output": "JSON",
    "feature_values": "MAP(VARCHAR, DOUBLE)",
}


@dataclass(frozen=True)
class Stores:
    jsonl: Path
    parquet: Path
    root: Path


@pytest.fixture(scope="session")
def logs() -> Logs:
    return generate(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
def stores(logs: Logs, tmp_path_factory: pytest.TempPathFactory) -> Stores:
    root = tmp_path_factory.mktemp("logstore")
    jsonl = root / "logs.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for row in records(logs):
            f.write(json.dumps(row) + "\n")
    parquet = root / "logs.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.read_json(str(jsonl), format="newline_delimited", columns=JSON_TYPES).create_view("rows")
    con.execute("COPY rows TO ? (FORMAT parquet)", [str(parquet)])
    con.close()
    return Stores(jsonl, parquet, root)


SCHEMA = """
CREATE TABLE prediction_logs (
    prediction_id text PRIMARY KEY, request_id text, trace_id text, model_id text, model_version text,
    endpoint text, experiment_id text, variant_id text, user_id text, input_hash text, input_features jsonb,
    input_size_bytes int, output jsonb, output_class text, output_score double precision, output_size_bytes int,
    total_latency_ms double precision, queue_wait_ms double precision, inference_ms double precision,
    preprocessing_ms double precision, postprocessing_ms double precision, status text, error_message text,
    "timestamp" timestamptz NOT NULL, client_ip_hash text, user_agent text, feature_values jsonb
);
CREATE TABLE no_latency (model_id text, model_version text, "timestamp" timestamptz, status text);
"""
PG_COLUMNS = ("prediction_id", "request_id", "trace_id", "model_id", "model_version", "endpoint", "user_id",
              "output_class", "output_score", "total_latency_ms", "queue_wait_ms", "inference_ms",
              "preprocessing_ms", "postprocessing_ms", "status", "error_message", "timestamp", "client_ip_hash",
              "input_features", "output", "feature_values")


@dataclass(frozen=True)
class Postgres:
    url: str  # without the password, which tests pass as MLOBS_LOG_PASSWORD
    port: int

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, password=PG_PASSWORD, autocommit=True)


def _as_postgres(username: str) -> dict[str, Any]:
    return {"user": username, "group": username, "extra_groups": []}


@pytest.fixture(scope="session")
def postgres(logs: Logs) -> Iterator[Postgres]:
    """A PostgreSQL 15 started for this session as the `postgres` user (initdb and postgres refuse root), with
    password login on 127.0.0.1, loaded with the generated rows; stopped by its PID."""
    initdb = installed(str(PG_BIN / "initdb"), "postgresql")
    server = installed(str(PG_BIN / "postgres"), "postgresql")
    run_as = _as_postgres("postgres") if os.geteuid() == 0 else {}
    root = tempfile.mkdtemp(prefix="mlobs-pg-")  # not under tmp_path: its parents are mode 700
    if run_as:
        shutil.chown(root, "postgres", "postgres")
    pwfile = Path(root) / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if run_as:
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run([initdb, "-D", f"{root}/data", "-U", "mlobs", "--pwfile", str(pwfile), "--auth-local=trust",
                    "--auth-host=scram-sha-256", "--locale=C", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, timeout=120, **run_as)
    port = free_port()
    log = Path(root) / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([server, "-D", f"{root}/data", "-p", str(port), "-k", root, "-c",
                                 "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                                stdout=subprocess.DEVNULL, stderr=err, **run_as)
    pg = Postgres(f"postgresql://mlobs@127.0.0.1:{port}/postgres", port)
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = pg.connect()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"postgres did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.05)
        columns = ", ".join(f'"{c}"' for c in PG_COLUMNS)
        with conn:
            conn.execute(SCHEMA)
            with conn.cursor() as cur, cur.copy(f"COPY prediction_logs ({columns}) FROM STDIN") as copy:
                for row in records(logs):
                    copy.write_row([json.dumps(row[c]) if c in ("input_features", "output", "feature_values")
                                    and row[c] is not None else row[c] for c in PG_COLUMNS])
        yield pg
    finally:
        proc.send_signal(signal.SIGINT)  # fast shutdown
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["jsonl", "parquet", "postgres"])
def source(request: pytest.FixtureRequest, stores: Stores) -> str:
    """The same rows in each store: a path, or the PostgreSQL URL (its password comes from MLOBS_LOG_PASSWORD)."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres").url
    return str(getattr(stores, request.param))


@pytest.fixture
def logs_cli(cli: Any) -> Any:
    """cli.json for `mlobs logs ...` with the PostgreSQL password in the environment."""

    def run(*args: Any, expect: int = 0) -> dict[str, Any]:
        return cli.json("logs", *args, expect=expect, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})

    return run
