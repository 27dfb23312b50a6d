"""Samples DuckDB reads into a wrong answer: a ragged CSV read as one text column of whole lines (said OK), a
column of +-inf taken for dates (left out as a time column), and JSON keys that differ only in case (renamed to
`x_1` behind the user's back). Each is either read right or refused in one line with exit 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats


def lines(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("mlobs: error: ")
    return line


GOOD = [f"{i % 7},{i % 3}" for i in range(300)]


@pytest.mark.parametrize(("rows", "line", "fields"), [
    pytest.param([*GOOD[:100], "5,6,7", *GOOD[100:]], 102, 3, id="one row too long"),
    pytest.param([*GOOD[:30], "5", *GOOD[30:]], 32, 1, id="one row too short"),
    pytest.param([r + (",9" if i % 2 else "") for i, r in enumerate(GOOD)], 3, 3, id="every other row too long"),
])
def test_a_ragged_csv_is_refused_with_its_line(cli, tmp_path, rows, line, fields):
    ref = lines(tmp_path / "ref.csv", "a,b", rows)
    cur = lines(tmp_path / "cur.csv", "a,b", rows)  # both ragged: before, their whole lines compared equal: OK
    message = one_error_line(cli("drift", "compare", ref, cur, "-o", "json"))
    assert f"ref.csv line {line}: {fields} field" in message and "the header has 2" in message


def test_a_ragged_row_past_the_sniffed_part_names_its_line(cli, tmp_path):
    rows = [f"{i},{i * 2}" for i in range(60_000)]
    ref = lines(tmp_path / "ref.csv", "a,b", [*rows, "5,6,7"])
    cur = lines(tmp_path / "cur.csv", "a,b", rows[:100])
    assert "Line: 60002" in one_error_line(cli("drift", "compare", ref, cur))


def test_a_header_name_with_a_comma_is_not_ragged(cli, tmp_path):
    rows = [f"{i % 5},{i % 4}" for i in range(200)]
    ref = lines(tmp_path / "ref.csv", '"a,b",c', rows)
    cur = lines(tmp_path / "cur.csv", '"a,b",c', rows)
    report = cli.json("drift", "compare", ref, cur, expect=0)
    assert sorted(f["name"] for f in report["features"]) == ["a,b", "c"]


def test_a_column_of_infinities_is_numerical_and_its_values_missing(cli, tmp_path):
    # DuckDB's sniffer reads inf and -inf as the dates infinity and -infinity
    ref = lines(tmp_path / "ref.csv", "a,b", [f"{'inf' if i % 2 else '-inf'},{i % 10}" for i in range(200)])
    cur = lines(tmp_path / "cur.csv", "a,b", [f"{'inf' if i % 3 else '-inf'},{i % 10}" for i in range(200)])
    report = cli.json("drift", "compare", ref, cur, expect=0)
    a = {f["name"]: f for f in report["features"]}["a"]
    assert a["kind"] == "numerical" and report["not_compared"] == []
    assert (a["n_ref"], a["n_cur"], a["missing_ref"], a["missing_cur"]) == (0, 0, 1.0, 1.0)
    assert "no values in either sample" in a["note"]


def test_infinities_and_nan_among_numbers_are_left_out_as_missing(cli, tmp_path):
    rng = np.random.default_rng(11)
    spelled = {0: "inf", 1: "-inf", 2: "nan"}

    def column(shift: float) -> tuple[list[str], np.ndarray]:
        values = rng.normal(shift, 1, 400)
        text = [spelled.get(i % 10, repr(float(v))) for i, v in enumerate(values)]
        return text, np.array([v for i, v in enumerate(values) if i % 10 not in spelled])

    ref_text, ref_finite = column(0.0)
    cur_text, cur_finite = column(0.5)
    ref = lines(tmp_path / "ref.csv", "x", ref_text)
    cur = lines(tmp_path / "cur.csv", "x", cur_text)
    x = cli.json("drift", "compare", ref, cur, "--exit-zero", expect=0)["features"][0]
    assert x["kind"] == "numerical" and x["n_ref"] == 280 and x["missing_ref"] == pytest.approx(0.3, abs=1e-12)
    ks = stats.ks_2samp(ref_finite, cur_finite)  # the reference: scipy on the finite values alone
    assert x["ks_stat"] == pytest.approx(ks.statistic, abs=1e-12)
    assert x["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref_finite, cur_finite), rel=1e-9)
    assert math.isfinite(x["psi"])


def test_a_date_column_with_an_infinite_date_stays_a_date(cli, tmp_path):
    rows = [f"2026-11-{1 + i % 28:02d},{i % 5}" for i in range(100)] + ["infinity,1"]
    ref = lines(tmp_path / "ref.csv", "day,n", rows)
    report = cli.json("drift", "compare", ref, ref, expect=0)
    assert [(n["name"], n["reason"].split(" (")[0]) for n in report["not_compared"]] == [("day", "time column")]


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("rows", [
    pytest.param([{"Amount": i, "amount": i * 2} for i in range(50)], id="in one object"),
    pytest.param([{"Amount": i} if i % 2 else {"amount": i} for i in range(50)], id="in different rows"),
    pytest.param([{"feature_values": {"Amount": i, "amount": -i}} for i in range(50)], id="in feature_values"),
])
def test_json_keys_that_differ_only_in_case_are_refused(cli, tmp_path, rows):
    ref = jsonl(tmp_path / "ref.jsonl", rows)
    cur = jsonl(tmp_path / "cur.jsonl", [{"amount": 1}])
    message = one_error_line(cli("drift", "compare", ref, cur))
    assert "ref.jsonl" in message and "differ only in case" in message or "different case" in message


def test_json_files_of_a_glob_whose_keys_differ_only_in_case_are_refused(cli, tmp_path):
    (tmp_path / "ref").mkdir()
    jsonl(tmp_path / "ref" / "a.jsonl", [{"amount": i} for i in range(20)])
    jsonl(tmp_path / "ref" / "b.jsonl", [{"Amount": i} for i in range(20)])
    cur = jsonl(tmp_path / "cur.jsonl", [{"amount": i} for i in range(20)])
    message = one_error_line(cli("drift", "compare", tmp_path / "ref" / "*.jsonl", cur))
    assert "a.jsonl and " in message and "b.jsonl" in message and "'amount' and 'Amount'" in message


def test_a_column_really_named_like_a_renamed_one_is_compared(cli, tmp_path):
    rows = [{"a": i % 4, "A_1": i % 3} for i in range(40)]
    ref, cur = jsonl(tmp_path / "ref.jsonl", rows), jsonl(tmp_path / "cur.jsonl", rows)
    report = cli.json("drift", "compare", ref, cur, expect=0)
    assert sorted(f["name"] for f in report["features"]) == ["A_1", "a"]
