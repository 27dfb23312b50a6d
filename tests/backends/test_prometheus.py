"""The Prometheus client against a real Prometheus (tests/conftest.py starts it), and, for what a real server will
not do on demand (a 503 then a 200, a token to check, a warning, a body that is not JSON), httpx.MockTransport."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time

import httpx
import pytest

from mlobs_cli import config as cfg
from mlobs_cli.backends.prometheus import PrometheusClient
from mlobs_cli.errors import BackendUnavailable, ConfigError, ExitCode, InputError

TOKEN = "s3cr3t-t0ken"
PASSWORD = "hunter2"


@pytest.fixture
def client(prometheus):
    with PrometheusClient(prometheus.url, timeout=5) as c:
        yield c


def window(prometheus, seconds=3600.0):
    return prometheus.end + 60 - seconds, prometheus.end + 60


def mock(handler, **kwargs) -> PrometheusClient:
    kwargs.setdefault("backoff", (0, 0))
    return PrometheusClient("http://prom.test:9090", transport=httpx.MockTransport(handler), **kwargs)


def ok(data, **extra) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data, **extra})


# -- the real server --------------------------------------------------------------------------------------------

def test_buildinfo(client):
    info = client.buildinfo()
    assert info["version"].startswith("2.")


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        pytest.param(['inference_requests_total{model="llm-7b"}'], 4, id="series exist"),
        pytest.param(['inference_requests_total{model="llm-7b",status="500"}', 'feature_psi{feature="age"}'], 4,
                     id="several selectors: the union"),
        pytest.param(["inference_request_total"], 0, id="misspelt metric: none"),
        pytest.param(['feature_psi{version="v1"}'], 0, id="label never set: none"),
    ],
)
def test_series(client, prometheus, matchers, expected):
    found = client.series(matchers, *window(prometheus))
    assert len(found) == expected
    for series in found:
        assert series["__name__"] in {"inference_requests_total", "feature_psi"}


def test_series_carry_their_labels(client, prometheus):
    found = client.series(['inference_latency_seconds_bucket{model="resnet50",version="v2"}'], *window(prometheus))
    assert sorted(s["le"] for s in found) == sorted(["0.05", "0.1", "0.5", "+Inf"])
    assert all(set(s) == {"__name__", "model", "version", "le"} for s in found)


def test_label_names_of_one_metric(client, prometheus):
    assert set(client.label_names(["feature_psi"], *window(prometheus))) == {"__name__", "model", "feature"}


def test_label_values_follow_the_window(client, prometheus):
    recent = client.label_values("__name__", [], *window(prometheus))
    assert "inference_requests_total" in recent and "legacy_queue_depth" not in recent
    assert "legacy_queue_depth" in client.label_values("__name__", [], *window(prometheus, 12 * 3600))


def test_bad_data_is_an_input_error_with_the_servers_message(client, prometheus):
    with pytest.raises(InputError, match="parse error") as e:
        client.series(["inference_requests_total{"], *window(prometheus))
    assert e.value.exit_code == ExitCode.USAGE
    assert prometheus.url in str(e.value)


def test_tenant_header_is_accepted_by_prometheus(prometheus):
    # Prometheus ignores X-Scope-OrgID; Mimir needs it. The same client must work against both.
    with PrometheusClient(prometheus.url, tenant="team-a") as c:
        assert c.label_names(["feature_psi"])


def test_connection_refused_is_backend_unavailable_with_the_url_masked(closed_port):
    url = f"http://mlobs:{PASSWORD}@127.0.0.1:{closed_port}"
    with PrometheusClient(url, backoff=(0.05, 0.05)) as c, pytest.raises(BackendUnavailable) as e:
        c.buildinfo()
    assert e.value.exit_code == ExitCode.BACKEND
    assert f"http://****@127.0.0.1:{closed_port}" in str(e.value) and PASSWORD not in str(e.value)
    assert "refused" in str(e.value).lower()


# -- what only a mock can do ------------------------------------------------------------------------------------

def test_bearer_token_and_tenant_are_sent():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(["__name__"])

    assert mock(handler, token=TOKEN, tenant="team-a").label_names(["up"]) == ["__name__"]
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["x-scope-orgid"] == "team-a"
    assert seen[0].url.path == "/api/v1/labels"
    assert seen[0].url.params.get_list("match[]") == ["up"]


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        pytest.param("http://prom.test", {"username": "mlobs", "password": PASSWORD}, id="from the settings"),
        pytest.param(f"http://mlobs:{PASSWORD}@prom.test", {}, id="in the URL"),
    ],
)
def test_basic_auth_is_sent(url, kwargs):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return ok({"version": "2.42.0"})

    with PrometheusClient(url, transport=httpx.MockTransport(handler), **kwargs) as c:
        c.buildinfo()
    assert seen == ["Basic " + base64.b64encode(f"mlobs:{PASSWORD}".encode()).decode()]


def test_token_and_basic_auth_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        PrometheusClient("http://prom.test", token=TOKEN, username="mlobs", password=PASSWORD)


def test_a_401_names_the_settings_never_the_token():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"invalid token {TOKEN}")

    with pytest.raises(BackendUnavailable, match="401") as e:
        mock(handler, token=TOKEN).buildinfo()
    assert TOKEN not in str(e.value) and "prometheus.token" in str(e.value)


@pytest.mark.parametrize(("delay", "requests"), [(0.0, 2), (1.2, 1)], ids=["at once: retried", "slow: not"])
def test_a_504_is_retried_only_when_it_came_at_once(delay, requests):
    # a proxy that lost its server for a moment answers 504 at once; one that waited for a server too slow answers
    # it after its own timeout, and a retry would wait as long again
    answers = [httpx.Response(504, text="<html>504 Gateway Time-out</html>"), ok(["a"])]

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(delay)
        return answers.pop(0)

    c = mock(handler)
    if requests == 2:
        assert c.label_names() == ["a"]
    else:
        with pytest.raises(BackendUnavailable, match="answered 504 Gateway Timeout"):
            c.label_names()
    assert len(answers) == 2 - requests


def test_503_then_200_is_retried():
    answers = [httpx.Response(503, text="restarting"), ok(["a", "b"])]
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answers.pop(0)

    assert mock(handler).label_values("__name__") == ["a", "b"]
    assert len(calls) == 2


def test_retries_are_bounded():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, text="bad gateway")

    with pytest.raises(BackendUnavailable, match="502"):
        mock(handler, backoff=(0, 0, 0)).buildinfo()
    assert len(calls) == 4


def test_connection_error_then_success_is_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return ok({"version": "2.42.0"})

    assert mock(handler).buildinfo() == {"version": "2.42.0"}
    assert len(calls) == 2


def test_a_timeout_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(BackendUnavailable, match="did not answer in time"):
        mock(handler).buildinfo()
    assert len(calls) == 1


def test_bad_data_from_a_mock_keeps_the_message():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "1:5: parse error"})

    with pytest.raises(InputError, match="refused the request: 1:5: parse error"):
        mock(handler).series(["up{"])


def test_warnings_are_collected_once_each():
    def handler(request: httpx.Request) -> httpx.Response:
        return ok([], warnings=["partial response: store eu-1 unreachable"])

    client = mock(handler)
    client.label_names()
    client.label_names()
    assert client.warnings == ["partial response: store eu-1 unreachable"]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>Grafana</html>"), id="html"),
        pytest.param(httpx.Response(200, content=b"{not json"), id="malformed json"),
        pytest.param(httpx.Response(200, json=["not", "an", "object"]), id="json but not the API"),
    ],
)
def test_an_answer_that_is_not_the_api(response):
    with pytest.raises(BackendUnavailable, match="not the Prometheus API"):
        mock(lambda request: response).buildinfo()


def test_times_are_sent_as_seconds():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return ok([])

    mock(handler).series(["up"], 1700000000, 1700003600.5)
    assert seen == [{"match[]": "up", "start": "1700000000.000", "end": "1700003600.500"}]


@pytest.mark.parametrize(
    "url", ["ftp://prom.test", "prom.test:9090", "http://:9090", "http://prom.test:99999"],
)
def test_an_unusable_url_is_an_input_error(url):
    with pytest.raises(InputError, match="prometheus URL"):
        PrometheusClient(url)


def test_from_settings():
    env = {"MLOBS_PROMETHEUS_URL": "http://prom.test:9090", "MLOBS_PROMETHEUS_TOKEN": TOKEN,
           "MLOBS_PROMETHEUS_TENANT": "team-a", "MLOBS_PROMETHEUS_TIMEOUT": "2.5"}
    s = cfg.resolve({}, config="/dev/null", env=env)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"version": "2.42.0"})

    with PrometheusClient.from_settings(s, transport=httpx.MockTransport(handler)) as c:
        c.buildinfo()
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["x-scope-orgid"] == "team-a"
    assert seen[0].extensions["timeout"]["read"] == 2.5


def test_from_settings_without_a_url():
    with pytest.raises(ConfigError, match="--prometheus"):
        PrometheusClient.from_settings(cfg.resolve({}, config="/dev/null", env={}))


def test_a_missing_ca_file_is_an_input_error(tmp_path):
    s = cfg.resolve({"prometheus.url": "https://prom.test"}, config="/dev/null",
                    env={"MLOBS_PROMETHEUS_CA_FILE": str(tmp_path / "nope.pem")})
    with pytest.raises(InputError, match="CA bundle"):
        PrometheusClient.from_settings(s)


def test_config_show_masks_the_token_and_password(cli):
    env = {"MLOBS_PROMETHEUS_TOKEN": TOKEN, "MLOBS_PROMETHEUS_PASSWORD": PASSWORD,
           "MLOBS_PROMETHEUS_URL": f"http://mlobs:{PASSWORD}@prom.test:9090"}
    result = cli("config", "show", "-o", "json", env=env)
    assert result.exit_code == 0
    assert TOKEN not in result.stdout and PASSWORD not in result.stdout
    shown = {s["key"]: s for s in json.loads(result.stdout)["settings"]}
    assert shown["prometheus.token"]["value"] == "****" and shown["prometheus.token"]["source"] == "env"
    assert shown["prometheus.url"]["value"] == "http://****@prom.test:9090"
    assert shown["prometheus.timeout"]["value"] == 10.0
    table = cli("config", "show", env=env)
    assert TOKEN not in table.stdout and PASSWORD not in table.stdout


def test_instant_query_at_a_time(client, prometheus):
    at = prometheus.end
    found = client.query('sum by (model) (feature_psi{feature="age"})', at=at)
    assert {s.labels["model"] for s in found} == {"llm-7b", "resnet50"}
    assert all(s.time == pytest.approx(at, abs=1e-3) for s in found)
    assert client.query("scalar(vector(2.5))", at=at)[0].value == 2.5


def test_a_range_vector_is_refused_with_advice(client, prometheus):
    with pytest.raises(InputError, match="range vector"):
        client.query("feature_psi[5m]", at=prometheus.end)


def test_range_query_points(client, prometheus):
    series = client.query_range('feature_psi{model="llm-7b",feature="age"}', prometheus.end - 600,
                                prometheus.end, 60)
    assert len(series) == 1 and len(series[0].points) == 11
    times = [t for t, _ in series[0].points]
    assert times == sorted(times) and times[-1] == pytest.approx(prometheus.end, abs=1e-3)


# -- rules, alerts, metadata; gather; partial answers (issue 5) -------------------------------------------------

def test_rules_alerts_and_metadata_of_a_backfilled_server(client):
    # no rule files, and backfilled series carry no metadata: each answers empty, in its own type
    assert client.rules() == [] and client.alerts() == [] and client.metadata() == {}


def test_rules_alerts_metadata_requests():
    seen = []
    answers = {
        "/api/v1/rules": {"groups": [{"name": "serving", "rules": [{"name": "HighLatency", "type": "alerting"}]}]},
        "/api/v1/alerts": {"alerts": [{"labels": {"alertname": "A"}, "state": "firing"}]},
        "/api/v1/metadata": {"up": [{"type": "gauge", "help": "", "unit": ""}]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, dict(request.url.params)))
        return ok(answers[request.url.path])

    c = mock(handler)
    assert c.rules("alert")[0]["name"] == "serving"
    assert c.alerts()[0]["state"] == "firing"
    assert c.metadata("up") == {"up": [{"type": "gauge", "help": "", "unit": ""}]}
    assert seen == [("/api/v1/rules", {"type": "alert"}), ("/api/v1/alerts", {}), ("/api/v1/metadata", {"metric": "up"})]


def test_gather_keeps_each_answer_and_each_failure():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["query"] == "down":
            return httpx.Response(503, text="store unavailable")
        return ok({"resultType": "scalar", "result": [1700000000, request.url.params["query"]]})

    c = mock(handler)
    answers = c.gather({name: functools.partial(c.query, name) for name in ("1", "2", "down")})
    assert answers["1"][0].value == 1 and answers["2"][0].value == 2
    assert isinstance(answers["down"], BackendUnavailable) and "503" in str(answers["down"])


def test_gather_raises_a_refused_query():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["query"] == "sum(":
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"})
        return ok({"resultType": "vector", "result": []})

    c = mock(handler)
    with pytest.raises(InputError, match="parse error"):
        c.gather({q: functools.partial(c.query, q) for q in ("up", "sum(")})


def test_gather_raises_one_error_when_every_call_fails():
    c = mock(lambda request: httpx.Response(502, text="bad gateway"))
    with pytest.raises(BackendUnavailable, match="502"):
        c.gather({q: functools.partial(c.query, q) for q in ("a", "b", "c")})


def test_warnings_from_concurrent_answers_are_kept_once():
    c = mock(lambda request: ok({"resultType": "vector", "result": []}, warnings=["limit reached"]))
    c.gather({i: functools.partial(c.query, f"q{i}") for i in range(40)})
    assert c.warnings == ["limit reached"]


def test_a_partial_answer_is_recorded_by_its_query():
    c = mock(lambda request: ok({"resultType": "vector", "result": []}, isPartial=True))
    c.query("sum(up)")
    c.query("sum(up)")
    assert c.partial == ["sum(up)"]


def test_422_with_an_error_is_an_input_error():
    # VictoriaMetrics answers a parse error 422; Prometheus answers 422 `execution` to many-to-many matching
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"status": "error", "errorType": "422", "error": "unparsed data"})

    with pytest.raises(InputError, match="refused the request: unparsed data"):
        mock(handler).query("sum(")


def test_the_step_is_sent_to_the_millisecond():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["step"])
        return ok({"resultType": "matrix", "result": []})

    c = mock(handler)
    c.query_range("up", 0, 31536000, 2866.904)
    c.query_range("up", 0, 3600, 15)
    c.query_range("up", 0, 11000, 1.001)  # in seconds, Prometheus would read 1.001 as 1 s: 11,001 points
    assert seen == ["2866904ms", "15000ms", "1001ms"]


# -- Alertmanager (same transport, API v2 answers) ---------------------------------------------------------------

def am(handler, **kwargs):
    from mlobs_cli.backends.alertmanager import AlertmanagerClient

    return AlertmanagerClient("http://am.test:9093", transport=httpx.MockTransport(handler), backoff=(0, 0), **kwargs)


def test_alertmanager_alerts_request():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, dict(request.url.params), request.headers.get("authorization")))
        return httpx.Response(200, json=[{"labels": {"alertname": "A"}, "status": {"state": "active"}}])

    assert am(handler, token=TOKEN).alerts()[0]["labels"] == {"alertname": "A"}
    assert seen == [("/api/v2/alerts", {"active": "true", "silenced": "false", "inhibited": "false",
                                        "unprocessed": "true"}, f"Bearer {TOKEN}")]


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        pytest.param(httpx.Response(400, json="bad matcher format: x"), InputError, "refused the request: bad matcher",
                     id="400 with the server's words"),
        pytest.param(httpx.Response(401, text=f"no {TOKEN}"), BackendUnavailable, "check alertmanager.token",
                     id="401"),
        pytest.param(httpx.Response(200, json={"status": "success"}), BackendUnavailable, "not a list of alerts",
                     id="the Prometheus API, not Alertmanager's"),
        pytest.param(httpx.Response(200, text="<html>"), BackendUnavailable, "not JSON", id="html"),
    ],
)
def test_alertmanager_refusals(response, error, match):
    with pytest.raises(error, match=match) as e:
        am(lambda request: response, token=TOKEN).alerts()
    assert TOKEN not in str(e.value) and "alertmanager http://am.test:9093" in str(e.value)


def test_a_query_that_fails_on_the_data_is_a_failed_query_not_an_input_error(client, prometheus):
    from mlobs_cli.backends.prometheus import QueryFailed

    # valid PromQL; overwriting `feature` leaves several series with one label set, which Prometheus refuses
    with pytest.raises(QueryFailed, match="could not evaluate the query: .*same labelset") as e:
        client.query('label_replace(feature_psi, "feature", "x", "", "")', at=prometheus.end)
    assert e.value.exit_code == ExitCode.BACKEND


# -- reviewed defects: URLs that leak, answers of another shape, the server's own timeout, what the scrub list holds

@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://bob:abc/def@prom.example:9090", id="slash: the password's start read as a port"),
        pytest.param("http://bob:abc?def@prom.example:9090", id="question mark"),
        pytest.param("http://bob:abc#def@prom.example:9090", id="hash"),
        pytest.param("http://bob:123/def@prom.example:9090", id="slash after digits: parses as bob:123"),
    ],
)
@pytest.mark.parametrize("client_class", ["prometheus", "alertmanager"])
def test_a_password_that_breaks_the_url_is_never_shown(url, client_class):
    from mlobs_cli.backends.alertmanager import AlertmanagerClient

    cls = {"prometheus": PrometheusClient, "alertmanager": AlertmanagerClient}[client_class]
    with pytest.raises(InputError, match=f"{client_class} URL is not valid: .*must be percent-encoded") as e:
        cls(url)
    assert "abc" not in str(e.value) and "123" not in str(e.value) and "def" not in str(e.value)


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        pytest.param(["metrics", "query", "up"], "MLOBS_PROMETHEUS_URL", id="prometheus"),
        pytest.param(["alerts", "firing"], "MLOBS_ALERTMANAGER_URL", id="alertmanager"),
    ],
)
def test_a_password_that_breaks_the_url_is_exit_2_in_our_words(cli, command, variable):
    result = cli(*command, env={variable: "http://bob:abc/def@prom.example:9090"})
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "percent-encoded" in result.stderr and "abc" not in result.stderr


@pytest.mark.parametrize(
    ("command", "flag", "variable"),
    [
        pytest.param(["metrics", "query", "up"], "--prometheus", "MLOBS_PROMETHEUS_URL", id="prometheus"),
        pytest.param(["alerts", "validate", "tests/alerts"], "--prometheus", "MLOBS_PROMETHEUS_URL",
                     id="alerts validate"),
        pytest.param(["alerts", "firing"], "--alertmanager", "MLOBS_ALERTMANAGER_URL", id="alertmanager"),
    ],
)
@pytest.mark.parametrize("userinfo", ["bob:hunter2@", "bob@"])
def test_credentials_in_a_url_flag_are_refused(cli, prometheus, command, flag, variable, userinfo):
    # a real server that would answer: the run stops before sending anything
    url = prometheus.url.replace("http://", f"http://{userinfo}")
    result = cli(*command, flag, url)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{flag}: a user or password" in result.stderr and variable in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_credentials_in_a_url_from_the_environment_are_sent(cli, prometheus):
    # Prometheus takes any Authorization header when it has no web config: the run must simply work
    env = {"MLOBS_PROMETHEUS_URL": prometheus.url.replace("http://", f"http://bob:{PASSWORD}@")}
    report = cli.json("metrics", "query", "vector(1)", expect=0, env=env)
    assert report["result"][0]["value"] == 1


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param(None, "no data", id="success without data"),
        pytest.param([], "instant vector", id="data is a list"),
        pytest.param({"resultType": "vector", "result": [{"metric": {}, "value": [1, "abc"]}]}, "instant vector",
                     id="a value that is not a number"),
        pytest.param({"resultType": "vector"}, "instant vector", id="no result"),
        pytest.param({"resultType": "table", "result": []}, "instant vector", id="unknown result type"),
    ],
)
def test_an_instant_answer_of_another_shape_is_backend_unavailable(data, match):
    body = {"status": "success"} if data is None else {"status": "success", "data": data}
    with pytest.raises(BackendUnavailable, match=f"not the Prometheus API on /api/v1/query .*{match}"):
        mock(lambda request: httpx.Response(200, json=body)).query("up")


@pytest.mark.parametrize(
    ("call", "data"),
    [
        pytest.param(lambda c: c.query_range("up", 0, 60, 15), {"resultType": "vector", "result": []},
                     id="range: a vector"),
        pytest.param(lambda c: c.query_range("up", 0, 60, 15),
                     {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}, id="range: not a number"),
        pytest.param(lambda c: c.series(["up"]), [["up"]], id="series: not label sets"),
        pytest.param(lambda c: c.label_names(), {"a": 1}, id="labels: an object"),
        pytest.param(lambda c: c.buildinfo(), [], id="buildinfo: a list"),
        pytest.param(lambda c: c.rules(), {"groups": [1]}, id="rules: groups that are not objects"),
        pytest.param(lambda c: c.alerts(), [], id="alerts: a list (Alertmanager's API v1)"),
        pytest.param(lambda c: c.alerts(), {"alerts": [{"labels": ["x"]}]}, id="alerts: labels that are a list"),
        pytest.param(lambda c: c.metadata(), "text", id="metadata: a string"),
    ],
)
def test_answers_of_another_shape_are_backend_unavailable(call, data):
    with pytest.raises(BackendUnavailable, match="not the Prometheus API"):
        call(mock(lambda request: ok(data)))


@pytest.mark.parametrize(
    ("call", "data"),
    [
        pytest.param(lambda c: c.query("rate(x[5m])"), {"resultType": "vector", "result": [
            {"metric": {}, "histogram": [1, {"count": "2", "sum": "3", "buckets": []}]}]}, id="instant"),
        pytest.param(lambda c: c.query_range("rate(x[5m])", 0, 60, 15), {"resultType": "matrix", "result": [
            {"metric": {}, "histograms": [[1, {"count": "2", "sum": "3", "buckets": []}]]}]}, id="range"),
    ],
)
def test_native_histograms_are_refused_with_advice(call, data):
    with pytest.raises(InputError, match="'rate.x.5m..' gives native histograms.*histogram_quantile"):
        call(mock(lambda request: ok(data)))


def test_alertmanager_alerts_of_another_shape():
    with pytest.raises(BackendUnavailable, match="not a list of alerts"):
        am(lambda request: httpx.Response(200, json=[{"labels": {"a": "b"}, "status": "active"}])).alerts()


def test_the_servers_own_timeout_is_not_retried(impatient_prometheus):
    sent = []

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return super().handle_request(request)

    with PrometheusClient(impatient_prometheus, transport=Counting(), backoff=(0, 0)) as c, \
            pytest.raises(BackendUnavailable) as e:
        c.query("sum(count_over_time(vector(1)[7d:1s]))")
    assert str(e.value) == (f"prometheus {impatient_prometheus} gave up on the query: query timed out in expression "
                            "evaluation (its --query.timeout)")
    assert len(sent) == 1


def test_a_canceled_query_is_not_retried():
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={"status": "error", "errorType": "canceled",
                                         "error": "query was canceled in expression evaluation"})

    with pytest.raises(BackendUnavailable, match="gave up on the query: query was canceled in expression "
                                                 "evaluation$"):
        mock(handler).query("up")
    assert len(sent) == 1


def test_a_503_with_an_api_error_shows_its_error_not_the_json():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"status": "error", "errorType": "unavailable", "error": "store down"})

    with pytest.raises(BackendUnavailable) as e:
        mock(handler).query("up")
    assert str(e.value) == "prometheus http://prom.test:9090 answered 503 Service Unavailable: store down"


def test_a_string_result_is_named_a_string(client, prometheus):
    with pytest.raises(InputError, match="'\"hello\"' is a string, not a number"):
        client.query('"hello"', at=prometheus.end)


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        pytest.param("http://prom.test", {"username": "mlobs", "password": PASSWORD}, id="from the settings"),
        pytest.param(f"http://mlobs:{PASSWORD}@prom.test", {}, id="in the URL"),
        pytest.param("http://mlobs:hunter%2F2@prom.test", {}, id="in the URL, percent-encoded"),
    ],
)
def test_a_server_that_echoes_the_basic_credential_cannot_show_it(url, kwargs):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                         "error": f"no access for {request.headers['authorization']}"})

    with PrometheusClient(url, transport=httpx.MockTransport(handler), **kwargs) as c, \
            pytest.raises(InputError) as e:
        c.buildinfo()
    assert str(e.value).endswith("no access for Basic ****")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://prom.test/prom?access_token=s3cr3t", id="a credential"),
        pytest.param("http://prom.test/prom?x_session=s3cr3t", id="any parameter: the query is never shown"),
        pytest.param("http://prom.test/?email=a@b.example", id="an @ in the query"),
        pytest.param("http://prom.test/prom#x", id="a fragment"),
        pytest.param("http://prom.test/?", id="an empty query"),
    ],
)
def test_a_url_with_a_query_string_is_refused(url):
    # the API's paths are appended to the base URL: behind a query string they would be sent as part of it
    with pytest.raises(InputError, match="base URL, without a [?]query or #fragment") as e:
        PrometheusClient(url)
    assert "s3cr3t" not in str(e.value)


def test_an_at_in_the_path_must_be_encoded():
    # `http://bob:12/x@host` and `http://prom:9090/@team` have the same form: the first sends a password's start to
    # a host named after the user, so an @ after the host is refused whatever it is, with both ways out
    with pytest.raises(InputError, match="%2F %3F %23.*written %40"):
        PrometheusClient("http://prom.test:9090/@team/prometheus")
    assert PrometheusClient("http://prom.test:9090/%40team/prometheus").url.endswith("/%40team/prometheus")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("https://login.example/auth?client_id=mlobs&code=abc123&state=x1",
                     "https://login.example/auth?client_id=mlobs&code=****&state=x1", id="code"),
        pytest.param("https://s3.example/b?X-Amz-Date=20261126T000000Z&X-Amz-Signature=abc123",
                     "https://s3.example/b?X-Amz-Date=20261126T000000Z&X-Amz-Signature=****", id="a signature"),
        pytest.param("https://login.example/?auth_token=abc123&private-token=def456&region=eu",
                     "https://login.example/?auth_token=****&private-token=****&region=eu", id="inside a name"),
    ],
)
def test_credential_parameters_of_a_shown_url_are_masked(url, shown):
    # a redirect's Location is shown with the URL to use instead
    assert cfg.mask_secret(url) == shown


def test_gather_keeps_to_its_number_of_threads():
    lock = threading.Lock()
    running, most = 0, 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return ok({"resultType": "vector", "result": []})

    c = mock(handler)
    answers = c.gather({i: functools.partial(c.query, f"q{i}") for i in range(30)}, workers=4)
    assert sorted(answers) == list(range(30)) and most == 4


# -- queries longer than a URL may be ------------------------------------------------------------------------------

def _long_query(models: int) -> str:
    """inference_requests_total of llm-7b, selected by a regular expression of `models` names that match nothing
    else: the same answer as `{model="llm-7b"}`, in a query of ~8 characters a name."""
    return 'inference_requests_total{model=~"' + "|".join(f"m{i:06d}" for i in range(models)) + '|llm-7b"}'


def test_a_query_over_64_kib_is_sent_as_a_form(cli, prometheus):
    """httpx refuses a URL component over 64 KiB (it was an internal error); as a POST form the real Prometheus
    answers it, the same as the short query."""
    long = _long_query(10_000)
    assert len(long) > 64 * 1024
    short = 'inference_requests_total{model="llm-7b"}'
    for args in (["--at", prometheus.end], ["--range", "--start", prometheus.end - 600, "--end", prometheus.end]):
        answers = [cli.json("metrics", "query", q, *args, "--prometheus", prometheus.url, expect=0)["result"]
                   for q in (long, short)]
        assert answers[0] == answers[1] and len(answers[0]) == 4


def test_a_query_longer_than_any_server_reads_is_refused_before_sending(cli, prometheus):
    result = cli("metrics", "query", _long_query(600_000), "--prometheus", prometheus.url)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "MiB long" in result.stderr and "shorten the query" in result.stderr


def test_label_values_with_selectors_too_long_for_a_url_is_exit_2(prometheus):
    from mlobs_cli.errors import InputError

    with PrometheusClient(prometheus.url) as client, pytest.raises(InputError, match="over the 65,536"):
        client.label_values("model", [_long_query(10_000)])
