"""Which model a GPU process serves, for the seed's `gpu_memory_allocated_bytes{gpu_id, model}`.

In order: an environment variable named in `gpu.model_env` (readable where the process runs as the same user, or
as root), a pattern of `gpu.models` (model name -> regular expression searched in the command line, in the order
of the file), then the model argument of the common servers (`--served-model-name`, `--model`, `--model-id`:
vLLM, SGLang, TGI).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlobs_cli.errors import ConfigError

SERVER_ARGS = ("--served-model-name", "--model", "--model-id", "--model-path")


@dataclass(frozen=True, slots=True)
class ModelMap:
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()
    env: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, models: Mapping[str, object], env: Sequence[object]) -> ModelMap:
        """Raises ConfigError for a pattern that is not a regular expression."""
        patterns = []
        for name, pattern in models.items():
            if not isinstance(pattern, str):
                raise ConfigError(f"gpu.models: the pattern of {name!r} must be a string, got {pattern!r}")
            try:
                patterns.append((str(name), re.compile(pattern)))
            except re.error as e:
                raise ConfigError(f"gpu.models: the pattern of {name!r} is not a regular expression: {e}") from None
        return cls(tuple(patterns), tuple(str(e) for e in env))

    def model(self, command: Sequence[str] | None, environ: Mapping[str, str] | None) -> str | None:
        for name in self.env:
            if (environ or {}).get(name):
                return environ[name]
        if not command:
            return None
        line = " ".join(command)
        for name, pattern in self.patterns:
            if pattern.search(line):
                return name
        return _server_arg(command)


def _server_arg(command: Sequence[str]) -> str | None:
    found: dict[str, str] = {}
    for i, arg in enumerate(command):
        flag, eq, value = arg.partition("=")
        if flag in SERVER_ARGS and flag not in found:
            if eq:
                found[flag] = value
            elif i + 1 < len(command):
                found[flag] = command[i + 1]
    return next((found[f] for f in SERVER_ARGS if f in found), None)
