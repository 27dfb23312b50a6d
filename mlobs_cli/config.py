"""Settings: flag > MLOBS_* environment variable > config file > built-in default.

Each key has one dotted name (`drift.psi_alert`), one environment variable (`MLOBS_DRIFT_PSI_ALERT`) and one place
in the YAML file (`drift: {psi_alert: 0.3}`). `mlobs config show` lists every key with the source of its value.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from mlobs_cli.drift.thresholds import DriftConfig
from mlobs_cli.quality.thresholds import ConceptConfig
from mlobs_cli.errors import ConfigError

OUTPUT_FORMATS = ("table", "json", "csv", "markdown", "github", "sarif", "junit")  # the last 3: alerts validate


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = 0  # every number mlobs takes is a count, share or threshold: never negative
    maximum: float | None = None  # a bound where a larger value costs memory or time, or cannot mean anything
    above_minimum: bool = False  # the minimum itself is out: a keep rate of 0 would weigh a row infinitely
    secret: bool = False  # shown masked by `config show`; may hold a password in a URL

    @property
    def env(self) -> str:
        return "MLOBS_" + self.name.upper().replace(".", "_")


def _section(prefix: str, cls: type) -> list[Key]:
    return [
        Key(
            name=f"{prefix}.{f.name}",
            type=type(f.default),
            default=f.default,
            help=f.metadata["help"],
            choices=f.metadata.get("choices"),
            minimum=f.metadata.get("min", 0),
            maximum=f.metadata.get("max"),
        )
        for f in dataclasses.fields(cls)
    ]


KEYS: dict[str, Key] = {
    k.name: k
    for k in [
        Key("output", str, "table", "output format", choices=OUTPUT_FORMATS),
        Key("pushgateway.url", str, None, "Prometheus Pushgateway for `drift compare --pushgateway`", secret=True),
        Key("pushgateway.job", str, "mlobs-drift", "job label of pushed drift metrics"),
        # Prometheus (and Thanos, Mimir, VictoriaMetrics): credentials come from here or the environment, never
        # from a flag, which `ps` shows to every user of the machine
        Key("prometheus.url", str, None, "Prometheus base URL (`alerts validate --prometheus`)", secret=True),
        Key("prometheus.token", str, None, "bearer token sent to Prometheus (env or file only)", secret=True),
        Key("prometheus.username", str, None, "basic-auth user for Prometheus (env or file only)"),
        Key("prometheus.password", str, None, "basic-auth password for Prometheus (env or file only)", secret=True),
        Key("prometheus.tenant", str, None, "X-Scope-OrgID header (Mimir, Cortex)"),
        Key("prometheus.ca_file", str, None, "CA bundle to verify Prometheus' TLS certificate"),
        Key("prometheus.insecure", bool, False, "do not verify Prometheus' TLS certificate"),
        Key("prometheus.timeout", float, 10.0, "seconds for each request to Prometheus (or Alertmanager), all of "
            "it: connect, headers and body", minimum=0.001, maximum=3600),
        Key("prometheus.max_response_mib", float, 256.0, "MiB an answer of Prometheus (or Alertmanager) may have "
            "once decoded; a larger one ends the command (exit 3)", minimum=0.001, maximum=65536),
        # named endpoints, as kubectl's: `contexts: {prod-eu: {url: ..., token: ...}}`, chosen with --context NAME
        # or `context:`; a chosen context supplies every prometheus.* key a flag or MLOBS_* variable does not
        Key("context", str, None, "the entry of `contexts` to use (--context NAME)"),
        Key("contexts", dict, None, "named Prometheus endpoints: NAME: {url, token, username, password, tenant, "
            "ca_file, insecure, timeout, alertmanager}", secret=True),
        Key("alertmanager.url", str, None, "Alertmanager base URL (`alerts firing --alertmanager`)", secret=True),
        Key("alertmanager.token", str, None, "bearer token sent to Alertmanager (env or file only)", secret=True),
        *_section("drift", DriftConfig),
        *_section("concept", ConceptConfig),  # `drift concept`
        # -- gpu: keys of `mlobs gpu` below this line --
        Key("gpu.fail_on", str, "alert", "`gpu status` exits 1 on a finding at or above this severity",
            choices=("info", "warn", "alert")),
        Key("gpu.utilization_low", float, 30.0, "GPU utilization % below which a GPU is underused (warn)",
            maximum=100),
        Key("gpu.utilization_high", float, 95.0, "GPU utilization % above which a GPU is saturated (alert)",
            maximum=100),
        Key("gpu.memory_high", float, 90.0, "GPU memory used % above which to alert", maximum=100),
        Key("gpu.temperature_margin", float, 5.0, "warn this many degrees C under the GPU's slowdown temperature",
            maximum=200),
        Key("gpu.xid_wait_ms", int, 10, "milliseconds `gpu status` waits for XID critical error events",
            maximum=60_000),
        Key("gpu.models", dict, {}, "model name -> regular expression searched in a GPU process's command line"),
        Key("gpu.model_env", list, ["MODEL_NAME", "SERVED_MODEL_NAME"],
            "environment variables of a GPU process that name its model"),
        # -- logs: keys of `mlobs logs` below this line --
        # named `log.*`, not `logs.*`, so that the source's variable is MLOBS_LOG_SOURCE, as issue 6 asks
        Key("log.source", str, None, "prediction logs: path, glob, file:// or postgresql:// URL, or a name in "
            "log.sources", secret=True),
        Key("log.sources", dict, {}, "named prediction-log sources: name -> path or URL (`--source NAME`)",
            secret=True),
        Key("log.password", str, None, "PostgreSQL password of the log source (env or file only)", secret=True),
        Key("log.pii_fields", list, ["email", "phone", "ssn", "ip"], "fields redacted wherever they appear in a shown "
            "log record (the seed's redact_fields)"),
        Key("log.labels", str, None, "late ground truth for `drift concept` and the runbook's drift step: a "
            "labels file, or a postgresql:// URL of a table in the logs' database", secret=True),
        Key("log.confidence_threshold", float, 0.6, "`logs confidence`: a prediction under this score is low",
            maximum=1),
        # how the serving fleet sampled the logs (the design's prediction_logs.sampling): every count, rate and
        # percentile of `mlobs logs` weighs a row by 1 / its keep rate; a row's own sample_rate column wins
        Key("log.sampling.default_rate", float, 1.0, "share of ordinary requests the logs keep", maximum=1,
            above_minimum=True),
        Key("log.sampling.error_rate", float, 1.0, "share of ERROR and TIMEOUT requests the logs keep", maximum=1,
            above_minimum=True),
        Key("log.sampling.low_confidence_rate", float, 1.0, "share of requests scored under "
            "log.sampling.low_confidence_threshold the logs keep", maximum=1, above_minimum=True),
        Key("log.sampling.low_confidence_threshold", float, 0.6, "an output_score under this is kept at "
            "log.sampling.low_confidence_rate", maximum=1),
        # -- experiment: keys of `mlobs experiment` below this line --
        Key("experiments", dict, {}, "per experiment: {control: VARIANT, split: {VARIANT: PERCENT}}, the "
            "defaults of `experiment status --control` and `--split`"),
        # -- trace: keys of `mlobs trace` below this line --
        Key("trace.source", str, None, "traces: OTLP JSON files (path or glob), jaeger+http(s)://HOST:16686 or "
            "tempo+http(s)://HOST:3200", secret=True),
        Key("trace.token", str, None, "bearer token sent to the trace server (env or file only)", secret=True),
        Key("trace.username", str, None, "basic-auth user for the trace server (env or file only)"),
        Key("trace.password", str, None, "basic-auth password for the trace server (env or file only)",
            secret=True),
        Key("trace.tenant", str, None, "X-Scope-OrgID header (multi-tenant Tempo)"),
        Key("trace.ca_file", str, None, "CA bundle to verify the trace server's TLS certificate"),
        Key("trace.insecure", bool, False, "do not verify the trace server's TLS certificate"),
        Key("trace.timeout", float, 10.0, "seconds for each request to the trace server", minimum=0.001,
            maximum=3600),
        Key("trace.service", str, "gateway", "service whose traces a Jaeger search finds (the root service)"),
        Key("trace.limit", int, 1000, "traces at most fetched from a trace server for `trace breakdown` and "
            "`trace compare`", minimum=1, maximum=1_000_000),
        # -- runbook: keys of `mlobs runbook` below this line --
        Key("runbook.llm_models", list, [], "models that are LLMs: their latency SLO is runbook.llm_slo_ms"),
        Key("runbook.slo_ms", float, 100.0, "p99 latency SLO of a non-LLM model, in milliseconds", minimum=0.001,
            maximum=3_600_000),
        Key("runbook.llm_slo_ms", float, 200.0, "p99 latency SLO of an LLM model, in milliseconds", minimum=0.001,
            maximum=3_600_000),
        Key("runbook.dir", str, None, "a directory of the team's own runbooks (also $XDG_CONFIG_HOME/mlobs/runbooks)"),
        Key("runbook.state_dir", str, None, "where walks save their state for `runbook resume` "
            "[default: $XDG_STATE_HOME/mlobs/walks]"),
    ]
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective configuration of one run."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]  # key -> "flag" | "env" | "file" | "default"
    config_file: Path | None
    debug: bool = False

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def output(self) -> str:
        return self.values["output"]

    @property
    def drift(self) -> DriftConfig:
        return DriftConfig(**{f.name: self.values[f"drift.{f.name}"] for f in dataclasses.fields(DriftConfig)})

    def shown(self, name: str) -> str:
        """The value as `config show` prints it: secrets masked."""
        value = self.values[name]
        if value is None:
            return ""
        if name == "contexts":
            return shown_contexts(value)
        return mask_secret(str(value)) if KEYS[name].secret else str(value)


# Query-string parameters that carry a credential (`?token=`, `?auth_token=`, `?api_key=`, `?sslpassword=`,
# `X-Amz-Signature`, OAuth's `code`): a redirect's Location, or a URL kept in a walk's state, may hold one. Matched
# inside the name: hiding a harmless value costs less than showing a secret. A backend URL may not have a query
# string at all (backends.http.parse_url).
SECRET_PARAM = re.compile(r"token|pass|secret|key|auth|sig|cred|^code$", re.IGNORECASE)


def mask_secret(url: str) -> str:
    """Hide the user and password of a URL and the values of its credential parameters (SECRET_PARAM); other
    strings are masked whole."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1": not a URL, so no part of it is known to be safe
        return "****"
    if not parts.scheme or not parts.netloc:
        return "****"
    if "@" not in parts.netloc and "@" in url:
        # a password with an unencoded / ? or # ends the host early (`http://bob:12/x@host`): the "host:port"
        # is the user and the password's start
        return "****"
    if "@" in parts.netloc:
        parts = parts._replace(netloc="****@" + parts.netloc.rsplit("@", 1)[1])
    if parts.query:  # each other parameter kept as written
        fields = [f.partition("=") for f in parts.query.split("&")]
        parts = parts._replace(query="&".join(k + "=****" if v and SECRET_PARAM.search(unquote_plus(k))
                                              else k + eq + v for k, eq, v in fields))
    return urlunsplit(parts)


