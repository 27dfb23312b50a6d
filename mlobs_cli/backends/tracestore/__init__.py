"""Trace stores behind one interface (`base.TraceStore`), chosen by the source.

A source is a path or glob of OTLP JSON files (`traces/*.jsonl`, `file://...`), `jaeger+http(s)://HOST:16686`, or
`tempo+http(s)://HOST:3200`: the prefix names the server's API, the rest is its base URL. Credentials go in
`trace.token` or `trace.username`/`trace.password` (environment or config file), never in the flag.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mlobs_cli.backends.tracestore.base import TraceStore
from mlobs_cli.config import Settings
from mlobs_cli.errors import ConfigError, InputError

SERVERS = ("jaeger", "tempo")


def open_store(source: str | None, settings: Settings) -> TraceStore:
    """Open the trace store a source names (`source`: the --source flag, else trace.source); close it with
    `store.close()`.

    Raises:
        ConfigError: No source given anywhere.
        InputError: A server URL with a password in the flag, or files that cannot be read.
    """
    chosen = source or settings["trace.source"]
    if not chosen:
        raise ConfigError("no trace source: give --source PATH|URL, set MLOBS_TRACE_SOURCE, or trace.source in "
                          "the config file")
    scheme, _, rest = chosen.partition("+")
    if scheme in SERVERS and rest.startswith(("http://", "https://")):
        if source and urlsplit(rest).password:
            raise InputError("--source: a password in the flag is visible to every user of the machine (ps): put "
                             "it in MLOBS_TRACE_PASSWORD or trace.password")
        from mlobs_cli.backends.tracestore import remote

        return remote.open_store(scheme, rest, settings)
    from mlobs_cli.backends.tracestore import files

    return files.open_store(chosen)
