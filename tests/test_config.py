"""Settings precedence (flag > env > file > default), file discovery, validation and `config show`."""

from __future__ import annotations

import os

import pytest

from mlobs_cli import config as cfg
from mlobs_cli.errors import ConfigError


def test_precedence_flag_env_file_default(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("drift:\n  bins: 20\n  psi_alert: 0.15\n  ks_stat: 0.2\n")
    env = {"MLOBS_DRIFT_PSI_ALERT": "0.18", "MLOBS_DRIFT_KS_STAT": "0.3"}
    s = cfg.resolve({"drift.ks_stat": 0.4}, config=str(path), env=env)
    assert (s["drift.ks_stat"], s.sources["drift.ks_stat"]) == (0.4, "flag")
    assert (s["drift.psi_alert"], s.sources["drift.psi_alert"]) == (0.18, "env")
    assert (s["drift.bins"], s.sources["drift.bins"]) == (20, "file")
    assert (s["drift.psi_high"], s.sources["drift.psi_high"]) == (0.25, "default")
    assert s.drift.bins == 20 and s.drift.psi_alert == 0.18


def test_seed_defaults():
    d = cfg.resolve({}, config=os.devnull, env={}).drift
    assert (d.psi_watch, d.psi_alert, d.psi_high, d.ks_pvalue, d.ks_stat, d.psi_epsilon, d.bins) == (
        0.1, 0.2, 0.25, 0.01, 0.1, 0.0001, 10)


def test_discovery_order(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    (xdg / "mlobs").mkdir(parents=True)
    (xdg / "mlobs" / "config.yaml").write_text("drift: {bins: 7}\n")
    monkeypatch.chdir(tmp_path)
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert cfg.resolve({}, env=env)["drift.bins"] == 7
    (tmp_path / "mlobs.yaml").write_text("drift: {bins: 8}\n")
    assert cfg.resolve({}, env=env)["drift.bins"] == 8
    (tmp_path / "other.yaml").write_text("drift: {bins: 9}\n")
    assert cfg.resolve({}, env={**env, "MLOBS_CONFIG": "other.yaml"})["drift.bins"] == 9
    assert cfg.resolve({}, env={**env, "MLOBS_CONFIG": os.devnull})["drift.bins"] == 10


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        pytest.param("drift: {psi_alrt: 0.3}\n", {}, "unknown key 'drift.psi_alrt'", id="typo in a key"),
        pytest.param("drift: {bins: ten}\n", {}, "expected int", id="wrong type"),
        pytest.param("drift: {bins: 2.5}\n", {}, "expected int", id="fraction for an int"),
        pytest.param("drift: {psi_alert: -1}\n", {}, "below the minimum", id="negative threshold"),
        pytest.param("output: yaml\n", {}, "not one of", id="unknown output"),
        pytest.param("drift: [1, 2\n", {}, "invalid YAML", id="broken yaml"),
        pytest.param("- a\n", {}, "mapping", id="not a mapping"),
        pytest.param("", {"MLOBS_DRIFT_BINS": "x"}, "MLOBS_DRIFT_BINS", id="bad env value names the variable"),
        pytest.param("drift: {psi_watch: 0.3}\n", {}, "psi_watch <= psi_alert", id="inconsistent thresholds"),
        pytest.param("gpu: {memory_high: .nan}\n", {}, "gpu.memory_high from .*: nan is not a finite number",
                     id="nan in the file"),
        pytest.param("drift: {psi_alert: .inf}\n", {}, "drift.psi_alert from .*: inf is not a finite number",
                     id="inf in the file"),
        pytest.param("", {"MLOBS_GPU_UTILIZATION_HIGH": "NaN"}, "gpu.utilization_high from MLOBS_GPU_UTILIZATION_HIGH",
                     id="nan in the environment"),
        pytest.param("", {"MLOBS_RUNBOOK_SLO_MS": "-inf"}, "runbook.slo_ms from MLOBS_RUNBOOK_SLO_MS: -inf is not a "
                     "finite", id="-inf in the environment"),
        pytest.param("", {"MLOBS_PROMETHEUS_TIMEOUT": "1e999"}, "not a finite number", id="overflow to inf"),
        pytest.param("drift: {bins: 1.0e+20}\n", {}, "drift.bins from .*above the maximum 1000", id="huge bins"),
        pytest.param("", {"MLOBS_DRIFT_BINS": "1" + "0" * 400}, "above the maximum", id="bins past float range"),
        pytest.param("gpu: {memory_high: 150}\n", {}, "above the maximum 100", id="a percentage over 100"),
        pytest.param("contexts: {eu: {url: 'http://p:9090', timeout: .nan}}\ncontext: eu\n", {},
                     "prometheus.timeout from contexts.eu.timeout: nan", id="nan in a context"),
    ],
)
def test_invalid_configuration(tmp_path, text, env, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        cfg.resolve({}, config=str(path), env=env)


def test_explicit_config_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        cfg.resolve({}, config=str(tmp_path / "nope.yaml"), env={})
    with pytest.raises(ConfigError, match="config file not found"):
        cfg.resolve({}, env={"MLOBS_CONFIG": str(tmp_path / "nope.yaml")})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("https://user:hunter2@push.example:9091/x", "https://****@push.example:9091/x", id="password"),
        pytest.param("https://tok@push.example", "https://****@push.example", id="token as user"),
        pytest.param("http://127.0.0.1:9091", "http://127.0.0.1:9091", id="no secret"),
        pytest.param("hunter2", "****", id="not a url"),
        pytest.param("http://user:pw@[::1", "****", id="unparsable url"),
    ],
)
def test_mask_secret(url, shown):
    assert cfg.mask_secret(url) == shown


