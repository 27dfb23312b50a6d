"""What every HTTP backend (Pushgateway, Prometheus, Alertmanager) shares: the checks before it sends anything,
the secrets it keeps out of every message after, one deadline for a whole request and a bound on an answer's
decoded size."""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import httpcore
import httpx

from mlobs_cli.config import mask_secret
from mlobs_cli.errors import BackendUnavailable, InputError

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


# -- one deadline for the whole request, and a bound on what an answer may inflate to ---------------------------
#
# httpx's timeouts hold for each socket operation: a server that sends a byte a second, in its headers or its body,
# never trips a read timeout of 10 s and holds the command forever. The deadline below is checked by every read,
# write and connect of the request (through the network backend httpcore sends with), so the whole request -
# connect, headers, body - ends within the timeout the user set.

_request = threading.local()  # the deadline of the request this thread is sending (one at a time in a thread)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Inside this block, every request this thread sends must be over within `seconds` of its start."""
    _request.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _request.deadline = None


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """The per-operation `timeout` cut to what is left of this thread's deadline; `expired` when none is."""
    end = getattr(_request, "deadline", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the whole request took longer than the timeout")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout),
                                                         local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout),
                                                                 socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def client(**kwargs: Any) -> httpx.Client:
    """An httpx.Client (`kwargs` as httpx takes them) whose requests keep to `deadline`.

    httpx has no hook for the network backend: it is set on the connection pools of the client's transports (the
    direct one and those of HTTP(S)_PROXY), httpcore's `_network_backend`. A transport of another kind (a test's
    MockTransport) is left as it is. tests/backends/test_hostile.py fails if a new httpx or httpcore moves it.
    """
    made = httpx.Client(**kwargs)
    transports = [made._transport, *made._mounts.values()]  # noqa: SLF001 - see the docstring
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = _DeadlineBackend(pool._network_backend)  # noqa: SLF001
    return made


def send(session: httpx.Client, request: httpx.Request, *, seconds: float, limit: int, what: str,
         hint: str = "") -> httpx.Response:
    """Send `request` and read its answer whole, within `seconds` for all of it (with a `client()`), and at most
    `limit` bytes once decoded: a small gzip answer may inflate to gigabytes. `what` names the server in the
    message of an answer over the limit, `hint` the setting that raises it.

    Returns:
        The response, read (`.json()`, `.text` work).

    Raises:
        httpx.TimeoutException, httpx.TransportError: as httpx raises them.
        BackendUnavailable: The decoded answer is over `limit` bytes.
    """
    with deadline(seconds):
        response = session.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise BackendUnavailable(
                        f"{what} answered more than {limit / 2**20:.4g} MiB (decoded) on {request.url.path}: not "
                        "read further" + (f" ({hint} sets the bound)" if hint else ""))
        finally:
            response.close()
    # the body is decoded already: the new response must not decode it again
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request,
                          extensions={k: v for k, v in response.extensions.items()
                                      if k in ("http_version", "reason_phrase")})
