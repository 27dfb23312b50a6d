"""Prometheus Pushgateway: publish a group of gauges, so a scheduled job's results reach Prometheus and its alerts.

The group is sent with PUT in the text exposition format 0.0.4, which replaces every metric of the group: a feature
that is no longer compared disappears from the gateway instead of keeping its last PSI forever.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Mapping, Sequence
from urllib.parse import quote, unquote

import httpx

from mlobs_cli.backends import http
from mlobs_cli.config import mask_secret
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.results import Gauge

__all__ = ["exposition", "push"]

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Pauses before the 2nd and 3rd try: a gateway that restarts or a proxy that lost it briefly gets under a second.
BACKOFF = (0.2, 0.4)
RETRY_STATUS = frozenset({502, 503, 504})  # what a proxy or load balancer answers while the gateway is away
# The gateway answers a PUT with an empty body, or a line of error: more than this is not the gateway.
MAX_RESPONSE = 2**20


def push(
    url: str,
    job: str,
    grouping: Mapping[str, str],
    gauges: Sequence[Gauge],
    *,
    timeout: float = 10.0,
    verify: bool | str = True,
    client: httpx.Client | None = None,
) -> None:
    """Replace the group `job` + `grouping` on the Pushgateway at `url` with `gauges`.

    Args:
        url: Base URL of the Pushgateway, http or https, e.g. `https://user:pass@pushgateway:9091`; a user and
            password in it are sent as basic auth and never shown in an error.
        job: The `job` label of the group.
        grouping: The other labels of the group, e.g. `{"model": "llm-7b"}`; added to every pushed sample.
        gauges: The samples. Several gauges of one name are one metric family; the first one's help is used.
        timeout: Seconds for each try, all of it: connect, send, read the answer (with a `client` of its own, that
            client's own timeouts for each read).
        verify: TLS verification: True (system CA), a CA bundle path, or False. Ignored when `client` is given.
        client: An httpx client to send with (tests pass one with a mock transport); the caller closes it.

    Raises:
        InputError: `url` is not an http(s) URL, `job` is empty, a metric or label name is invalid, or the CA
            bundle `verify` names cannot be read.
        BackendUnavailable: The gateway cannot be reached, or answered other than 2xx, after the retries.
    """
    parts = http.parse_url(url, "pushgateway")
    shown = mask_secret(url)
    if not job:
        raise InputError("pushgateway job must not be empty: the gateway requires a job label")
    body = exposition(gauges).encode("utf-8")
    target = url.rstrip("/") + _group_path(job, grouping)
    secrets = http.secrets(parts.password,
                           http.basic(unquote(parts.username or ""), unquote(parts.password or "")))
    if client is None:
        with http.client(verify=http.tls(verify)) as own:
            _put(own, target, body, timeout, shown, secrets)
    else:
        _put(client, target, body, timeout, shown, secrets)


def exposition(gauges: Sequence[Gauge]) -> str:
    """The text exposition format 0.0.4 of `gauges`: one HELP and TYPE per name, then its samples.

    Raises:
        InputError: A metric or label name is invalid.
    """
    families: dict[str, list[Gauge]] = {}
    for g in gauges:
        if not METRIC_NAME.fullmatch(g.name):
            raise InputError(f"invalid metric name {g.name!r}")
        for name, _ in g.labels:
            _check_label(name)
        # the format wants every sample of a family right after its TYPE line
        families.setdefault(g.name, []).append(g)
    lines = []
    for name, members in families.items():
        lines.append(f"# HELP {name} {_escape_help(members[0].help)}")
        lines.append(f"# TYPE {name} gauge")
        for g in members:
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in g.labels)
            lines.append(f"{name}{{{labels}}} {_number(g.value)}" if labels else f"{name} {_number(g.value)}")
    return "".join(line + "\n" for line in lines)


def _put(client: httpx.Client, target: str, body: bytes, timeout: float, shown: str, secrets: tuple[str, ...]) -> None:
    # PUT replaces the group as a whole, so sending it again after a lost answer is safe: every failure at the
    # transport level is retried, not only a refused connection.
    for attempt in range(len(BACKOFF) + 1):
        if attempt:
            time.sleep(BACKOFF[attempt - 1])
        try:
            request = client.build_request("PUT", target, content=body, headers={"Content-Type": CONTENT_TYPE},
                                           timeout=timeout)
            response = http.send(client, request, seconds=timeout, limit=MAX_RESPONSE, what=f"pushgateway {shown}")
        except httpx.TransportError as e:
            failure = BackendUnavailable(f"cannot reach pushgateway {shown}: {http.reason(e, secrets)}")
            continue
        # a redirect is a failure too: httpx does not follow it, so nothing was stored
        if response.is_success:
            return
        failure = BackendUnavailable(
            f"pushgateway {shown} answered {response.status_code} {response.reason_phrase}"
            + http.first_line(response.text, secrets)
        )
        if response.status_code not in RETRY_STATUS:
            break
    raise failure


def _group_path(job: str, grouping: Mapping[str, str]) -> str:
    path = "/metrics/" + _segment("job", job)
    for name, value in grouping.items():
        _check_label(name)
        path += "/" + _segment(name, value)
    return path


def _segment(name: str, value: str) -> str:
    # The gateway splits the path on "/" before decoding, so a value with "/" cannot be percent-encoded; an empty
    # value would be an empty segment, and "." or ".." would be removed by URL normalisation. Its base64 form
    # carries all of them ("=" stands for the empty value, as the gateway documents).
    if value in ("", ".", "..") or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
        return f"{name}@base64/{encoded}"
    return f"{name}/{quote(value, safe='')}"


def _check_label(name: str) -> None:
    if not LABEL_NAME.fullmatch(name):
        raise InputError(f"invalid label name {name!r}")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)  # the shortest text that reads back as the same float
