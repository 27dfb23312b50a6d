"""What every HTTP backend (Pushgateway, Prometheus, Alertmanager) shares: the checks before it sends anything,
and the secrets it keeps out of every message after."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlsplit

import httpx

from mlobs_cli.config import mask_secret
from mlobs_cli.errors import InputError


def parse_url(url: str, what: str) -> SplitResult:
    """The parts of `url`, which must be http(s) with a host; InputError before anything is sent otherwise.

    Args:
        url: the server's URL, possibly with user:password@.
        what: the server's name for messages ("pushgateway", "prometheus").
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number in 0-65535 raises only when it is read
        httpx.URL(url)  # what httpx itself would refuse only when sending, outside the errors a backend reports
    except (ValueError, httpx.InvalidURL) as e:
        # mask_secret cannot split every such URL either: show only the reason, never the URL
        raise InputError(f"{what} URL is not valid: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what} URL {mask_secret(url)}: expected http://HOST:PORT or https://HOST:PORT")
    return parts


def tls(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's `verify` from ours: True, False (--insecure), or the path of a CA bundle."""
    # httpx deprecates a CA bundle path, and would report a missing one as a bare FileNotFoundError
    if not isinstance(verify, str):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as e:
        raise InputError(f"CA bundle {verify}: {e.strerror or e}") from None


def secrets(*values: str | None) -> tuple[str, ...]:
    """The strings no message may show: each given secret, and a URL password also as httpx sends it, decoded."""
    found = {v for v in values if v} | {unquote(v) for v in values if v}
    return tuple(found)


def scrub(text: str, hidden: Iterable[str]) -> str:
    for secret in hidden:
        text = text.replace(secret, "****")
    return text


def reason(error: httpx.TransportError, hidden: Iterable[str]) -> str:
    """Why a request did not get through. httpx's own message is short ("[Errno 111] Connection refused",
    "timed out"); some timeouts have none."""
    return scrub(str(error) or type(error).__name__, hidden)


def first_line(text: str, hidden: Iterable[str]) -> str:
    """`: ` and the first line of a response body (200 characters at most), or nothing for an empty body."""
    lines = text.strip().splitlines()
    return ": " + scrub(lines[0][:200], hidden) if lines else ""
