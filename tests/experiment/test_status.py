"""`mlobs experiment status` on a real Prometheus over the planted experiments (conftest.py): each gives its
verdict and exit code, and every number in -o json is checked against statsmodels/scipy on its own input counts."""

from __future__ import annotations

import math

import pytest
from tests.experiment.conftest import EXPERIMENTS, WINDOW_STEPS
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

# An increase over 1 h of samples every 15 s: exact, or extrapolated by at most one step (15/3600) where the
# server leaves the range's first sample out.
COUNT_TOL = 1 / WINDOW_STEPS + 1e-9


def status(cli, server, experiment: str, *args: str, expect: int) -> dict:
    return cli.json("experiment", "status", experiment, "--prometheus", server.url, "--at", str(server.end),
                    "--since", "1h", *args, expect=expect)


def test_planted_srm_is_invalid(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "srm", "--split", "95/5", expect=1)
    assert out["verdict"] == "invalid"
    assert out["srm"]["mismatch"] is True
    samples = [v["samples"] for v in out["variants"]]
    ref = sps.chisquare(samples, f_exp=[sum(samples) * 0.95, sum(samples) * 0.05])
    assert out["srm"]["chi2"] == pytest.approx(ref.statistic, rel=1e-9)
    assert [f["check"] for f in out["findings"]][0] == "experiment/srm"


