"""The Prometheus client against a real Prometheus (tests/conftest.py starts it), and, for what a real server will
not do on demand (a 503 then a 200, a token to check, a warning, a body that is not JSON), httpx.MockTransport."""

from __future__ import annotations

import base64
import functools
import json

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
    assert seen == ["2866.904", "15"]


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
