"""Generated prediction logs and late labels with a planted accuracy drop (model `planted`), a control without
one (model `control`) and three classes (model `multi`), in Parquet + CSV labels and in PostgreSQL tables.

`data` keeps every row as numpy arrays: the tests compute their references from these with scikit-learn and
scipy, never through mlobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.logs.conftest import PG_PASSWORD, logs, postgres  # noqa: F401 (fixtures: the PostgreSQL harness)

SEED = 20261207
BASELINE = (timedelta(days=4), timedelta(days=1))
CURRENT = (timedelta(hours=12), timedelta(0))
DROP_FROM = timedelta(hours=8)  # planted: from 8 h before the anchor, `planted` is right 15 points less often
CLASSES = {"planted": ("fraud", "legit"), "control": ("fraud", "legit"), "multi": ("cat", "dog", "fox")}


@dataclass
class Data:
    anchor: datetime
    logs: pd.DataFrame
    labels: pd.DataFrame  # as written, duplicates and unknown ids included
    truth: pd.Series  # prediction_id -> the label that wins (latest labeled_at)

    def period(self, which: tuple[timedelta, timedelta]) -> tuple[datetime, datetime]:
        return self.anchor - which[0], self.anchor - which[1]

    def arg(self, which: tuple[timedelta, timedelta]) -> str:
        start, end = self.period(which)
        return f"{_iso(start)}..{_iso(end)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def generate(anchor: datetime) -> Data:
    rng = np.random.default_rng(SEED)
    frames, label_frames = [], []
    for model, classes in CLASSES.items():
        for name, (lo, hi), n in (("baseline", BASELINE, 9000), ("current", CURRENT, 6000)):
            start = anchor - lo
            span_ms = int((lo - hi).total_seconds() * 1000)
            ts = pd.to_datetime(start) + pd.to_timedelta(np.sort(rng.integers(0, span_ms, n)), unit="ms")
            k = len(classes)
            # the predicted class's probability, calibrated in the baseline: right with that probability
            score = np.round(1 / k + (1 - 1 / k) * rng.beta(5.0, 1.6, n), 3)
            p_right = score.copy()
            if model == "planted" and name == "current":
                late = ts >= pd.to_datetime(anchor - DROP_FROM)
                p_right[late] = np.clip(p_right[late] - 0.15, 0, 1)
            predicted = rng.integers(0, k, n) if model == "multi" else (rng.random(n) < 0.3).astype(int)
            right = rng.random(n) < p_right
            other = (predicted + rng.integers(1, k, n)) % k
            label = np.where(right, predicted, other)
            ids = [f"{model}-{name}-{i:05d}" for i in range(n)]
            frames.append(pd.DataFrame({
                "prediction_id": ids, "timestamp": ts, "model_id": model, "model_version": "v1",
                "output_class": np.array(classes)[predicted], "output_score": score, "status": "SUCCESS",
                "total_latency_ms": rng.gamma(2.0, 10.0, n)}))
            has = rng.random(n) < 0.6
            delay = pd.to_timedelta(rng.exponential(3 * 3600, n), unit="s")
            label_frames.append(pd.DataFrame({"prediction_id": np.array(ids)[has],
                                              "label": np.array(classes)[label[has]],
                                              "labeled_at": (ts + delay)[has]}))
    logs = pd.concat(frames, ignore_index=True)
    labels = pd.concat(label_frames, ignore_index=True)
    truth = labels.set_index("prediction_id")["label"]
    # 300 predictions labelled twice: an earlier, wrong label, then the right one (the latest must win)
    dup = labels.sample(300, random_state=SEED).copy()
    dup["labeled_at"] = dup["labeled_at"] - pd.Timedelta(minutes=30)
    dup["label"] = np.where(dup["label"] == "fraud", "legit", np.where(dup["label"] == "legit", "fraud", "cat"))
    # 40 labels for predictions no log has
    unknown = pd.DataFrame({"prediction_id": [f"gone-{i}" for i in range(40)], "label": "fraud",
                            "labeled_at": pd.Timestamp(anchor)})
    labels = pd.concat([labels, dup, unknown], ignore_index=True).sample(frac=1.0, random_state=SEED)
    return Data(anchor, logs, labels, truth)


@dataclass(frozen=True)
class Files:
    logs: Path
    labels: Path


@pytest.fixture(scope="session")
def data() -> Data:
    return generate(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="session")
def files(data: Data, tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("quality")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    logs_df, labels_df = data.logs, data.labels  # noqa: F841 (DuckDB reads the frames by name)
    con.execute(f"COPY (SELECT * FROM logs_df) TO '{root / 'logs.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * FROM labels_df) TO '{root / 'labels.csv'}' (FORMAT csv, HEADER)")
    con.close()
    return Files(root / "logs.parquet", root / "labels.csv")


@pytest.fixture(scope="session")
def pg_quality(data: Data, postgres: Any) -> str:  # noqa: F811
    """The same rows as tables quality_logs and labels in the session's PostgreSQL; the logs' URL."""
    with postgres.connect() as conn:
        conn.execute("CREATE TABLE quality_logs (prediction_id text, \"timestamp\" timestamptz, model_id text, "
                     "model_version text, output_class text, output_score float8, status text, "
                     "total_latency_ms float8)")
        conn.execute("CREATE TABLE labels (prediction_id text, label text, labeled_at timestamptz)")
        with conn.cursor() as cur:
            with cur.copy("COPY quality_logs FROM STDIN") as copy:
                for row in data.logs.itertuples(index=False):
                    copy.write_row(list(row))
            with cur.copy("COPY labels FROM STDIN") as copy:
                for row in data.labels.itertuples(index=False):
                    copy.write_row(list(row))
    return postgres.url + "?table=quality_logs"


@pytest.fixture(params=["files", "postgres"])
def store(request: pytest.FixtureRequest, files: Files) -> tuple[str, str]:
    """(--source, --labels) of the same rows in files and in PostgreSQL."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_quality")
        return url, url.split("?")[0] + "?table=labels"
    return str(files.logs), str(files.labels)


@pytest.fixture
def concept_cli(cli: Any) -> Any:
    def run(*args: Any, expect: int | None = 0) -> dict[str, Any]:
        return cli.json("drift", "concept", *args, expect=expect, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})

    return run
