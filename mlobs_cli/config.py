"""Settings: flag > MLOBS_* environment variable > config file > built-in default.

Each key has one dotted name (`drift.psi_alert`), one environment variable (`MLOBS_DRIFT_PSI_ALERT`) and one place
in the YAML file (`drift: {psi_alert: 0.3}`). `mlobs config show` lists every key with the source of its value.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from mlobs_cli.drift.thresholds import DriftConfig
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
        Key("prometheus.timeout", float, 10.0, "seconds for each request to Prometheus", minimum=0.001),
        *_section("drift", DriftConfig),
        # -- gpu: keys of `mlobs gpu` below this line --
        # -- logs: keys of `mlobs logs` below this line --
        # -- runbook: keys of `mlobs runbook` below this line --
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
        return mask_secret(str(value)) if KEYS[name].secret else str(value)


def mask_secret(url: str) -> str:
    """Hide the password (and any token-like user) of a URL; other strings are masked whole."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1": not a URL, so no part of it is known to be safe
        return "****"
    if not parts.scheme or not parts.netloc:
        return "****"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"****@{host}"))


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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
        elif key.type is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        elif key.type in (int, float) and isinstance(raw, bool):
            raise ValueError
        else:
            value = key.type(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key.name} from {source}: expected {key.type.__name__}, got {raw!r}") from None
    if key.choices and value not in key.choices:
        raise ConfigError(f"{key.name} from {source}: {value!r} is not one of {', '.join(key.choices)}")
    if key.minimum is not None and key.type in (int, float) and value < key.minimum:
        raise ConfigError(f"{key.name} from {source}: {value!r} is below the minimum {key.minimum}")
    return value


def _structured(key: Key, raw: Any, source: str) -> Any:
    """A mapping or list key (`gpu.models`): YAML in the file, YAML or JSON text in the environment."""
    if isinstance(raw, str):
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
    drift = DriftConfig(**{k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("drift.")})
    if not drift.psi_watch <= drift.psi_alert <= drift.psi_high:
        raise ConfigError("drift thresholds must satisfy psi_watch <= psi_alert <= psi_high")
    return Settings(values=values, sources=sources, config_file=path, debug=debug)
