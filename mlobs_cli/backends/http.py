"""What every HTTP backend (Pushgateway, Prometheus, Alertmanager) shares: the checks before it sends anything,
and the secrets it keeps out of every message after."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import httpx

from mlobs_cli.config import mask_secret
from mlobs_cli.errors import InputError

# Why a URL does not parse, in our words: the parsers' messages quote the URL, and a password holding an unencoded
# / ? or # ends the host early, so that they quote the password's start as a port ("Port could not be cast to
# integer value as 'abc'").
ENCODE_PASSWORD = "a / ? # or @ in a password must be percent-encoded (%2F %3F %23 %40)"
URL_FORM = "expected http://HOST:PORT or https://HOST:PORT, with a port of 0-65535 and an IPv6 address in [brackets]"


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
    except (ValueError, httpx.InvalidURL):
        raise InputError(f"{what} URL is not valid: {_why_invalid(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what} URL {mask_secret(url)}: expected http://HOST:PORT or https://HOST:PORT")
    if "?" in url or "#" in url:
        # the API's paths are appended to the URL: after a query string they would be part of it
        base = mask_secret(urlunsplit(parts._replace(query="", fragment="")))  # a query may hold any secret
        raise InputError(f"{what} URL {base}: give the server's base URL, without a ?query or #fragment "
                         "(credentials go in the environment or the config file, a ? or # in a password as %3F %23)")
    if "@" in url and "@" not in parts.netloc:
        # `http://bob:12/x@host` parses, as host `bob` and port 12: the request would go there
        raise InputError(f"{what} URL is not valid: an @ after the host: {ENCODE_PASSWORD}, and an @ elsewhere "
                         "written %40")
    return parts


def _why_invalid(url: str) -> str:
    """ENCODE_PASSWORD when what follows the last @ is a valid host[:port] (so the user:password is at fault),
    otherwise URL_FORM."""
    rest = url.partition("://")[2]
    if "@" not in rest:
        return URL_FORM
    host = rest.rsplit("@", 1)[1].split("/", 1)[0]
    try:
        urlsplit(f"http://{host}").port  # noqa: B018 - read to raise
    except ValueError:
        return URL_FORM
    return ENCODE_PASSWORD


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
    """The strings no message may show, longest first (so that none is left half-hidden by a shorter one inside
    it): each given secret, and a URL password also as httpx sends it, decoded."""
    found = {v for v in values if v} | {unquote(v) for v in values if v}
    return tuple(sorted(found, key=len, reverse=True))


def basic(username: str | None, password: str | None) -> str | None:
    """`user:password` as the Basic Authorization header carries it (base64), which decodes to the password: a
    server that echoes the request's headers in an error must not show it either."""
    if not username:
        return None
    return base64.b64encode(f"{username}:{password or ''}".encode()).decode()


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
