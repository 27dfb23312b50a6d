"""Bad input to `drift concept`: one line on stderr, the documented exit code, the user's files untouched."""

from __future__ import annotations

import hashlib

import pytest

from tests.quality.conftest import BASELINE, CURRENT


def _run(cli, data, files, *more, labels=None):
    args = ["drift", "concept", "--source", str(files.logs), "--baseline", data.arg(BASELINE), "--current",
            data.arg(CURRENT), "--model", "control"]
    if labels is not None:
        args += ["--labels", str(labels)]
    return cli(*args, *more)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlobs: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("content, code, words", [
    pytest.param("prediction_id,label\ncontrol-baseline-00001,0\ncontrol-current-00002,1\n", 2,
                 ("another type or coding",), id="labels coded 0/1 for classes fraud/legit"),
    pytest.param("prediction_id,label\ncontrol-baseline-00001,0.25\n", 2, ("is not a class",),
                 id="a score in the label column"),
    pytest.param("prediction_id,label\ngone-1,fraud\ngone-2,legit\n", 3, ("UNKNOWN", "2 label rows"),
                 id="no label for any prediction"),
    pytest.param("prediction_id,truth\ncontrol-baseline-00001,fraud\n", 2, ("no column label",),
                 id="no label column"),
])
def test_bad_labels(cli, data, files, tmp_path, content, code, words):
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    before = _digest(labels), _digest(files.logs)
    _one_line(_run(cli, data, files, labels=labels), code, *words)
    assert (_digest(labels), _digest(files.logs)) == before


def test_missing_labels_file(cli, data, files, tmp_path):
    _one_line(_run(cli, data, files, labels=tmp_path / "none.csv"), 2, "no such file")


def test_empty_period(cli, data, files):
    result = cli("drift", "concept", "--source", str(files.logs), "--baseline", "2001-01-01..2001-01-02",
                 "--current", data.arg(CURRENT))
    _one_line(result, 2, "baseline period", "no predictions")


def test_unknown_model_is_an_empty_period(cli, data, files):
    result = cli("drift", "concept", "--source", str(files.logs), "--baseline", data.arg(BASELINE),
                 "--current", data.arg(CURRENT), "--model", "nope")
    _one_line(result, 2, "for model nope")


def test_positive_must_be_a_class(cli, data, files):
    _one_line(_run(cli, data, files, "--positive", "cat", labels=files.labels), 2, "--positive cat")


def test_importance_files_go_together(cli, data, files, tmp_path):
    _one_line(_run(cli, data, files, "--importance-baseline", tmp_path / "x.csv"), 2, "together")


def test_exit_zero_and_fail_on(cli, data, files):
    args = ["drift", "concept", "--source", str(files.logs), "--labels", str(files.labels), "--baseline",
            data.arg(BASELINE), "--current", data.arg(CURRENT), "--model", "planted", "-o", "json"]
    assert cli(*args).exit_code == 1
    assert cli(*args, "--exit-zero").exit_code == 0
    assert cli(*args, "--fail-on", "high").exit_code == 1  # the planted drop is high severity
    assert cli(*args, "--min-labels", "1000").exit_code == 3  # no window has 1000 labels: verdict unknown