def test_srm_table_says_so_first(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    result = cli("experiment", "status", "srm", "--prometheus", s.url, "--at", str(s.end), "--since", "1h",
                 "--split", "control=95,treatment=5", env={"NO_COLOR": "1", "COLUMNS": "120"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith("SAMPLE-RATIO MISMATCH")
    assert lines[-1].startswith("Verdict: INVALID")


def test_guardrail_breach_rolls_back(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "guardrail", "--split", "95/5", expect=1)
    assert out["verdict"] == "roll_back"
    assert out["srm"]["mismatch"] is False
    canary = out["variants"][1]
    assert canary["name"] == "v2.2.0" and canary["guardrail_source"] == "prometheus"
    # half of the canary's requests under 50 ms, 90% under 100 ms, all under 250 ms: histogram_quantile
    # interpolates the 0.99 quantile in (0.1, 0.25] at 0.1 + 0.15 * (0.99 - 0.9) / 0.1
    assert canary["p99_latency_seconds"] == pytest.approx(0.1 + 0.15 * 0.9, rel=1e-9)
    assert out["variants"][0]["p99_latency_seconds"] < 0.1
    assert out["comparisons"][0]["guardrail_breaches"][0].startswith("p99 latency 235 ms")
    assert canary["error_rate"] == pytest.approx(0.0002, rel=1e-6)


def test_clear_winner_promotes_through_a_counter_reset(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "winner", expect=0)
    assert out["verdict"] == "promote"
    control, treatment = out["variants"]
    arms = EXPERIMENTS["winner"].arms
    for v in out["variants"]:  # the reset is inside the window: increase counts across it
        assert v["samples"] == pytest.approx(arms[v["name"]].samples * WINDOW_STEPS, rel=COUNT_TOL)
        assert v["conversions"] == pytest.approx(arms[v["name"]].conversions * WINDOW_STEPS, rel=COUNT_TOL)
    assert treatment["revenue_per_sample"] == pytest.approx(80 / 500, rel=COUNT_TOL)
    c = out["comparisons"][0]
    z, p = proportions_ztest([treatment["conversions"], control["conversions"]],
                             [treatment["samples"], control["samples"]])
    assert c["z"] == pytest.approx(z, rel=1e-9) and c["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
    rate_c, rate_t = control["conversion_rate"], treatment["conversion_rate"]
    assert c["relative_lift"] == pytest.approx((rate_t - rate_c) / rate_c, rel=1e-12)
    assert c["p_value_always_valid"] < 0.05 and out["decision_uses"] == "p_value_always_valid"


def test_clear_loser_rolls_back(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "loser", expect=1)
    assert out["verdict"] == "roll_back"
    assert out["comparisons"][0]["relative_lift"] == pytest.approx(-0.3, rel=1e-6)
    assert [f["check"] for f in out["findings"]] == ["experiment/worse"]


def test_underpowered_keeps_running_with_days_left(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "underpowered", "--split", "95/5", expect=0)
    assert out["verdict"] == "keep_running"
    control, treatment = out["variants"]
    c = out["comparisons"][0]
    # the formula by hand at the observed rates and allocation, alpha 0.05 two-sided, power 0.8
    p_c, p_t = control["conversion_rate"], treatment["conversion_rate"]
    k = control["samples"] / treatment["samples"]
    p = (k * p_c + p_t) / (k + 1)
    n_t = (1.959963984540054 * math.sqrt(p * (1 - p) * (1 + 1 / k))
           + 0.8416212335729143 * math.sqrt(p_c * (1 - p_c) / k + p_t * (1 - p_t))) ** 2 / (p_c - p_t) ** 2
    assert c["samples_needed"]["treatment"] == pytest.approx(n_t, rel=1e-9)
    assert c["samples_needed"]["control"] == pytest.approx(k * n_t, rel=1e-9)
    # at the current rate the treatment gets treatment["samples"] an hour: the days left follow
    assert c["days_left"] == pytest.approx((n_t / treatment["samples"] - 1) / 24, rel=1e-9)
    assert c["days_left"] > 1 and f"{c['days_left']:.1f} days" in out["reason"]


def test_mde_sizes_for_the_given_lift(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "underpowered", "--mde", "0.5", expect=0)
    assert out["mde"] == 0.5
    assert out["comparisons"][0]["samples_needed"]["treatment"] < 20_000


def test_three_arms_bonferroni(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "three-arms", expect=0)
    assert [c["alpha"] for c in out["comparisons"]] == [0.025, 0.025]
    assert out["multiple_comparisons"] == "bonferroni"
    assert out["verdict"] == "promote" and out["reason"].startswith("b ")


def test_bare_catalogue_names(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "bare-names", expect=0)
    assert out["variants"][0]["samples"] == pytest.approx(500 * WINDOW_STEPS, rel=COUNT_TOL)


def test_control_flag_overrides_traffic(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "winner", "--control", "treatment", expect=1)
    assert out["control"] == "treatment" and out["verdict"] == "roll_back"


@pytest.mark.parametrize(("experiment", "args", "message"), [
    pytest.param("nope", (), "no experiment 'nope'", id="unknown experiment lists the known"),
    pytest.param("stalled", (), "variant treatment has no samples", id="variant with zero samples"),
    pytest.param("no-conversions", (), "no conversions in any variant", id="zero conversions in both arms"),
    pytest.param("winner", ("--split", "90/5"), "sum to 95, not 100", id="split not summing to 100"),
    pytest.param("winner", ("--split", "50/30/20"), "has 3 shares", id="split with another number of arms"),
    pytest.param("winner", ("--control", "ghost"), "no variant 'ghost'", id="unknown control"),
    pytest.param("winner", ("--split", "a/b"), "not a percentage", id="split not numbers"),
])
def test_bad_input_is_one_line_exit_2(cli, experiments_prometheus, experiment: str, args: tuple[str, ...],
                                      message: str) -> None:
    s = experiments_prometheus
    result = cli("experiment", "status", experiment, "--prometheus", s.url, "--at", str(s.end), "--since", "1h",
                 *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unknown_experiment_names_the_known(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    result = cli("experiment", "status", "nope", "--prometheus", s.url, "--at", str(s.end), "--since", "1h")
    assert result.stderr.rstrip().endswith("experiments: " + ", ".join(sorted(EXPERIMENTS)))


def test_unreachable_prometheus_is_exit_3(cli, closed_port: int) -> None:
    result = cli("experiment", "status", "winner", "--prometheus", f"http://127.0.0.1:{closed_port}")
    assert result.exit_code == 3 and "Traceback" not in result.stderr


def test_split_and_control_from_the_config_file(cli, experiments_prometheus, tmp_path) -> None:
    path = tmp_path / "mlobs.yaml"
    path.write_text("experiments:\n  srm:\n    control: treatment\n    split: {control: 95, treatment: 5}\n")
    out = status(cli, experiments_prometheus, "srm", "--config", str(path), expect=1)
    assert out["control"] == "treatment" and out["srm"]["expected_split"] == [0.05, 0.95]
    assert out["verdict"] == "invalid"


@pytest.mark.parametrize("entry", [
    pytest.param("srm: 95/5", id="not a mapping"),
    pytest.param("srm: {split: [95, 5]}", id="split a list"),
    pytest.param("srm: {split: {control: 95, treatment: 5}, controll: x}", id="unknown key"),
])
def test_bad_config_entry_is_exit_2(cli, experiments_prometheus, tmp_path, entry: str) -> None:
    path = tmp_path / "mlobs.yaml"
    path.write_text(f"experiments:\n  {entry}\n")
    s = experiments_prometheus
    result = cli("experiment", "status", "srm", "--prometheus", s.url, "--at", str(s.end), "--config", str(path))
    assert result.exit_code == 2 and result.stderr.startswith("mlobs: error: experiments.srm")


def test_csv_and_markdown(cli, experiments_prometheus) -> None:
    s = experiments_prometheus
    args = ("experiment", "status", "winner", "--prometheus", s.url, "--at", str(s.end), "--since", "1h")
    rows = cli(*args, "-o", "csv").stdout.splitlines()
    assert rows[0].startswith("variant,role,samples") and len(rows) == 3
    assert "np." not in rows[2]  # numbers as numbers, not numpy reprs
    md = cli(*args, "-o", "markdown").stdout
    assert md.startswith("**Experiment winner**") and "**Verdict: PROMOTE**" in md


def test_no_failed_request_is_a_zero_error_rate(cli, experiments_prometheus) -> None:
    out = status(cli, experiments_prometheus, "clean-canary", expect=0)
    assert [v["error_rate"] for v in out["variants"]] == [0.0, 0.0]
    assert all(v["guardrail_source"] == "prometheus" for v in out["variants"])


def test_always_valid_p_is_the_minimum_over_the_hourly_grid(cli, experiments_prometheus) -> None:
    from test_experiment_stats import johari_msprt

    out = status(cli, experiments_prometheus, "faded", expect=0)
    looks = out["looks"]
    assert len(looks) == 23  # 24 looks, the last one being --at itself
    assert looks[-1]["variants"]["control"]["samples"] == pytest.approx(500 * 230, rel=COUNT_TOL)  # 23/24 h
    per_look = [(look["variants"]["control"], look["variants"]["treatment"]) for look in looks]
    per_look.append(tuple({"samples": v["samples"], "conversions": v["conversions"]} for v in out["variants"]))
    assert all(c["samples"] == t["samples"] for c, t in per_look)  # equal arms: the paper's form applies
    p_each = [johari_msprt(c["conversions"], t["conversions"], c["samples"], 1e-4) for c, t in per_look]
    c = out["comparisons"][0]
    assert c["p_value_always_valid"] == pytest.approx(min(p_each), rel=1e-9)
    # the evidence peaked half-way (look 12 of 24): the running minimum is there, far below the last look's
    assert p_each.index(min(p_each)) == 11 and min(p_each) < p_each[-1] * 1e-6 and 0 < min(p_each)
    assert out["verdict"] == "promote"
