"""The verdict from counts, without a server: its order (SRM, guardrail, worse, better, keep running), the
guardrail rule, the split in its three forms, and the inputs no test can use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlobs_cli.errors import InputError
from mlobs_cli.experiment.analysis import analyse, parse_split
from mlobs_cli.experiment.results import VariantCounts as V

END = datetime(2025, 1, 9, tzinfo=UTC)
START = END - timedelta(days=1)


def verdict(*counts: V, **kw) -> tuple[str, list[str]]:
    r = analyse("e", counts, START, END, **kw)
    return r.verdict, [f.check for f in r.findings]


@pytest.mark.parametrize(("counts", "kw", "expected"), [
    pytest.param((V("c", 90_000, 4_500), V("t", 10_000, 700, p99_latency_s=0.5)), {"split": (95, 5)},
                 ("invalid", ["experiment/srm", "experiment/guardrail"]), id="SRM outranks a guardrail breach"),
    pytest.param((V("c", 50_000, 2_500, error_rate=0.0001), V("t", 50_000, 4_000, error_rate=0.01)), {},
                 ("roll_back", ["experiment/guardrail"]), id="a winner that breaks a guardrail is no win"),
    pytest.param((V("c", 50_000, 2_500, p99_latency_s=0.2), V("t", 50_000, 4_000, p99_latency_s=0.15)), {},
                 ("promote", []), id="over 100 ms but better than control is not a breach"),
    pytest.param((V("c", 50_000, 2_500), V("t", 50_000, 1_500)), {}, ("roll_back", ["experiment/worse"]),
                 id="significantly worse"),
    pytest.param((V("c", 50_000, 2_500), V("t", 50_000, 2_510)), {}, ("keep_running", []), id="no difference"),
    pytest.param((V("c", 50_000, 2_500), V("t", 50_000, 2_500)), {}, ("keep_running", []), id="identical rates"),
])
def test_verdict_order(counts: tuple[V, ...], kw: dict, expected: tuple[str, list[str]]) -> None:
    assert verdict(*counts, **kw) == expected


def test_identical_rates_need_no_sample_size() -> None:
    r = analyse("e", (V("c", 50_000, 2_500), V("t", 50_000, 2_500)), START, END)
    assert r.comparisons[0].days_left is None and "try --mde" in r.reason


def test_enough_samples_but_no_effect() -> None:
    # +0.04 points at 5M a side: past the fixed-horizon sample size (about 4.7M) and significant on the z-test,
    # not on the always-valid p-value, which the decision uses
    r = analyse("e", (V("c", 5_000_000, 250_000), V("t", 5_000_000, 252_000)), START, END)
    c = r.comparisons[0]
    assert r.verdict == "keep_running" and c.days_left == 0 and c.p_value < 0.05 < c.p_value_always_valid
    assert "fixed-horizon sample size is reached" in r.reason


@pytest.mark.parametrize(("text", "parsed"), [
    pytest.param("95/5", (95.0, 5.0), id="positional"),
    pytest.param("c=90,t=10", (("c", 90.0), ("t", 10.0)), id="by name"),
    pytest.param("33.4/33.3/33.3", (33.4, 33.3, 33.3), id="three arms"),
])
def test_parse_split(text: str, parsed: tuple) -> None:
    assert parse_split(text) == parsed


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("95/4", "sum to 99"), pytest.param("100", "sum to 100, not 100"),
    pytest.param("95/x", "not a percentage"), pytest.param("105/-5", "above 0"),
])
def test_bad_split(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        parse_split(text)


def test_config_split_by_name_must_sum_to_100() -> None:
    with pytest.raises(InputError, match="experiments.e.split: the shares sum to 90"):
        analyse("e", (V("c", 95, 5), V("t", 5, 1)), START, END, split={"c": 80, "t": 10})


def test_config_split_must_name_the_variants() -> None:
    with pytest.raises(InputError, match="names c, x; the variants are c, t"):
        analyse("e", (V("c", 95, 5), V("t", 5, 1)), START, END, split={"c": 95, "x": 5})


def test_more_conversions_than_samples() -> None:
    with pytest.raises(InputError, match="more conversions than samples"):
        analyse("e", (V("c", 95, 5), V("t", 5, 6)), START, END)


def test_one_variant_is_no_test() -> None:
    with pytest.raises(InputError, match="1 variant"):
        analyse("e", (V("c", 95, 5),), START, END)


def test_tie_goes_to_the_variant_named_control() -> None:
    r = analyse("e", (V("zeta", 100, 5), V("control", 100, 5)), START, END)
    assert r.control.counts.name == "control"


def test_an_earlier_look_that_crossed_stays_crossed() -> None:
    # at the 2nd look the treatment was far ahead; by now the lift has faded: the always-valid p-value keeps the
    # earlier evidence (its running minimum), the fixed-horizon p-value does not
    from mlobs_cli.experiment import stats
    from mlobs_cli.experiment.results import Look

    looks = (Look(START + timedelta(hours=6), {"c": (10_000, 500), "t": (10_000, 560)}),
             Look(START + timedelta(hours=12), {"c": (20_000, 1_000), "t": (20_000, 1_400)}))
    now = (V("c", 40_000, 2_000), V("t", 40_000, 2_080))
    r = analyse("e", now, START, END, looks=looks)
    c = r.comparisons[0]
    assert c.p_value_always_valid == pytest.approx(stats.msprt_pvalue(1_000, 20_000, 1_400, 20_000), rel=1e-12)
    assert c.p_value_always_valid < stats.msprt_pvalue(2_000, 40_000, 2_080, 40_000)
    assert r.verdict == "promote"
    assert len(r.to_dict()["looks"]) == 2


def test_a_look_without_one_arm_is_skipped() -> None:
    from mlobs_cli.experiment.results import Look

    looks = (Look(START, {"c": (10_000, 500)}),)
    r = analyse("e", (V("c", 50_000, 2_500), V("t", 50_000, 2_510)), START, END, looks=looks)
    assert r.comparisons[0].p_value_always_valid == 1.0


def test_direction_is_the_strongest_looks() -> None:
    # significantly worse at the half-way look; since then the treatment has caught up, slightly ahead: the test
    # rejected "no difference" as "worse", and a peek now must not turn that into a win
    from mlobs_cli.experiment.results import Look

    looks = (Look(START + timedelta(hours=12), {"c": (20_000, 1_400), "t": (20_000, 1_000)}),)
    r = analyse("e", (V("c", 40_000, 2_400), V("t", 40_000, 2_410)), START, END, looks=looks)
    c = r.comparisons[0]
    assert c.z > 0 and c.direction == -1 and r.verdict == "roll_back"
