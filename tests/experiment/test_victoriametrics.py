"""`experiment status` on VictoriaMetrics, imported from the same OpenMetrics text as the Prometheus of the
planted experiments: the same counts (to what each server's `increase` takes from the window's edges), the same
verdicts and exit codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.experiment.conftest import WINDOW_STEPS, Server, openmetrics

from tests.conftest import imported_victoriametrics

# Prometheus extrapolates an increase to the window's edges and VictoriaMetrics takes the sample before the window
# instead: over 240 steps of 15 s the two could differ by one step's worth (on these evenly sampled counters they
# agree, but for rounding: a counter growing 2.55 a step is counted to the nearest whole sample, either way).
COUNT_TOL = 1 / WINDOW_STEPS + 1e-9
CASES = [("srm", 1, ("--split", "95/5")), ("winner", 0, ()), ("loser", 1, ()), ("underpowered", 0, ()),
         ("three-arms", 0, ())]


@pytest.fixture(scope="module")
def victoriametrics(experiments_prometheus: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with imported_victoriametrics(tmp_path_factory.mktemp("experiments-vm"),
                                  openmetrics(experiments_prometheus.end)) as url:
        yield Server(url, experiments_prometheus.end)


def status(cli, server: Server, experiment: str, args: tuple[str, ...], expect: int) -> dict:
    return cli.json("experiment", "status", experiment, "--prometheus", server.url, "--at", str(server.end),
                    "--since", "1h", *args, expect=expect)


@pytest.mark.parametrize(("experiment", "code", "args"), CASES)
def test_same_numbers_as_prometheus(cli, experiments_prometheus, victoriametrics, experiment, code, args):
    on_prom = status(cli, experiments_prometheus, experiment, args, code)
    on_vm = status(cli, victoriametrics, experiment, args, code)
    assert on_vm["verdict"] == on_prom["verdict"] and on_vm["control"] == on_prom["control"]
    prom = {v["name"]: v for v in on_prom["variants"]}
    vm = {v["name"]: v for v in on_vm["variants"]}
    assert vm.keys() == prom.keys()
    for name, want in prom.items():
        for key in ("samples", "conversions"):
            assert vm[name][key] == pytest.approx(want[key], rel=COUNT_TOL, abs=1), (name, key)
    # the same tests on those counts: the same treatments, the same significance, and every look of the
    # always-valid p-value at the same time with the same counts (to one: fractional counters round either way)
    assert [(c["treatment"], c["significant"]) for c in on_vm["comparisons"]] == \
        [(c["treatment"], c["significant"]) for c in on_prom["comparisons"]]
    assert [look["at"] for look in on_vm["looks"]] == [look["at"] for look in on_prom["looks"]]
    for got, want in zip(on_vm["looks"], on_prom["looks"]):
        for name, counts in want["variants"].items():
            for key, n in counts.items():
                assert got["variants"][name][key] == pytest.approx(n, abs=1), (got["at"], name, key)
    assert on_vm["srm"]["mismatch"] == on_prom["srm"]["mismatch"]
