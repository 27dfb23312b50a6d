"""Issue 12 §5: Ctrl-C exits 130, also when it lands inside DuckDB (which reports it as "Query interrupted")."""

from __future__ import annotations

import threading

import duckdb
import pytest

from mlobs_cli.backends import samples
from mlobs_cli.errors import InputError, interrupted


def test_a_real_duckdb_interrupt_is_recognised_through_the_wrapping():
    con = duckdb.connect()
    caught: list[BaseException] = []

    def work():
        try:
            con.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3").fetchall()
        except duckdb.Error as e:
            caught.append(e)

    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():  # interrupt until it lands (the query may not have begun at the first call)
        con.interrupt()
        worker.join(0.05)
    assert caught and isinstance(caught[0], duckdb.InterruptException)
    try:
        raise InputError(f"current: {caught[0]}") from caught[0]
    except InputError as wrapped:
        assert interrupted(wrapped)
    assert not interrupted(InputError("a real input error"))


@pytest.mark.parametrize("raised", [
    pytest.param(lambda: InputError("current: INTERRUPT Error: Interrupted!"), id="duckdb"),
    pytest.param(lambda: KeyboardInterrupt(), id="KeyboardInterrupt"),
])
def test_ctrl_c_during_a_compare_exits_130(cli, sample, monkeypatch, raised):
    import numpy as np

    ref = sample("ref.csv", {"x": np.arange(100.0)})
    cur = sample("cur.csv", {"x": np.arange(100.0)})

    def columns(self, numbers_as_text):
        error = raised()
        if isinstance(error, InputError):
            raise error from duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        raise error

    monkeypatch.setattr(samples.Sample, "_columns", columns)
    result = cli("drift", "compare", ref, cur)
    assert result.exit_code == 130 and result.stderr.strip() == "mlobs: error: interrupted"
