"""Config contexts: named endpoints in the config file, chosen with --context (or `context:`), like kubectl's."""

from __future__ import annotations

import json

import pytest

from mlobs_cli import config as cfg
from mlobs_cli.errors import ConfigError

TOKEN = "ctx-t0ken-123"
PASSWORD = "hunter2"


def write_config(tmp_path, url, default=None):
    text = f"""
prometheus:
  url: http://unused.test:9090
  token: top-level-token
contexts:
  prod-eu:
    url: {url}
    token: {TOKEN}
    tenant: team-a
    timeout: 4
  staging:
    url: http://mlobs:{PASSWORD}@staging.test:9090
    alertmanager: http://am.staging.test:9093
"""
    if default:
        text += f"context: {default}\n"
    path = tmp_path / "mlobs.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_context_supplies_the_prometheus_keys(tmp_path):
    s = cfg.resolve({"context": "prod-eu"}, config=write_config(tmp_path, "http://prom.eu.test"), env={})
    assert (s["prometheus.url"], s["prometheus.token"], s["prometheus.tenant"], s["prometheus.timeout"]) == (
        "http://prom.eu.test", TOKEN, "team-a", 4.0)
    assert s.sources["prometheus.url"] == "context prod-eu"
    # the top-level token belongs to another server: never sent to this one
    staging = cfg.resolve({"context": "staging"}, config=write_config(tmp_path, "http://x.test"), env={})
    assert staging["prometheus.token"] is None and staging["alertmanager.url"] == "http://am.staging.test:9093"


def test_flag_and_env_still_win_over_the_context(tmp_path):
    s = cfg.resolve({"context": "prod-eu"}, config=write_config(tmp_path, "http://prom.eu.test"),
                    env={"MLOBS_PROMETHEUS_TIMEOUT": "9"})
    assert s["prometheus.timeout"] == 9.0 and s.sources["prometheus.timeout"] == "env"


def test_a_default_context_yields_to_a_url_given_for_the_run(tmp_path):
    path = write_config(tmp_path, "http://prom.eu.test", default="prod-eu")
    assert cfg.resolve({}, config=path, env={})["prometheus.url"] == "http://prom.eu.test"
    s = cfg.resolve({"prometheus.url": "http://other.test"}, config=path, env={})
    assert s["prometheus.url"] == "http://other.test" and s["prometheus.token"] != TOKEN


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param({"context": "nope"}, "context 'nope' not found; contexts: prod-eu, staging", id="unknown"),
        pytest.param({"context": "prod-eu", "prometheus.url": "http://x.test"}, "both name a server",
                     id="--context and --prometheus"),
    ],
)
def test_context_errors(tmp_path, flags, message):
    with pytest.raises(ConfigError, match=message):
        cfg.resolve(flags, config=write_config(tmp_path, "http://prom.eu.test"), env={})


def test_an_unknown_key_in_a_context(tmp_path):
    path = tmp_path / "mlobs.yaml"
    path.write_text("contexts:\n  a:\n    url: http://a.test\n    tokn: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="contexts.a: unknown key 'tokn'"):
        cfg.resolve({"context": "a"}, config=str(path), env={})


def test_the_command_uses_the_context(cli, tmp_path, scenario_prometheus, scenario):
    path = write_config(tmp_path, scenario_prometheus.url)
    report = cli.json("--config", path, "metrics", "query", "count(up)", "--context", "prod-eu", "--at",
                      int(scenario.end), expect=0)
    assert report["result"][0]["value"] == 11  # the scenario's replicas
    result = cli("--config", path, "metrics", "query", "up", "--context", "nope")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_config_show_masks_secrets_of_contexts(cli, tmp_path):
    path = write_config(tmp_path, "http://prom.eu.test")
    for fmt in ("json", "table"):
        result = cli("--config", path, "config", "show", "-o", fmt)
        assert result.exit_code == 0
        assert TOKEN not in result.stdout and PASSWORD not in result.stdout
    shown = {s["key"]: s for s in json.loads(cli("--config", path, "config", "show", "-o", "json").stdout)["settings"]}
    assert shown["contexts"]["value"] == ("prod-eu: url=http://prom.eu.test, token=****, tenant=team-a, timeout=4; "
                                          "staging: url=http://****@staging.test:9090, "
                                          "alertmanager=http://am.staging.test:9093")
