"""Issue 12 §5: a recording is a file anyone may edit. Whatever its shape, `gpu status --replay` answers with one
line and exit 2 (or judges what it can), never an internal error, and never hangs on a huge GPU count."""

from __future__ import annotations

import copy
import json
import random

import pytest
from gpu_scenarios import FIXTURES

FILES = sorted(FIXTURES.glob("nvml-*.json"))


def _run(cli, tmp_path, data, name="rec.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    result = cli("gpu", "status", "--replay", path, "-o", "json")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.exit_code in (0, 1, 2, 3)
    return result


def test_a_recording_claiming_a_billion_gpus_is_refused(cli, tmp_path):
    data = json.loads(FILES[0].read_text(encoding="utf-8"))
    data["system"]["device_count"] = {"ok": 10**9}
    result = _run(cli, tmp_path, data)
    assert result.exit_code == 2 and "at most 64" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", [[1, 2], None, "١٢", "x", {"a": 1}, float("inf"), -1e308, 10**30, True])
def test_every_device_answer_of_the_wrong_shape_is_one_line(cli, tmp_path, value):
    data = json.loads(FILES[0].read_text(encoding="utf-8"))
    data["devices"][0] = {key: {"ok": value} for key in data["devices"][0]}
    result = _run(cli, tmp_path, data)
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_answer_with_neither_ok_nor_code_is_one_line(cli, tmp_path):
    data = json.loads(FILES[0].read_text(encoding="utf-8"))
    data["devices"][0] = {key: {"error": "x"} for key in data["devices"][0]}
    result = _run(cli, tmp_path, data)
    assert result.exit_code == 2 and "malformed NVML recording" in result.stderr


def _mutate(node, rng):
    """One random change deep in the structure: a value replaced by another type, a key dropped, a list emptied."""
    path = []
    while isinstance(node, (dict, list)) and node and rng.random() < 0.85:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if not path:
        return
    parent, key = path[-1]
    choice = rng.randrange(4)
    if choice == 0 and isinstance(parent, dict):
        del parent[key]
    elif choice == 1 and isinstance(parent, list):
        parent.clear()
    else:
        parent[key] = rng.choice([None, "NaN", float("inf"), -1, [], {}, "٣", 2**70, "\x1b[31mred"])


@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_recordings_never_make_an_internal_error(cli, tmp_path, seed):
    rng = random.Random(seed)
    original = json.loads(FILES[seed % len(FILES)].read_text(encoding="utf-8"))
    data = copy.deepcopy(original)
    for _ in range(rng.randint(1, 5)):
        _mutate(data, rng)
    result = _run(cli, tmp_path, data)
    assert "\x1b[31m" not in result.stdout + result.stderr
