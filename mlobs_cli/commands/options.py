"""Options every command takes, before or after the subcommand (`mlobs -o json drift compare` or
`mlobs drift compare a b -o json`), and the step that turns them into Settings; the options every command that
reads Prometheus takes (`--prometheus`, `--context`, `--insecure`, `--at`), and the last step those share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from mlobs_cli import config as cfg
from mlobs_cli import render
from mlobs_cli.errors import ConfigError, InputError
from mlobs_cli.timeparse import TIME_HELP, parse_time


class OutputFormat(str, Enum):
    """The formats every command writes."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class LintFormat(str, Enum):
    """`alerts validate` also writes the formats CI systems read. A command's own -o lists only what it writes;
    the -o before the subcommand takes every format, and `settings()` refuses one the command does not write."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    github = "github"
    sarif = "sarif"
    junit = "junit"


BASIC_FORMATS = tuple(f.value for f in OutputFormat)
LINT_FORMATS = tuple(f.value for f in LintFormat)

OutputOpt = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Output format [env: MLOBS_OUTPUT] [default: table]", show_default=False),
]
LintOutputOpt = Annotated[
    LintFormat | None,
    typer.Option("--output", "-o", help="Output format; github: workflow commands (annotations), sarif: SARIF "
                 "2.1.0, junit: JUnit XML [env: MLOBS_OUTPUT] [default: table]", show_default=False),
]
AnyOutputOpt = Annotated[
    LintFormat | None,
    typer.Option("--output", "-o", help="Output format; github, sarif and junit only for `alerts validate` "
                 "[env: MLOBS_OUTPUT] [default: table]", show_default=False),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="Config file [env: MLOBS_CONFIG] [default: ./mlobs.yaml, then "
                 "$XDG_CONFIG_HOME/mlobs/config.yaml]", show_default=False),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


@dataclass
class AppState:
    """The options given before the subcommand; those after it win."""

    output: LintFormat | None = None
    config: str | None = None
    debug: bool = False


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = AppState()
    return root.obj


def split_list(values: list[str] | None) -> tuple[str, ...]:
    """`--features a,b --features c` -> ("a", "b", "c")."""
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


# -- numbers: every numeric flag has both bounds -------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    # typer's float range takes nan (every comparison with it is false), which would turn a threshold off
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number.")
    return value


def within(low: float, high: float) -> dict[str, Any]:
    """Keyword arguments of typer.Option for a number from `low` to `high` (both included), shown in --help as
    `low<=x<=high`. Every numeric flag has both bounds: a number like `--bins 10**20` would otherwise reach the
    work and take all memory. A float must also be finite."""
    return {"min": low, "max": high, "callback": _finite}


def key_bounds(name: str) -> dict[str, Any]:
    """`within` for the flag of config key `name`: the key's own bounds, so a flag and the file agree."""
    key = cfg.KEYS[name]
    return within(key.type(key.minimum), key.type(key.maximum))


# The URL flags of servers that take credentials, which come from the environment or the config file only: a
# command line is visible to every user of the machine (ps).
URL_FLAGS = {"prometheus.url": "--prometheus", "alertmanager.url": "--alertmanager", "pushgateway.url": "--pushgateway"}
URL_CREDENTIALS = {"prometheus.url": ", or the user and password in MLOBS_PROMETHEUS_USERNAME and "
                   "MLOBS_PROMETHEUS_PASSWORD"}