CONTEXT_KEYS = {"url": "prometheus.url", "token": "prometheus.token", "username": "prometheus.username",
                "password": "prometheus.password", "tenant": "prometheus.tenant", "ca_file": "prometheus.ca_file",
                "insecure": "prometheus.insecure", "timeout": "prometheus.timeout",
                "alertmanager": "alertmanager.url"}


def shown_contexts(contexts: Mapping[str, Any]) -> str:
    """`contexts` as `config show` prints it: each name with its keys, secret ones masked."""
    return "; ".join(
        f"{name}: " + ", ".join(f"{k}={mask_secret(str(v)) if KEYS[CONTEXT_KEYS[k]].secret else v}"
                                for k, v in entry.items() if k in CONTEXT_KEYS)
        for name, entry in contexts.items() if isinstance(entry, Mapping))


def _apply_context(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Fill the keys of the chosen context (`context`) from `contexts`: over the file and the defaults, under a
    flag or an MLOBS_* variable. The file's own prometheus.* keys are then not used at all: a token of one server
    must never be sent to another."""
    name = values["context"]
    if name is None:
        return
    if sources["prometheus.url"] in ("flag", "env"):
        # a URL given for this run names the server: the file's default context must not add its credentials
        if sources["context"] in ("flag", "env"):
            raise ConfigError("--context and --prometheus (or MLOBS_PROMETHEUS_URL) both name a server: give one")
        return
    contexts = values["contexts"] or {}
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none defined (add `contexts:` to the config file)"
        raise ConfigError(f"context {name!r} not found; contexts: {known}")
    entry = contexts[name]
    if not isinstance(entry, Mapping):
        raise ConfigError(f"contexts.{name}: expected a mapping of {', '.join(CONTEXT_KEYS)}")
    unknown = sorted(set(entry) - set(CONTEXT_KEYS))
    if unknown:
        raise ConfigError(f"contexts.{name}: unknown key {unknown[0]!r} (known: {', '.join(CONTEXT_KEYS)})")
    for short, key_name in CONTEXT_KEYS.items():
        if sources[key_name] in ("flag", "env"):
            continue
        key = KEYS[key_name]
        raw = entry.get(short, key.default)
        values[key_name] = _convert(key, raw, f"contexts.{name}.{short}")
        sources[key_name] = f"context {name}" if short in entry else "default"


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: --config, then MLOBS_CONFIG (both must exist), ./mlobs.yaml, XDG."""
    chosen = explicit or env.get("MLOBS_CONFIG")
    if chosen:
        if chosen == os.devnull:
            return None
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file not found: {chosen}")
        return path
    local = Path("mlobs.yaml")
    if local.is_file():
        return local
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "mlobs" / "config.yaml"
    return xdg if xdg.is_file() else None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not (name in KEYS and KEYS[name].type is dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def load_file(path: Path) -> dict[str, Any]:
    import yaml  # only with a config file: most runs have none, and every run resolves settings

    try:
        from mlobs_cli import yamlbounds

        data = yamlbounds.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path}{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: expected a mapping of settings at the top level")
    flat = _flatten(data)
    unknown = sorted(set(flat) - set(KEYS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key {unknown[0]!r} (see `mlobs config show`)")
    return flat


def _convert(key: Key, raw: Any, source: str) -> Any:
    if raw is None:
        return None
    if key.type in (dict, list):
        return _structured(key, raw, source)
    try:
        if key.type is bool:
            value: Any = raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
        elif (key.type is int and isinstance(raw, float) and not raw.is_integer()) or (
                key.type in (int, float) and isinstance(raw, bool)):
            raise ValueError
        else:
            value = key.type(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key.name} from {source}: expected {key.type.__name__}, got {raw!r}") from None
    if key.choices and value not in key.choices:
        raise ConfigError(f"{key.name} from {source}: {value!r} is not one of {', '.join(key.choices)}")
    if key.type in (int, float):
        _check_number(key, value, source)
    return value


def _check_number(key: Key, value: float, source: str) -> None:
    """The one check of every numeric setting, whichever the source. NaN fails every comparison, so a threshold
    of NaN would never fire (`gpu.memory_high: .nan` turns the memory alert off); inf does the same from the
    other side."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key.name} from {source}: {value!r} is not a finite number")
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(f"{key.name} from {source}: {value!r} is below the minimum {key.minimum}")
    if key.above_minimum and value == key.minimum:
        raise ConfigError(f"{key.name} from {source}: {value!r} must be above {key.minimum}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(f"{key.name} from {source}: {value!r} is above the maximum {key.maximum}")


def _structured(key: Key, raw: Any, source: str) -> Any:
    """A mapping or list key (`gpu.models`): YAML in the file, YAML or JSON text in the environment."""
    if isinstance(raw, str):
        import yaml

        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"{key.name} from {source}: not valid YAML or JSON") from None
    if not isinstance(raw, key.type):
        raise ConfigError(f"{key.name} from {source}: expected a {'mapping' if key.type is dict else 'list'}")
    return raw


def resolve(
    flags: Mapping[str, Any], *, config: str | None = None, debug: bool = False, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every key. `flags` maps key names to flag values; None means the flag was not given."""
    env = os.environ if env is None else env
    path = find_config_file(config, env)
    from_file = load_file(path) if path else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS.values():
        if flags.get(key.name) is not None:
            source, raw = "flag", flags[key.name]
        elif env.get(key.env, "") != "":
            source, raw = "env", env[key.env]
        elif key.name in from_file:
            source, raw = "file", from_file[key.name]
        else:
            source, raw = "default", key.default
        label = {"flag": "--flag", "env": key.env, "file": str(path), "default": "default"}[source]
        values[key.name] = _convert(key, raw, label)
        sources[key.name] = source
    _apply_context(values, sources)
    drift = DriftConfig(**{k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("drift.")})
    if not drift.psi_watch <= drift.psi_alert <= drift.psi_high:
        raise ConfigError("drift thresholds must satisfy psi_watch <= psi_alert <= psi_high")
    return Settings(values=values, sources=sources, config_file=path, debug=debug)
