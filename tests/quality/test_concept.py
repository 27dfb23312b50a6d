"""`drift concept` against scikit-learn and scipy, computed from the generated rows (tests/quality/conftest.py),
in Parquet + CSV labels and in PostgreSQL: the planted accuracy drop is found, the control is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score

from tests.quality.conftest import BASELINE, CURRENT

TOL = 1e-9  # every number is a ratio of counts or a float sum: equal up to rounding


def _reference(data, model: str) -> dict:
    """The expected numbers, from the rows and the winning labels, with scikit-learn and scipy."""
    logs = data.logs[data.logs["model_id"] == model]
    (b0, b1), (c0, c1) = data.period(BASELINE), data.period(CURRENT)
    ts = logs["timestamp"]
    base = logs[(ts >= pd.Timestamp(b0)) & (ts < pd.Timestamp(b1))]
    cur = logs[(ts >= pd.Timestamp(c0)) & (ts < pd.Timestamp(c1))]
    truth = data.truth

    def labelled(frame):
        frame = frame[frame["prediction_id"].isin(truth.index)]
        return frame, truth.loc[frame["prediction_id"]].to_numpy()

    bl, by = labelled(base)
    cl, cy = labelled(cur)
    classes = sorted(set(by) | set(cy) | set(bl["output_class"]) | set(cl["output_class"]))
    if len(classes) == 2:
        counts = pd.Series(by).value_counts()
        positive = min(classes, key=lambda c: counts.get(c, 0))
        f1 = lambda y, p: f1_score(y, p, average="binary", pos_label=positive)  # noqa: E731
    else:
        positive = None
        f1 = lambda y, p: f1_score(y, p, average="macro")  # noqa: E731
    iso = IsotonicRegression(out_of_bounds="clip").fit(bl["output_score"], bl["output_class"].to_numpy() == by)
    windows = []
    for i in range(12):
        lo, hi = pd.Timestamp(c0) + pd.Timedelta(hours=i), pd.Timestamp(c0) + pd.Timedelta(hours=i + 1)
        in_w = (cl["timestamp"] >= lo) & (cl["timestamp"] < hi)
        all_w = cur[(cur["timestamp"] >= lo) & (cur["timestamp"] < hi)]
        y, p = cy[in_w.to_numpy()], cl["output_class"][in_w].to_numpy()
        windows.append({"labelled": int(in_w.sum()), "accuracy": accuracy_score(y, p), "f1": f1(y, p),
                        "estimated": float(iso.predict(all_w["output_score"]).mean()),
                        "confidence": float(all_w["output_score"].mean()),
                        "low": float((all_w["output_score"] < 0.6).mean())})
    base_acc = accuracy_score(by, bl["output_class"])
    used = [w["accuracy"] for w in windows if w["labelled"] >= 30]
    return {"base_acc": base_acc, "base_f1": f1(by, bl["output_class"]), "cur_acc": accuracy_score(cy, cl["output_class"]),
            "cur_f1": f1(cy, cl["output_class"]), "windows": windows, "positive": positive,
            "p": stats.ttest_1samp(used, base_acc, alternative="less").pvalue,
            "base_scores": base["output_score"].to_numpy(), "cur_scores": cur["output_score"].to_numpy(),
            "base_classes": base["output_class"], "cur_classes": cur["output_class"],
            "labelled": (len(bl), len(cl)), "predictions": (len(base), len(cur))}


def _args(data, store, model, *more):
    source, labels = store
    return ("--source", source, "--labels", labels, "--baseline", data.arg(BASELINE), "--current",
            data.arg(CURRENT), "--model", model, *more)


@pytest.mark.parametrize("model", ["planted", "control", "multi"])
def test_accuracy_f1_ttest_and_estimate_match_sklearn_and_scipy(data, store, concept_cli, model):
    out = concept_cli(*_args(data, store, model), expect=1 if model == "planted" else 0)
    ref = _reference(data, model)
    assert out["baseline"]["accuracy"] == pytest.approx(ref["base_acc"], rel=TOL)
    assert out["baseline"]["f1"] == pytest.approx(ref["base_f1"], rel=TOL)
    assert out["current"]["accuracy"] == pytest.approx(ref["cur_acc"], rel=TOL)
    assert out["accuracy_drop"] == pytest.approx(ref["base_acc"] - ref["cur_acc"], rel=TOL)
    assert out["f1_drop"] == pytest.approx(ref["base_f1"] - ref["cur_f1"], rel=TOL)
    assert out["p_value"] == pytest.approx(ref["p"], rel=1e-7)  # scipy's t CDF and ours: the same stdtr
    assert out["positive"] == ref["positive"] and out["f1_average"] == ("macro" if model == "multi" else "binary")
    assert len(out["windows"]) == 12
    for got, want in zip(out["windows"], ref["windows"]):
        assert got["labelled"] == want["labelled"]
        assert got["accuracy"] == pytest.approx(want["accuracy"], rel=TOL)
        assert got["f1"] == pytest.approx(want["f1"], rel=TOL)
        assert got["estimated_accuracy"] == pytest.approx(want["estimated"], rel=1e-9)
        assert got["confidence_mean"] == pytest.approx(want["confidence"], rel=TOL)
        assert got["low_confidence_share"] == pytest.approx(want["low"], abs=1e-12)
        assert got["used"] == (want["labelled"] >= 30)
    coverage = out["labels_coverage"]
    assert (coverage["baseline"]["labelled"], coverage["current"]["labelled"]) == ref["labelled"]
    assert (coverage["baseline"]["predictions"], coverage["current"]["predictions"]) == ref["predictions"]
    verdict = out["verdict"]
    if model == "planted":  # planted: 15 points less often right in 8 of the 12 windows
        assert verdict["drift_type"] == "concept_drift" and verdict["severity"] == "high"
        assert verdict["recommendation"] == "Investigate and consider retraining"
        assert out["findings"][0]["check"] == "concept/accuracy-drop"
    else:
        assert verdict["drift_type"] == "none" and not verdict["detected"]


def test_label_free_indicators_match_scipy_and_drift_bins(data, store, concept_cli):
    out = concept_cli(*_args(data, store, "control"))
    ref = _reference(data, "control")
    base, cur = ref["base_scores"], ref["cur_scores"]
    # drift compare's bins: baseline deciles (np.quantile), right-closed, open ends
    edges = np.unique(np.quantile(base, np.arange(1, 10) / 10))
    r = np.bincount(np.searchsorted(edges, base, side="left"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    got = {i["name"]: i for i in out["indicators"]}
    assert got["confidence_shift"]["value"] == pytest.approx(jensenshannon(r, c, base=2) ** 2, rel=1e-9, abs=1e-15)
    bc, cc = ref["base_classes"].value_counts(), ref["cur_classes"].value_counts()
    names = sorted(set(bc.index) | set(cc.index))
    p = np.maximum(np.array([bc.get(n, 0) for n in names]) / bc.sum(), 1e-4)
    q = np.maximum(np.array([cc.get(n, 0) for n in names]) / cc.sum(), 1e-4)
    assert got["class_distribution_shift"]["value"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)


def test_sampled_logs_add_the_as_logged_note_and_change_no_number(data, files, cli):
    """log.sampling weights `mlobs logs`, not `drift concept`: the report says so and its numbers stay the rows'."""
    args = ("drift", "concept", *_args(data, (str(files.logs), str(files.labels)), "control"))
    plain = cli.json(*args, expect=0)
    sampled = cli.json(*args, expect=0, env={"MLOBS_LOG_SAMPLING_ERROR_RATE": "0.5"})
    added = [n for n in sampled["notes"] if n not in plain["notes"]]
    assert len(added) == 1 and "as logged" in added[0]
    assert {k: v for k, v in sampled.items() if k != "notes"} == {k: v for k, v in plain.items() if k != "notes"}


