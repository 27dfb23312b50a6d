"""The pure parts of `mlobs logs`: windows, names, redaction; and one run of each command on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlobs_cli.errors import InputError
from mlobs_cli.logs import pii, query
from tests.logs.conftest import PG_PASSWORD, iso, window_args


def test_window_defaults_to_the_last_duration_before_now():
    w = query.window(None, None, None, "1h")
    assert w.end - w.start == timedelta(hours=1)
    assert abs((w.end - datetime.now(UTC)).total_seconds()) < 60


@pytest.mark.parametrize(("since", "start", "end", "expected"), [
    pytest.param("2h", None, "2026-11-26T12:00:00Z", ("2026-11-26T10:00:00Z", "2026-11-26T12:00:00Z"),
                 id="since counts back from to"),
    pytest.param(None, "2026-11-26T10:00:00+02:00", "1795687200", ("2026-11-26T08:00:00Z", "2026-11-26T10:00:00Z"),
                 id="offsets and unix seconds are UTC"),
    pytest.param(None, None, "2026-11-26T12:00:00Z", ("2026-11-26T11:00:00Z", "2026-11-26T12:00:00Z"),
                 id="to alone: the default duration before it"),
])
def test_window_forms(since, start, end, expected):
    w = query.window(since, start, end, "1h")
    assert (iso(w.start).replace(".000", ""), iso(w.end).replace(".000", "")) == expected


def test_search_window_is_open_without_options():
    assert query.window(None, None, None, None) == query.Window(None, None)
    assert query.window(None, "2026-11-26", None, None).end is None


@pytest.mark.parametrize("name", ["age", "user.age", "f-1", "a:b/c", "A_1"])
def test_feature_names_accepted(name):
    assert query.check_feature_name(name) == name


@pytest.mark.parametrize("name", ["a'b", 'a"b', "a b", "a;b", "-a", "x" * 129, "é"])
def test_feature_names_refused(name):
    with pytest.raises(InputError):
        query.check_feature_name(name)


def test_redaction_hashes_ids_and_redacts_pii_at_any_depth():
    record = {"user_id": "alice", "client_ip_hash": None, "email": "a@x.org", "model_id": "m",
              "input_features": '{"Email": "a@x.org", "list": [{"ssn": "1"}], "age": 3}',
              "output": {"phone": None, "class": "ok"}}
    shown = pii.shown(record, ["email", "phone", "ssn"])
    assert shown == {"user_id": pii.digest("alice"), "client_ip_hash": None, "email": "[redacted]", "model_id": "m",
                     "input_features": {"Email": "[redacted]", "list": [{"ssn": "[redacted]"}], "age": 3},
                     "output": {"phone": None, "class": "ok"}}
    assert pii.digest("alice") == pii.digest("alice") != pii.digest("bob")


@pytest.mark.parametrize(("text", "shown"), [
    pytest.param("{'email': 'a@x.org', 'age': 3}", pii.NOT_SHOWN, id="python repr: cannot be searched, withheld"),
    pytest.param('"{\\"email\\": \\"a@x.org\\"}"', {"email": "[redacted]"}, id="json text in a json string"),
    pytest.param("fraud", "fraud", id="a plain label"),
])
def test_a_json_column_that_is_not_plain_json_never_shows_pii(text, shown):
    assert pii.shown({"input_features": text}, ["email"]) == {"input_features": shown}


@pytest.mark.parametrize(("text", "shown"), [
    ("failed for jane.doe+x@mail.example.com: quota", "failed for [redacted]: quota"),
    ("bad ssn 078-05-1120 in request", "bad ssn [redacted] in request"),
    ("deadline exceeded after 2000 ms", "deadline exceeded after 2000 ms"),
    ("CUDA out of memory on 10.0.0.1", "CUDA out of memory on 10.0.0.1"),
])
def test_free_text_loses_emails_and_ssns(text, shown):
    assert pii.shown({"error_message": text}, ["email"]) == {"error_message": shown}
    assert pii.scrub(text) == shown


def _without_source(out: dict) -> dict:
    return {k: v for k, v in out.items() if k != "source"}


@pytest.mark.parametrize("command", [
    pytest.param(["latency", "--by", "model,version,status"], id="latency"),
    pytest.param(["errors", "--min-requests", "10"], id="errors"),
    pytest.param(["confidence", "--bucket", "30m"], id="confidence"),
    pytest.param(["search", "--min-latency-ms", "90", "--limit", "50"], id="search"),
])
def test_every_store_gives_the_same_answer(logs, stores, postgres, cli, command):
    env = {"MLOBS_LOG_PASSWORD": PG_PASSWORD}
    args = [*command, *window_args(*logs.current)]
    outs = [cli.json("logs", *args, "--source", s, env=env, expect=0)
            for s in (str(stores.jsonl), str(stores.parquet), postgres.url)]
    first = _without_source(outs[0])
    for other in outs[1:]:
        assert _close(first, _without_source(other))


def _close(a, b) -> bool:
    """Equal, numbers to 1e-9 relative (DuckDB and PostgreSQL may round the last bits of a sum differently)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return b == pytest.approx(a, rel=1e-9)
    return a == b


def test_pii_keys_match_by_word_and_values_are_scrubbed_inside_features():
    """Issue 12 §5: `user_email`, `phone_number`, `ip` and PII inside feature strings, on display."""
    features = {"user_email": "a@x.org", "phone_number": "+1-555-0100", "ip": "10.1.2.3", "zip": "94103",
                "tokenizer": "bpe", "note": "card 4111 1111 1111 1111, ssn 078-05-1120, mail b@y.com",
                "order": "4111111111111112"}
    import json

    shown = pii.shown({"input_features": json.dumps(features)}, ["email", "phone", "ssn", "ip"])["input_features"]
    assert shown == {"user_email": "[redacted]", "phone_number": "[redacted]", "ip": "[redacted]", "zip": "94103",
                     "tokenizer": "bpe", "note": "card [redacted], ssn [redacted], mail [redacted]",
                     "order": "4111111111111112"}  # fails the Luhn check: an id, not a card


@pytest.mark.parametrize(("number", "valid"), [("4111111111111111", True), ("5500 0000 0000 0004", True),
                                               ("378282246310005", True), ("4111111111111112", False)])
def test_the_luhn_check_against_known_test_card_numbers(number, valid):
    assert pii._luhn(number) is valid