def _has_credentials(url: str) -> bool:
    """Whether `url` has a user or password (`user:password@host`): an @ elsewhere is not one."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL: the backend says so, without showing it
        return False
    return parts.username is not None or parts.password is not None


def _has_password(url: Any) -> bool:
    """Whether a log source URL carries a password: `user:password@` or a `password=` query parameter."""
    if not isinstance(url, str) or "://" not in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.password is not None or any(p.partition("=")[0].lower() in ("password", "sslpassword")
                                             for p in parts.query.split("&"))


def refuse_log_password(flag: str, url: Any) -> None:
    """ConfigError when a log source given on the command line (`flag`) carries a password."""
    if _has_password(url):
        raise ConfigError(f"{flag}: a password in a PostgreSQL URL on the command line is visible to every user "
                          "of the machine (ps); give it in MLOBS_LOG_PASSWORD, PGPASSWORD or ~/.pgpass, or the "
                          "whole URL as `log.source` / `log.sources` in the config file")


def settings(ctx: typer.Context, *, output: OutputFormat | LintFormat | None, config: str | None, debug: bool,
             formats: tuple[str, ...] | None = BASIC_FORMATS, **flags: Any) -> cfg.Settings:
    """Settings for this run. `flags` maps config keys (`drift.bins`) to flag values, None when not given.

    `formats` are the output formats the command writes (None: it ignores -o); any other, from -o before the
    subcommand, MLOBS_OUTPUT or the config file, is an InputError.
    """
    app = state(ctx)
    app.debug = app.debug or debug
    chosen = output or app.output
    resolved = cfg.resolve({"output": chosen.value if chosen else None, **flags}, config=config or app.config,
                           debug=app.debug)
    for key, flag in URL_FLAGS.items():
        if resolved.sources[key] == "flag" and _has_credentials(resolved[key]):
            raise ConfigError(f"{flag}: a user or password in a URL on the command line is visible to every "
                                  f"user of the machine (ps); give the URL in {cfg.KEYS[key].env} or `{key}` in the "
                                  f"config file{URL_CREDENTIALS.get(key, '')}")
    if resolved.sources.get("log.source") == "flag":
        refuse_log_password("--source", resolved["log.source"])
    if formats is not None and resolved.output not in formats:
        value = resolved.output
        given = {"env": f"MLOBS_OUTPUT={value}", "file": f"output: {value} in {resolved.config_file}"}
        raise InputError(f"{given.get(resolved.sources['output'], f'-o {value}')} is for `alerts validate`; "
                         f"this command writes {', '.join(formats)}")
    return resolved


# -- what every command that reads Prometheus takes, and the last step they share ----------------------------

PrometheusOpt = Annotated[str | None, typer.Option(
    "--prometheus", metavar="URL", help="Prometheus, Thanos, Mimir or VictoriaMetrics base URL; a token goes in "
    "MLOBS_PROMETHEUS_TOKEN or the config file, never here [env: MLOBS_PROMETHEUS_URL]", show_default=False)]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="A named endpoint from `contexts:` in the config file, like kubectl's "
    "[env: MLOBS_CONTEXT]", show_default=False)]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure", help="Do not verify the server's TLS certificate [env: MLOBS_PROMETHEUS_INSECURE]")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help=f"The moment shown: {TIME_HELP} [default: now]", show_default=False)]
WindowOpt = Annotated[str, typer.Option(
    "--window", metavar="DURATION", help="Range of every rate and quantile, like 5m")]


def prometheus_settings(ctx: typer.Context, output: Any, config: str | None, debug: bool, prometheus: str | None,
                        context: str | None, insecure: bool, **flags: Any) -> cfg.Settings:
    """Settings of a command that reads Prometheus: the shared options, then the command's own `flags`."""
    return settings(ctx, output=output, config=config, debug=debug, **{
        "prometheus.url": prometheus, "context": context, "prometheus.insecure": insecure or None, **flags})


def moment(at: str | None) -> datetime:
    """--at as a time (now when not given): one reading of the clock for every query of the view."""
    return parse_time(at or "now", "--at")


def finish(result: Any, s: cfg.Settings) -> None:
    """Warnings of the server to stderr, the result to stdout, then exit with the result's code."""
    for warning in result.warnings:
        render.warn(f"{getattr(result, 'source', 'prometheus')}: {warning}")  # `alerts firing` may ask Alertmanager
    render.emit(result, s.output)
    raise typer.Exit(int(result.exit_code()))