def test_label_issues_counted(data, store, concept_cli):
    issues = concept_cli(*_args(data, store, "control"))["label_issues"]
    assert issues["rows"] == len(data.labels)
    assert issues["unknown_ids"] == 40
    assert issues["duplicated_ids"] == 300 and issues["dropped_duplicates"] == 300


def _write(frame, path):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("frame", frame)
    con.execute(f"COPY frame TO '{path}' (FORMAT parquet)")
    con.close()
    return str(path)


@pytest.mark.parametrize("shifted", [True, False], ids=["shifted outputs", "control"])
def test_without_labels_two_indicators_make_potential_drift(data, tmp_path, cli, shifted):
    imp_b, imp_c = tmp_path / "b.csv", tmp_path / "c.csv"
    values_b, values_c = [5, 4, 3, 2, 1, 0.5], [0.5, 1, 2, 3, 5, 4]
    imp_b.write_text("feature,importance\n" + "".join(f"f{i},{v}\n" for i, v in enumerate(values_b)))
    imp_c.write_text("feature,importance\n" + "".join(f"f{i},{v}\n" for i, v in enumerate(values_c)))
    logs = data.logs[data.logs["model_id"] == "control"].copy()
    current = logs["timestamp"] >= pd.Timestamp(data.period(CURRENT)[0])
    if shifted:  # current outputs: half of them the other class, every score 0.3 lower
        flip = current & (np.arange(len(logs)) % 2 == 0)
        logs.loc[flip, "output_class"] = np.where(logs.loc[flip, "output_class"] == "fraud", "legit", "fraud")
        logs.loc[current, "output_score"] -= 0.3
    source = _write(logs, tmp_path / "logs.parquet")
    args = ("drift", "concept", "--source", source, "--baseline", data.arg(BASELINE), "--current",
            data.arg(CURRENT), "--importance-baseline", imp_b, "--importance-current", imp_c)
    out = cli.json(*args, expect=1 if shifted else 0)
    got = {i["name"]: i for i in out["indicators"]}
    rho = stats.spearmanr(values_b, values_c).statistic
    assert got["feature_importance_drift"]["value"] == pytest.approx(1 - rho, rel=1e-12)
    assert got["feature_importance_drift"]["fired"]
    assert got["confidence_shift"]["fired"] == got["class_distribution_shift"]["fired"] == shifted
    assert out["verdict"]["drift_type"] == ("potential_concept_drift" if shifted else "none")
    if shifted:
        assert out["verdict"]["recommendation"] == "Collect labels and validate performance"
        assert out["findings"][0] == {"check": "concept/indicators", "severity": "medium", "subject": "model",
                                      "message": out["verdict"]["reason"]}
    assert out["windows"][0]["accuracy"] is None and out["labels"] is None


