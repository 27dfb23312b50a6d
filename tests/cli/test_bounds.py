"""Every numeric flag of every command has a lower and an upper bound, and a float flag refuses nan and inf:
`--bins 100000000000000000000` once took all memory, and a nan threshold turns its check off."""

from __future__ import annotations

import pytest
import typer
import typer.main
from typer.core import TyperGroup

from mlobs_cli.app import app


def _numeric_options() -> list[tuple[list[str], object]]:
    """(command words, option) for every int or float option of every command, walked as the CLI builds them."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    found = []
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        # a group's own options (`dashboard --refresh`, which draws without a subcommand) and each subcommand's
        subs = [([name], command)] + ([([name, sub], command.get_command(ctx, sub)) for sub in
                                       command.list_commands(ctx)] if isinstance(command, TyperGroup) else [])
        for words, leaf in subs:
            found += [(words, p) for p in leaf.params if p.type.name in ("integer", "int", "int range", "float",
                                                                             "float range")]
    return found


NUMERIC = _numeric_options()
IDS = [" ".join(words) + " " + p.opts[0] for words, p in NUMERIC]


def test_the_walk_finds_the_known_numeric_flags():
    assert {"drift compare --bins", "logs search --limit", "gpu status --watch", "dashboard --refresh"} <= set(IDS)


@pytest.mark.parametrize(("words", "param"), NUMERIC, ids=IDS)
def test_every_numeric_flag_has_both_bounds_in_its_help(cli, words, param):
    assert param.type.name.endswith("range"), f"{param.opts[0]} takes any number"
    assert param.type.min is not None and param.type.max is not None
    help_text = cli(*words, "--help").stdout
    assert f"{param.type.min}<=x<={param.type.max}" in help_text


@pytest.mark.parametrize(("words", "param"), NUMERIC, ids=IDS)
def test_a_number_above_the_bound_is_a_usage_error(cli, words, param):
    # the flag first: the command line is read in order, so its error comes before a missing argument's
    too_big = param.type.max * 10**18 + 1
    result = cli(*words, param.opts[0], str(int(too_big) if param.type.name.startswith("int") else too_big))
    assert result.exit_code == 2
    assert f"Invalid value for '{param.opts[0]}'" in result.stderr and "is not in the range" in result.stderr


FLOATS = [(w, p) for w, p in NUMERIC if p.type.name.startswith("float")]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
@pytest.mark.parametrize(("words", "param"), FLOATS, ids=[" ".join(w) + " " + p.opts[0] for w, p in FLOATS])
def test_a_float_flag_refuses_what_is_not_finite(cli, words, param, value):
    result = cli(*words, param.opts[0], value)
    assert result.exit_code == 2
    assert f"Invalid value for '{param.opts[0]}'" in result.stderr
    assert "Traceback" not in result.output


def test_below_the_bound_is_a_usage_error_too(cli):
    result = cli("drift", "compare", "a.csv", "b.csv", "--bins", "1")
    assert result.exit_code == 2 and "1 is not in the range 2<=x<=1000" in result.stderr
