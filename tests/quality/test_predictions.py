"""`drift predictions` gives `drift compare`'s numbers on the same rows, alerts above PSI 0.15, publishes
prediction_distribution_psi."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.quality.conftest import BASELINE, CURRENT, PG_PASSWORD
from tests.quality.test_concept import _write


@pytest.fixture(scope="module")
def shifted(data, tmp_path_factory):
    """`planted` rows with two thirds of the current predictions turned to the other class; the exports of each
    period as drift compare reads them."""
    root = tmp_path_factory.mktemp("predictions")
    logs = data.logs[data.logs["model_id"] == "planted"].copy()
    ts = logs["timestamp"]
    (b0, b1), (c0, c1) = data.period(BASELINE), data.period(CURRENT)
    current = (ts >= pd.Timestamp(c0)) & (ts < pd.Timestamp(c1))
    flip = current & (np.arange(len(logs)) % 3 != 0)
    logs.loc[flip, "output_class"] = np.where(logs.loc[flip, "output_class"] == "fraud", "legit", "fraud")
    base = (ts >= pd.Timestamp(b0)) & (ts < pd.Timestamp(b1))
    cols = ["output_class", "output_score"]
    return (_write(logs, root / "logs.parquet"), _write(logs.loc[base, cols], root / "ref.parquet"),
            _write(logs.loc[current, cols], root / "cur.parquet"))


def test_same_numbers_as_drift_compare(data, shifted, cli):
    source, ref, cur = shifted
    out = cli.json("drift", "predictions", "--source", source, "--baseline", data.arg(BASELINE), "--current",
                   data.arg(CURRENT), expect=1)
    compare = cli.json("drift", "compare", ref, cur, expect=1)
    by_name = {f["name"]: f for f in compare["features"]}
    (group,) = out["groups"]
    assert (group["model"], group["version"]) == ("planted", "v1")
    assert group["class_psi"] == by_name["output_class"]["psi"]  # the same function on the same counts: exact
    assert group["confidence_js"] == by_name["output_score"]["js_divergence"]
    assert group["confidence_psi"] == by_name["output_score"]["psi"]
    assert (group["n_baseline"], group["n_current"]) == (by_name["output_class"]["n_ref"],
                                                         by_name["output_class"]["n_cur"])
    assert group["class_psi"] > 0.15 and group["alert"]
    import duckdb

    scores = duckdb.sql(f"SELECT output_score FROM '{cur}'").fetchnumpy()["output_score"]
    assert group["low_confidence_current"] == pytest.approx(float((scores < 0.6).mean()), abs=1e-12)
    assert out["findings"][0]["check"] == "drift/prediction-distribution"


def test_control_does_not_alert_in_files_and_postgres(data, store, cli):
    out = cli.json("drift", "predictions", "--source", store[0], "--baseline", data.arg(BASELINE), "--current",
                   data.arg(CURRENT), "--model", "control", expect=0, env={"MLOBS_LOG_PASSWORD": PG_PASSWORD})
    (group,) = out["groups"]
    assert not group["alert"] and group["class_psi"] < 0.15


def test_publishes_prediction_distribution_psi(data, shifted, cli, gateway):
    out = cli.json("drift", "predictions", "--source", shifted[0], "--baseline", data.arg(BASELINE), "--current",
                   data.arg(CURRENT), "--model", "planted", "--pushgateway", gateway, "--job", "pred-test", expect=1)
    lines = [line for line in httpx.get(f"{gateway}/metrics").text.splitlines()
             if line.startswith("prediction_distribution_psi{") and 'job="pred-test"' in line]
    assert len(lines) == 1 and 'model="planted"' in lines[0]
    assert float(lines[0].rsplit(" ", 1)[1]) == pytest.approx(out["groups"][0]["class_psi"], rel=1e-12)


def test_sampled_logs_say_the_numbers_are_as_logged(data, shifted, cli):
    """With log.sampling set, `mlobs logs` estimates the traffic; this report does not weight, and says so in the
    table and in JSON, with the same numbers as without sampling."""
    source = shifted[0]
    args = ("drift", "predictions", "--source", source, "--baseline", data.arg(BASELINE), "--current",
            data.arg(CURRENT))
    plain = cli.json(*args, expect=1)
    sampled = cli.json(*args, expect=1, env={"MLOBS_LOG_SAMPLING_DEFAULT_RATE": "0.1"})
    assert plain["notes"] == []
    assert len(sampled["notes"]) == 1 and "as logged" in sampled["notes"][0]
    assert sampled["groups"] == plain["groups"]
    table = cli(*args, env={"MLOBS_LOG_SAMPLING_DEFAULT_RATE": "0.1", "NO_COLOR": "1"})
    assert "note: the logs are sampled" in table.stdout