def test_pushgateway_gets_accuracy_estimate_and_verdict(data, files, cli, gateway):
    import httpx

    out = cli.json("drift", "concept", "--source", str(files.logs), "--labels", str(files.labels), "--baseline",
                   data.arg(BASELINE), "--current", data.arg(CURRENT), "--model", "planted", "--pushgateway",
                   gateway, "--job", "quality-test", expect=1)
    text = httpx.get(f"{gateway}/metrics").text
    samples = {}
    for line in text.splitlines():
        if 'job="quality-test"' in line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name.split("{")[0]] = float(value)
            assert 'model="planted"' in name
    assert samples["model_accuracy"] == pytest.approx(out["current"]["accuracy"], rel=1e-12)
    assert samples["model_accuracy_estimated"] == pytest.approx(out["current"]["estimated_accuracy"], rel=1e-12)
    assert samples["concept_drift_detected"] == 1.0


def test_pushgateway_needs_model(data, files, cli):
    result = cli("drift", "concept", "--source", str(files.logs), "--baseline", data.arg(BASELINE), "--current",
                 data.arg(CURRENT), "--pushgateway", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "--pushgateway needs --model" in result.stderr


def test_the_labels_join_stays_a_hash_join_on_tables_never_analysed(data, postgres, pg_quality):
    """Tables loaded a moment ago have no statistics: PostgreSQL then estimates a row or two and would run the
    labels' dedupe once per log row in a nested loop (94 s on these 18,000 labels instead of 0.5 s)."""
    from mlobs_cli.backends.logstore.labels import Labels
    from mlobs_cli.backends.logstore.postgres import PostgresStore
    from mlobs_cli.logs.query import Filters, Window
    from tests.logs.conftest import PG_PASSWORD

    with postgres.connect() as conn:
        for table, source in (("fresh_logs", "quality_logs"), ("fresh_labels", "labels")):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (LIKE {source})")
            conn.execute(f"INSERT INTO {table} SELECT * FROM {source}")
    store = PostgresStore(postgres.url + "?table=fresh_logs", PG_PASSWORD)
    try:
        labels = Labels(store, postgres.url + "?table=fresh_labels", postgres.url)
        (c0, c1) = data.period(CURRENT)
        where, params = store.where(Window(c0, c1), Filters(model="control"))
        plan = [line for (line,) in store.execute(
            f"EXPLAIN SELECT x.label, count(*) FROM {labels.labelled} x WHERE {where} GROUP BY 1", params)]
    finally:
        store.close()
    assert any("Hash Join" in line for line in plan), plan
    assert not any("Nested Loop" in line for line in plan), plan
