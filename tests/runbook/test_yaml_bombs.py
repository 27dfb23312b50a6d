"""Issue 12 §5: a "billion laughs" YAML file is refused with one line wherever mlobs loads YAML, and one bad team
runbook never blocks the others."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mlobs_cli import yamlbounds
from mlobs_cli.runbook import paths


def bomb(levels: int = 9) -> str:
    """9 ** 10 (3.5e9) strings once expanded, in 1 KB."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nsteps: *a{levels}\n"


def test_a_bomb_in_the_team_dir_is_one_invalid_entry_and_the_others_still_work(cli, tmp_path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "lol.yaml").write_text("version: 1\nname: lol\ntitle: t\n" + bomb())
    shutil.copy(paths.shipped_dir() / "latency.yaml", team / "latency.yaml")
    config = tmp_path / "mlobs.yaml"
    config.write_text(f"runbook:\n  dir: {team}\n")
    out = cli.json("--config", config, "runbook", "list")
    by_name = {r["name"]: r for r in out["runbooks"]}
    assert "YAML bomb" in by_name["lol"]["error"] and by_name["latency"]["error"] is None
    assert by_name["latency"]["origin"] == str(team)


def test_a_bomb_as_the_config_file_is_one_line_exit_2(cli, tmp_path):
    config = tmp_path / "mlobs.yaml"
    config.write_text(bomb())
    result = cli("--config", config, "config", "show")
    assert result.exit_code == 2 and "YAML bomb" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_bomb_as_a_rule_file_is_reported_as_unreadable(cli, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(bomb())
    result = cli("alerts", "validate", rules)
    assert result.exit_code == 2 and "YAML bomb" in result.stdout + result.stderr


@pytest.mark.parametrize(("text", "refused"), [
    pytest.param(bomb(), "YAML bomb", id="billion laughs"),
    pytest.param("a: &a [1, *a]\n", "contains itself", id="recursive alias"),
    pytest.param(bomb(levels=4), None, id="9**5 values: under the bound, loaded"),
    pytest.param("base: &b {x: 1}\nuse: [*b, *b]\n", None, id="ordinary anchors"),
])
def test_the_bound(text, refused):
    if refused:
        with pytest.raises(yamlbounds.YamlBoundError, match=refused):
            yamlbounds.safe_load(text)
    else:
        assert yamlbounds.safe_load(text) == yaml.safe_load(text)


def test_the_count_is_the_expanded_size_exactly(monkeypatch):
    """a0 is 1 + 9 nodes; each level 1 + 9 copies of the one below: the bound is hit at exactly that count."""
    sizes = [10]
    for _ in range(3):
        sizes.append(1 + 9 * sizes[-1])
    # the document: a mapping of 5 keys (a0..a3, steps) whose values are a0..a3 and steps (= a3)
    total = 1 + 5 + sum(sizes) + sizes[-1]
    monkeypatch.setattr(yamlbounds, "MAX_EXPANDED", total)
    yamlbounds.safe_load(bomb(levels=3))
    monkeypatch.setattr(yamlbounds, "MAX_EXPANDED", total - 1)
    with pytest.raises(yamlbounds.YamlBoundError):
        yamlbounds.safe_load(bomb(levels=3))
