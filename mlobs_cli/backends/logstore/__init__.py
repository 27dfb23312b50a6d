"""Prediction-log stores behind one interface (`base.LogStore`), chosen by the source's URL scheme.

A source is a path or glob (`logs/*.parquet`), a `file://` URL, a `postgresql://` URL, or the name of one in the
`log.sources` config key. Each scheme maps to one module here, imported only when used: a third backend
(ClickHouse, BigQuery, Loki) is one new module with an `open_store(url, settings)` and one line in SCHEMES.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from mlobs_cli.backends.logstore.base import LogStore
from mlobs_cli.config import Settings, mask_secret
from mlobs_cli.errors import ConfigError, InputError

# URL scheme -> module of this package
SCHEMES = {"file": "files", "postgresql": "postgres", "postgres": "postgres"}


def resolve_source(source: str | None, settings: Settings) -> str:
    """The source to read: --source (or MLOBS_LOG_SOURCE, or log.source), a name in log.sources replaced by its URL.

    Raises:
        ConfigError: no source given anywhere.
    """
    chosen = source or settings["log.source"]
    if not chosen:
        raise ConfigError("no log source: give --source PATH|URL|NAME, set MLOBS_LOG_SOURCE, or log.source in "
                          "the config file")
    named = settings["log.sources"] or {}
    if chosen in named:
        return str(named[chosen])
    return chosen


def open_store(source: str | None, settings: Settings) -> LogStore:
    """Open the log store a source names; close it with `store.close()` (or use it as a context manager).

    Raises:
        InputError: an unknown scheme, a path that matches no file.
        BackendUnavailable: the database cannot be reached or refuses the login.
    """
    url = resolve_source(source, settings)
    scheme = urlsplit(url).scheme.lower() if "://" in url else "file"
    module = SCHEMES.get(scheme)
    if module is None:
        raise InputError(f"--source {mask_secret(url)}: unknown scheme {scheme!r}; expected a path, a glob, "
                         f"or one of {', '.join(s + '://' for s in SCHEMES)}")
    return importlib.import_module(f"mlobs_cli.backends.logstore.{module}").open_store(url, settings)