def test_config_show_lists_sources_and_masks_secrets(cli, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("pushgateway:\n  url: https://ops:hunter2@push.example:9091\ndrift:\n  bins: 12\n")
    result = cli("config", "show", "--config", path, "-o", "json", env={"MLOBS_DRIFT_PSI_ALERT": "0.22"})
    assert result.exit_code == 0, result.stderr
    assert "hunter2" not in result.stdout
    import json

    rows = {r["key"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["pushgateway.url"]["value"] == "https://****@push.example:9091"
    assert (rows["drift.bins"]["value"], rows["drift.bins"]["source"]) == (12, "file")
    assert (rows["drift.psi_alert"]["value"], rows["drift.psi_alert"]["source"]) == (0.22, "env")
    assert rows["output"]["source"] == "flag"
    table = cli("config", "show", "--config", path)
    assert "hunter2" not in table.stdout and "MLOBS_DRIFT_PSI_ALERT" in table.stdout


def test_bad_config_exits_2_in_one_line(cli, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("drift: {psi_alrt: 0.3}\n")
    result = cli("drift", "compare", "examples/weather-2012.csv", "examples/weather-2015.csv", "--config", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "unknown key 'drift.psi_alrt'" in result.stderr


def test_a_nan_threshold_is_refused_before_any_work(cli):
    # a nan memory threshold would never fire: the loaded GPU's alert would be silently off
    result = cli("gpu", "status", "--replay", "tests/gpu/fixtures/nvml-load.json", env={"MLOBS_GPU_MEMORY_HIGH": "nan"})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "gpu.memory_high from MLOBS_GPU_MEMORY_HIGH" in result.stderr


def test_every_numeric_key_has_an_upper_bound_or_is_a_threshold():
    # the bound of a count (bins, categories, milliseconds) keeps a huge value from reaching the work; PSI
    # thresholds have no natural maximum and stay open above, finite only
    open_above = {k for k, key in cfg.KEYS.items() if key.type in (int, float) and key.maximum is None}
    assert open_above == {"drift.psi_watch", "drift.psi_alert", "drift.psi_high", "concept.class_psi",
                          "concept.prediction_psi"}


def test_mapping_and_list_keys_are_kept_whole(tmp_path, monkeypatch):
    keys = dict(cfg.KEYS)
    keys["x.models"] = cfg.Key("x.models", dict, {}, "a mapping")
    keys["x.llms"] = cfg.Key("x.llms", list, [], "a list")
    monkeypatch.setattr(cfg, "KEYS", keys)
    path = tmp_path / "c.yaml"
    path.write_text("x:\n  models:\n    llm-7b: {pattern: vllm}\n  llms: [llm-7b]\n")
    s = cfg.resolve({}, config=str(path), env={"MLOBS_X_LLMS": '["a", "b"]'})
    assert s["x.models"] == {"llm-7b": {"pattern": "vllm"}}
    assert (s["x.llms"], s.sources["x.llms"]) == (["a", "b"], "env")
    with pytest.raises(ConfigError, match="x.llms from MLOBS_X_LLMS: expected a list"):
        cfg.resolve({}, config=str(path), env={"MLOBS_X_LLMS": "{a: 1}"})
    with pytest.raises(ConfigError, match="x.models from MLOBS_X_MODELS: not valid YAML"):
        cfg.resolve({}, config=str(path), env={"MLOBS_X_MODELS": "{a: [}"})


def test_log_sampling_rates_are_in_zero_to_one_and_read_from_the_design_layout(tmp_path):
    # the design's prediction_logs.sampling block, under log:, as a fleet's config would copy it
    path = tmp_path / "c.yaml"
    path.write_text("log:\n  sampling:\n    default_rate: 0.1\n    error_rate: 1.0\n    low_confidence_rate: 1.0\n"
                    "    low_confidence_threshold: 0.6\n")
    s = cfg.resolve({}, config=str(path), env={})
    assert [s[f"log.sampling.{k}"] for k in ("default_rate", "error_rate", "low_confidence_rate",
                                             "low_confidence_threshold")] == [0.1, 1.0, 1.0, 0.6]
    # a keep rate of 0 would weigh its rows infinitely: the minimum itself is refused
    with pytest.raises(ConfigError, match=r"log.sampling.error_rate from MLOBS_LOG_SAMPLING_ERROR_RATE: 0.0 must "
                                          r"be above 0"):
        cfg.resolve({}, env={"MLOBS_LOG_SAMPLING_ERROR_RATE": "0"})
    with pytest.raises(ConfigError, match="above the maximum 1"):
        cfg.resolve({}, env={"MLOBS_LOG_SAMPLING_DEFAULT_RATE": "1.01"})
    assert cfg.resolve({}, env={"MLOBS_LOG_SAMPLING_LOW_CONFIDENCE_THRESHOLD": "0"})[
        "log.sampling.low_confidence_threshold"] == 0.0  # a threshold may be 0: nothing is under it
