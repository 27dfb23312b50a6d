"""The Prometheus HTTP API client: the one module every command that reads Prometheus goes through.

It speaks the query API that Prometheus, Thanos, Mimir/Cortex (tenant header `X-Scope-OrgID`) and VictoriaMetrics
share, so a command never knows which of them it talks to. What it owns:

- auth: a bearer token, or basic auth (username and password, or `user:pass@` in the URL), both taken from the
  settings (environment or config file), never from a flag; neither is ever part of an error message;
- TLS verified by default, against a CA bundle of one's own (`prometheus.ca_file`) or not at all (`--insecure`);
- one timeout for each try, for the whole of it (connect, headers and body: a server that trickles bytes ends
  there too), and a bound on the size of an answer once decoded (`prometheus.max_response_mib`: a small gzip
  answer may inflate to gigabytes); a query string too long for a URL sent as a POST form, as Grafana does;
  bounded retries with backoff on connection errors and 502/503/504 (what a proxy or a
  restarting server answers; a 504 only when it came at once), never on a timeout, which has already waited as
  long as the user allowed, nor on the server's own (`errorType` timeout or canceled: its `--query.timeout`) or a
  proxy's slow 504, which a retry would only repeat on a server already overloaded;
- errors as mlobs errors: a server that cannot be reached or refuses -> `BackendUnavailable` (exit 3) with the
  URL masked; a request the server calls `bad_data`, or answers 400 or 422 with an error (invalid PromQL, a bad
  matcher, many-to-many matching) -> `InputError` (exit 2) with the server's own message; an answer that is not
  the shape the API documents (another server's API at that URL) -> `BackendUnavailable`; a native histogram,
  which no command shows -> `InputError`;
- the `warnings` of every answer collected on `client.warnings`, for the command to show, and the requests a
  server answered only in part (VictoriaMetrics cluster's `isPartial`) on `client.partial`. A warning also means
  the answer may be incomplete: Thanos reports a store it could not reach only there (it sends no isPartial).
  `client.incomplete` gives both as messages, so the command marks its result incomplete (exit 3);
- `gather`: the queries of one view sent together on a few threads, so a view costs about its slowest query.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, TypeVar
from urllib.parse import quote, unquote

import httpx

from mlobs_cli import __version__
from mlobs_cli.backends import http
from mlobs_cli.config import Settings, mask_secret
from mlobs_cli.errors import BackendUnavailable, ConfigError, InputError

__all__ = ["PrometheusClient", "QueryFailed", "Sample", "Series", "TimeArg"]

# Pauses before the 2nd and 3rd try: a Prometheus that restarts, or a proxy that lost it for a moment.
BACKOFF = (0.2, 0.5)
RETRY_STATUS = frozenset({502, 503, 504})
# errorTypes of a 503 with which Prometheus gave up on the query itself (its --query.timeout, or a shutdown)
GAVE_UP = frozenset({"timeout", "canceled"})
# A 504 slower than this is a proxy that waited for the server as long as it allows: sent again, the query would
# wait as long again on a server already too slow. A quick one is a proxy that lost its server for a moment.
SLOW_GATEWAY_TIMEOUT = 1.0  # seconds
# Transport failures after which nothing reached the server (or its answer was cut): safe to send a GET again.
# A timeout is not among them: retrying it would multiply the wait the user set with prometheus.timeout.
RETRY_ERRORS = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
TENANT_HEADER = "X-Scope-OrgID"  # Mimir, Cortex (and Thanos receive, with its default tenant header)
MAX_RESPONSE = 256 * 2**20  # bytes of a decoded answer: prometheus.max_response_mib
# Past this many characters of query string a request goes as a POST form (as Grafana sends queries): servers and
# proxies refuse long URLs (nginx answers 414 past 8 KiB, Go's servers 431 past 1 MiB of headers). Only the paths
# where the API takes POST; a short query stays a GET, which every proxy and cache in front of a server allows.
MAX_GET_QUERY = 4096
# Past this, a request is refused before it is sent (exit 2): Prometheus reads 10 MB of a form at most and takes
# what it cut for an empty query ("no expression found"), and no query a person or a rule file holds is this long.
MAX_QUERY = 4 * 2**20
MAX_URL_QUERY = 65536  # characters of a URL's query string: httpx's bound (and about every proxy's)
POST_PATHS = frozenset({"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels"})

TimeArg = float | datetime | None  # Unix seconds, an aware datetime, or None for the server's default
# Requests of one view in flight at once: a dashboard's ~20 queries cost about two rounds of its slowest one,
# without one laptop opening dozens of connections to a shared Prometheus.
MAX_CONCURRENT = 12
K = TypeVar("K")
T = TypeVar("T")


class QueryFailed(BackendUnavailable):
    """The server parsed the query but could not evaluate it on its data (`execution`: many-to-many matching,
    duplicate series after a label change): valid PromQL, no answer; exit 3."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant vector (or the scalar of a scalar result, with no labels)."""

    labels: dict[str, str]  # with `__name__` when the expression keeps it
    time: float  # Unix seconds
    value: float  # NaN and +-Inf as the server sent them


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: (time, value) points in increasing time."""

    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]


class PrometheusClient:
    """A connection to one Prometheus-compatible server (thread-safe: `gather` shares it between threads). Close it (or use it as a context manager) when done.

    Args:
        url: Base URL, http or https, with any path prefix the server lives under (`https://host/prometheus`).
            A `user:password@` in it is sent as basic auth and never shown.
        token: Bearer token (`Authorization: Bearer ...`).
        username, password: Basic auth; not together with `token`.
        tenant: The `X-Scope-OrgID` header Mimir and Cortex need.
        verify: True (system CAs), a CA bundle path, or False (`--insecure`).
        timeout: Seconds for each try, all of it: connect, send, read the headers and the body.
        max_response: Bytes an answer may have once decoded (default MAX_RESPONSE).
        backoff: Pauses before each retry (default BACKOFF); its length is the number of retries.
        transport: An httpx transport to send through (tests pass `httpx.MockTransport`).

    Raises:
        InputError: The URL is not http(s) with a host, or the CA bundle cannot be read.
        ConfigError: Both a token and basic auth are set.
    """

    name = "prometheus"  # the server as messages name it
    auth_hint = "prometheus.token, or prometheus.username and prometheus.password"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tenant: str | None = None,
        verify: bool | str = True,
        timeout: float = 10.0,
        max_response: int = MAX_RESPONSE,
        backoff: Sequence[float] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = http.parse_url(url, self.name)
        if token and (username or parts.username):
            raise ConfigError(f"{self.name}: set a token or a username and password, not both")
        self.url = url.rstrip("/")
        self.shown = mask_secret(url)  # the URL as every message shows it
        self.warnings: list[str] = []  # the `warnings` of every answer so far, each once, in order
        self.partial: list[str] = []  # the queries (or API paths) answered only in part, each once
        self._lock = threading.Lock()  # over warnings and partial, which gather's threads add to
        self.backoff = tuple(BACKOFF if backoff is None else backoff)
        self.timeout = timeout
        self.max_response = max_response
        self._secrets = http.secrets(token, password, parts.password, http.basic(username, password),
                                     http.basic(unquote(parts.username or ""), unquote(parts.password or "")))
        headers = {"Accept": "application/json", "User-Agent": f"mlobs/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if tenant:
            headers[TENANT_HEADER] = tenant
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._http = http.client(headers=headers, auth=auth, verify=http.tls(verify), timeout=timeout,
                                 transport=transport, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PrometheusClient:
        """A client for the `prometheus.*` settings (url, token, username, password, tenant, ca_file, insecure,
        timeout, max_response_mib). `kwargs` go to the constructor (tests pass a transport).

        Raises:
            ConfigError: No `prometheus.url` is set.
        """
        url = settings["prometheus.url"]
        if not url:
            raise ConfigError("no Prometheus URL: pass --prometheus URL or --context NAME, or set "
                              "MLOBS_PROMETHEUS_URL")
        verify: bool | str = False if settings["prometheus.insecure"] else (settings["prometheus.ca_file"] or True)
        return cls(url, token=settings["prometheus.token"], username=settings["prometheus.username"],
                   password=settings["prometheus.password"], tenant=settings["prometheus.tenant"], verify=verify,
                   timeout=settings["prometheus.timeout"], max_response=max_response(settings), **kwargs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def incomplete(self) -> list[str]:
        """Why the answers so far may lack data, one message each: a partial answer (`partial`), and each of
        the server's `warnings` (Thanos names a store it could not reach only there)."""
        return ([f"partial response (a storage node did not answer) for {q}" for q in self.partial]
                + [f"the server warned: {w} (so the answer may be incomplete)" for w in self.warnings])

    # -- the API ------------------------------------------------------------------------------------------------

    def series(self, matchers: Sequence[str], start: TimeArg = None, end: TimeArg = None) -> list[dict[str, str]]:
        """`/api/v1/series`: the label sets of every series any of `matchers` selects between start and end.

        Each matcher is a series selector (`up`, `x{job="a"}`). Prometheus answers at block granularity: a series
        may be listed with no sample inside the window, but never one that has none near it.
        """
        if not matchers:
            raise InputError("series: at least one series selector is required")
        return self._list("/api/v1/series", _window(start, end, matchers), dict)

    def label_names(self, matchers: Sequence[str] = (), start: TimeArg = None, end: TimeArg = None) -> list[str]:
        """`/api/v1/labels`: the label names of the series `matchers` select (all series when empty)."""
        return self._list("/api/v1/labels", _window(start, end, matchers), str)

    def label_values(self, name: str, matchers: Sequence[str] = (), start: TimeArg = None,
                     end: TimeArg = None) -> list[str]:
        """`/api/v1/label/<name>/values`: the values of label `name` (`__name__`: metric names)."""
        return self._list(f"/api/v1/label/{quote(name, safe='')}/values", _window(start, end, matchers), str)

    def query(self, promql: str, at: TimeArg = None) -> list[Sample]:
        """`/api/v1/query`: the instant vector (or scalar) of `promql` at `at` (the server's now when None).

        Raises:
            InputError: The server refused the expression (its message), or its value is not numbers: a range
                vector (`x[5m]`), a string, or native histograms.
        """
        params = [("query", promql)] + ([("time", _timestamp(at))] if at is not None else [])
        data = self.get("/api/v1/query", params)
        kind = data.get("resultType") if isinstance(data, dict) else None
        if kind == "matrix":
            raise InputError(f"{promql!r} is a range vector: an instant query needs a function of it, "
                             "such as rate(...), or use --range")
        if kind == "string":
            raise InputError(f"{promql!r} is a string, not a number: there is nothing to show for it")
        with self._api("/api/v1/query", "an instant vector or a scalar"):
            result = data["result"]
            if kind == "scalar":  # values are decimal strings, or "NaN", "+Inf", "-Inf": float() reads them all
                return [Sample({}, float(result[0]), float(result[1]))]
            if kind != "vector":
                raise ValueError(kind)
            if any("histogram" in r for r in result):
                raise self._native(promql)
            return [Sample(_labels(r["metric"]), _time(r["value"][0]), float(r["value"][1])) for r in result]

    def query_range(self, promql: str, start: float | datetime, end: float | datetime, step: float) -> list[Series]:
        """`/api/v1/query_range`: `promql` evaluated every `step` seconds from start to end (both included).

        Raises:
            InputError: The server refused the expression or the range (e.g. over 11,000 points a series), or the
                expression gives native histograms.
        """
        params = [("query", promql), ("start", _timestamp(start)), ("end", _timestamp(end)),
                  # whole milliseconds, as a duration: a step in seconds reaches Prometheus as float nanoseconds
                  # truncated to the millisecond (1.001 s arrives as 1 s: 11,001 points over 11,000 s)
                  ("step", f"{round(step * 1000)}ms")]
        data = self.get("/api/v1/query_range", params)
        with self._api("/api/v1/query_range", "a range vector"):
            if data["resultType"] != "matrix":
                raise ValueError(data["resultType"])
            if any("histograms" in r for r in data["result"]):
                raise self._native(promql)
            return [Series(_labels(r["metric"]), tuple((_time(t), float(v)) for t, v in r["values"]))
                    for r in data["result"]]

    def buildinfo(self) -> dict[str, Any]:
        """`/api/v1/status/buildinfo`: version, revision, branch... of the server."""
        return self._dict("/api/v1/status/buildinfo", [])

    def rules(self, kind: str | None = None) -> list[dict[str, Any]]:
        """`/api/v1/rules`: the rule groups the server evaluates (`kind` "alert" or "record" to keep one kind),
        each with its `rules`; VictoriaMetrics answers an empty list unless vmalert is behind it."""
        params = [("type", kind)] if kind else []
        data = self._dict("/api/v1/rules", params)
        with self._api("/api/v1/rules", "rule groups"):
            groups = data["groups"]  # a success without it is another API's answer, not "no rules"
            if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("rules", []), list) for g in groups):
                raise TypeError(groups)
            return list(groups)

    def alerts(self) -> list[dict[str, Any]]:
        """`/api/v1/alerts`: the alerts now pending or firing, each with labels, annotations, state, activeAt
        (RFC 3339) and value (a string)."""
        data = self._dict("/api/v1/alerts", [])
        with self._api("/api/v1/alerts", "a list of alerts"):
            # a success without `alerts` is another API's answer: read as "nothing firing", it would say all is well
            return checked_alerts(data["alerts"])

    def metadata(self, metric: str | None = None) -> dict[str, list[dict[str, str]]]:
        """`/api/v1/metadata`: metric name -> its type, help and unit as the targets expose them. Empty for series
        that were backfilled or pushed by remote write without metadata."""
        return self._dict("/api/v1/metadata", [("metric", metric)] if metric else [])

    def gather(self, calls: Mapping[K, Callable[[], T]], workers: int = MAX_CONCURRENT
               ) -> dict[K, T | BackendUnavailable]:
        """Run the requests of one view together, on up to `workers` threads sharing this client's connections.

        Args:
            calls: name -> a call of this client's methods (`partial(client.query, promql, at)`).
            workers: threads at most.

        Returns:
            name -> the call's answer, or the BackendUnavailable it raised (the other answers still count: the
            view is partial, and says so).

        Raises:
            InputError: A call the server refused (invalid PromQL): the view cannot be drawn as asked.
            BackendUnavailable: Every call failed: a server that is down is one error, not one per query.
        """
        if not calls:
            return {}
        outcomes = _in_threads(calls, workers, f"mlobs-{self.name}")
        for outcome in outcomes.values():  # in the order of `calls`, as the caller listed them
            if isinstance(outcome, Exception) and not isinstance(outcome, BackendUnavailable):
                raise outcome
        failures = [r for r in outcomes.values() if isinstance(r, BackendUnavailable)]
        if len(failures) == len(outcomes):
            raise failures[0]
        return outcomes

    def get(self, path: str, params: Iterable[tuple[str, str]]) -> Any:
        """GET `path` (under the base URL) and return the `data` of a successful answer.

        Raises:
            BackendUnavailable: Not reachable, not 2xx after the retries, or not the Prometheus API.
            InputError: The server says the request is `bad_data`, or answers 400 or 422 (its message included).
        """
        params = list(params)
        response = self._send(path, params)
        body = self._body(response)
        if not response.is_success or body.get("status") != "success":
            raise self._refusal(response, body)
        if "data" not in body:
            raise self._not_api(path, "a success with no data")
        with self._lock:
            for warning in body.get("warnings") or ():
                text = self._scrub(str(warning))
                if text not in self.warnings:
                    self.warnings.append(text)
            if body.get("isPartial") is True:  # VictoriaMetrics cluster: a storage node did not answer
                what = dict(params).get("query", path)
                if what not in self.partial:
                    self.partial.append(what)
        return body.get("data")

    # -- the plumbing -------------------------------------------------------------------------------------------

    def _send(self, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        failure: BackendUnavailable | None = None
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                time.sleep(self.backoff[attempt - 1])
            sent = time.monotonic()
            try:
                response = http.send(self._http, self._request(path, params), seconds=self.timeout,
                                     limit=self.max_response, what=f"{self.name} {self.shown}",
                                     hint="prometheus.max_response_mib")
            except httpx.TimeoutException as e:
                raise BackendUnavailable(f"{self.name} {self.shown} did not answer in time "
                                         f"({type(e).__name__}; prometheus.timeout)") from None
            except RETRY_ERRORS as e:
                failure = BackendUnavailable(f"cannot reach {self.name} {self.shown}: {self._reason(e)}")
                continue
            except httpx.TransportError as e:  # e.g. a TLS failure: retrying gives the same answer
                raise BackendUnavailable(f"cannot reach {self.name} {self.shown}: {self._reason(e)}") from None
            if response.status_code not in RETRY_STATUS:
                return response
            body = self._error_body(response)
            error = self._scrub(" ".join(str(body.get("error") or "").split()))
            if body.get("errorType") in GAVE_UP:
                hint = " (its --query.timeout)" if body["errorType"] == "timeout" else ""
                raise BackendUnavailable(f"{self.name} {self.shown} gave up on the query: {error}{hint}")
            failure = BackendUnavailable(f"{self.name} {self.shown} answered {response.status_code} "
                                         f"{response.reason_phrase}"
                                         + (f": {error}" if error else self._first_line(response.text)))
            if response.status_code == 504 and time.monotonic() - sent >= SLOW_GATEWAY_TIMEOUT:
                raise failure
        assert failure is not None
        raise failure

    def _request(self, path: str, params: list[tuple[str, str]]) -> httpx.Request:
        target = self.url + path
        size = len(str(httpx.QueryParams(params)))
        if size > MAX_QUERY:
            raise InputError(f"the request to {self.name} would be {size / 2**20:.1f} MiB long, over the "
                             f"{MAX_QUERY // 2**20} MiB mlobs sends: shorten the query")
        if path in POST_PATHS and size > MAX_GET_QUERY:
            return self._http.build_request("POST", target, data=dict_multi(params))
        if size > MAX_URL_QUERY:  # httpx refuses it (InvalidURL), and the API takes no POST on this path
            raise InputError(f"the request to {self.name} on {path} would be a URL of {size:,} characters, over "
                             f"the {MAX_URL_QUERY:,} a URL may have: use fewer or shorter series selectors")
        return self._http.build_request("GET", target, params=params)

    @staticmethod
    def _error_body(response: httpx.Response) -> dict[str, Any]:
        """The JSON object of an error answer, or {} (a proxy's HTML page, text). A 400 whose body is a JSON string
        (Alertmanager's API v2 refusing a bad filter) is that string as the server's message."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        if response.status_code == 400 and isinstance(body, str):
            return {"errorType": "bad_data", "error": body}
        return body if isinstance(body, dict) else {}

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            return body
        if response.is_success:
            raise BackendUnavailable(f"{self.name} {self.shown} answered {response.status_code} with something "
                                     f"that is not the {self.name.capitalize()} API (not a JSON object): check the URL")
        return {}

    def _refusal(self, response: httpx.Response, body: Mapping[str, Any]) -> Exception:
        error = self._scrub(" ".join(str(body.get("error") or "").split()))
        # Prometheus: 400 bad_data (a parse error); VictoriaMetrics answers 422 to a parse error: the query's
        # fault, with the server's words. Prometheus' 422 `execution` (above) is the data's, not the syntax's.
        if body.get("errorType") == "execution":
            return QueryFailed(f"{self.name} {self.shown} could not evaluate the query: {error}")
        if body.get("errorType") == "bad_data" or (response.status_code in (400, 422) and error):
            return InputError(f"{self.name} {self.shown} refused the request: {error}")
        status = f"{response.status_code} {response.reason_phrase}"
        if response.status_code in (401, 403):
            return BackendUnavailable(f"{self.name} {self.shown} answered {status}: check {self.auth_hint}")
        if 300 <= response.status_code < 400:
            where = response.headers.get("location", "")
            return BackendUnavailable(f"{self.name} {self.shown} answered {status}"
                                      + (f" to {mask_secret(where)}" if where else "") + ": use that URL")
        detail = error or self._first_line(response.text).removeprefix(": ")
        return BackendUnavailable(f"{self.name} {self.shown} answered {status}" + (f": {detail}" if detail else ""))

    def _list(self, path: str, params: list[tuple[str, str]], item: type) -> list[Any]:
        data = self.get(path, params)
        if not isinstance(data, list) or not all(isinstance(x, item) for x in data):
            raise self._not_api(path, f"expected a list of {'label sets' if item is dict else 'strings'}")
        return data

    def _dict(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        data = self.get(path, params)
        if not isinstance(data, dict):
            raise self._not_api(path, f"expected an object, got {type(data).__name__}")
        return data

    @contextmanager
    def _api(self, path: str, expected: str) -> Iterator[None]:
        """Read an answer inside this block: what does not fit the documented shape (a missing key, a value that is
        not a number) is another server's API at that URL, not a bug of ours or a fault of the query."""
        try:
            yield
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            raise self._not_api(path, f"expected {expected}") from None

    def _not_api(self, path: str, detail: str) -> BackendUnavailable:
        return BackendUnavailable(f"{self.name} {self.shown} answered something that is not the Prometheus API "
                                  f"on {path} ({detail}): check the URL")

    @staticmethod
    def _native(promql: str) -> InputError:
        # exit 2, not 3: the server answered in full, and asking again gets the same; it is the expression that
        # must turn the histograms into numbers
        return InputError(f"{promql!r} gives native histograms, which mlobs does not show: ask for numbers of "
                          "them, such as histogram_quantile(0.99, rate(...)), histogram_count(...) or "
                          "histogram_sum(...)")

    def _reason(self, error: httpx.TransportError) -> str:
        return http.reason(error, self._secrets)

    def _first_line(self, text: str) -> str:
        return http.first_line(text, self._secrets)

    def _scrub(self, text: str) -> str:
        return http.scrub(text, self._secrets)


def checked_alerts(alerts: Any) -> list[dict[str, Any]]:
    """`alerts` as a list of alerts, each an object whose labels and annotations (when present) map strings to
    strings, whose status (when present) is an object, and whose state and times (when present) are strings;
    TypeError otherwise."""
    if not isinstance(alerts, list):
        raise TypeError(alerts)
    for a in alerts:
        if not isinstance(a, dict) or not isinstance(a.get("status") or {}, dict):
            raise TypeError(a)
        for key in ("labels", "annotations"):
            _labels(a.get(key) or {})
        texts = [a.get(k) for k in ("state", "activeAt", "startsAt")] + [(a.get("status") or {}).get("state")]
        if not all(t is None or isinstance(t, str) for t in texts):
            raise TypeError(a)
    return alerts


# Unix seconds of 0001-01-01 and 9999-12-31: a time outside them has no datetime, and no real server sends one
EARLIEST, LATEST = -62135596800.0, 253402300799.0


def _labels(labels: Any) -> dict[str, str]:
    """A label set (or annotations) as the API documents it, strings to strings; TypeError otherwise."""
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise TypeError(labels)
    return dict(labels)


def _time(value: Any) -> float:
    """A sample's time, in Unix seconds; ValueError for one no calendar holds (or not a number)."""
    seconds = float(value)
    if not EARLIEST <= seconds <= LATEST:  # NaN too
        raise ValueError(value)
    return seconds


def max_response(settings: Settings) -> int:
    """`prometheus.max_response_mib` in bytes."""
    return math.ceil(settings["prometheus.max_response_mib"] * 2**20)


def dict_multi(params: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields as httpx takes them, a name given more than once (`match[]`) with all its values in order."""
    fields: dict[str, list[str]] = {}
    for name, value in params:
        fields.setdefault(name, []).append(value)
    return fields


def _in_threads(calls: Mapping[K, Callable[[], T]], workers: int, name: str) -> dict[K, T | Exception]:
    """Each call's answer or the exception it raised, keyed like `calls`, with at most `workers` running at once.

    The threads are daemons: Ctrl-C (KeyboardInterrupt, in the main thread) ends the process at once, where the
    non-daemon workers of a ThreadPoolExecutor would be joined at exit, after their requests time out. One call
    runs in the caller's own thread.
    """
    def outcome(call: Callable[[], T]) -> T | Exception:
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - the caller raises it in its own thread, unless BackendUnavailable
            return e

    if len(calls) == 1:
        return {key: outcome(call) for key, call in calls.items()}
    slots = threading.BoundedSemaphore(max(1, workers))
    results: dict[K, T | Exception] = {}

    def run(key: K, call: Callable[[], T]) -> None:
        with slots:
            results[key] = outcome(call)

    threads = [threading.Thread(target=run, args=item, name=name, daemon=True) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {key: results[key] for key in calls}


def _window(start: TimeArg, end: TimeArg, matchers: Sequence[str]) -> list[tuple[str, str]]:
    params = [("match[]", m) for m in matchers]
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            params.append((name, _timestamp(value)))
    return params


def _timestamp(value: float | datetime) -> str:
    """Unix seconds as the API takes them (never milliseconds: those land in year ~55970)."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    if not math.isfinite(seconds):
        raise InputError(f"not a time: {value!r}")
    return f"{seconds:.3f}"
