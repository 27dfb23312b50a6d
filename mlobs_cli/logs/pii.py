"""What `logs search` may show of a record: identifiers hashed, the configured PII fields redacted.

The seed logs `user_id` and `client_ip_hash` hashed already, but a fleet that does not still must not leak them
into an incident channel; a short digest keeps rows of the same user recognisable without showing who it is.
`email`, `phone`, `ssn` and `ip` (the seed's `redact_fields` and the address, the `log.pii_fields` key) are
replaced wherever they appear: as a column or as a key at any depth of `input_features` and `output`, also as a
word of a longer key (`user_email`, `phone_number`); e-mails, SSNs and card numbers inside their string values too. Free text (`error_message`) has no
fields: e-mail addresses and SSN-shaped numbers in it are replaced (`failed for jane@example.com`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

HASHED = ("user_id", "client_ip_hash")
REDACTED = "[redacted]"
NOT_SHOWN = "[not JSON: not shown]"
JSON_COLUMNS = ("input_features", "output")
FREE_TEXT = ("error_message",)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def scrub(text: str | None) -> str | None:
    """Free text with the e-mail addresses, SSN-shaped numbers and card numbers (13 to 19 digits passing the
    Luhn check, so an order id or a timestamp is left alone) in it redacted."""
    if not text:
        return text
    text = SSN.sub(REDACTED, EMAIL.sub(REDACTED, text))
    return CARD.sub(lambda m: REDACTED if _luhn(m[0]) else m[0], text)


def _words(key: str) -> set[str]:
    return set(re.split(r"[-_.\s]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()))


def is_pii_key(key: str, fields: frozenset[str]) -> bool:
    """A key is PII when it is a configured field or one of its words is (`user_email`, `phoneNumber`, `ip`):
    fleets name the same thing many ways; whole words only, so `zip` is not `ip`."""
    return key.lower() in fields or bool(_words(key) & fields)


def digest(value: Any) -> str | None:
    """A 12-hex-digit SHA-256 digest: the same input shows the same, and nothing of the input shows."""
    if value is None:
        return None
    return "sha256:" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:12]


def _redact(value: Any, fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if is_pii_key(k, fields) and v is not None else _redact(v, fields)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, fields) for v in value]
    return scrub(value) if isinstance(value, str) else value  # a free-text feature: `"note": "call a@x.org"`


def _parsed(value: Any) -> Any:
    """JSON columns arrive as text (DuckDB) or already parsed (PostgreSQL jsonb): parse the text.

    A structure that is not JSON (a CSV writer's Python repr, `{'email': ...}`) cannot be searched for the PII
    fields, so it is withheld rather than shown as it is; JSON text inside a JSON string is parsed in turn.
    """
    if not isinstance(value, str):
        return value
    structured = value.lstrip().startswith(("{", "["))
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return NOT_SHOWN if structured else value
    return _parsed(parsed) if isinstance(parsed, str) else parsed


def shown(record: dict[str, Any], pii_fields: Iterable[str]) -> dict[str, Any]:
    """The record as it may be displayed."""
    fields = frozenset(f.lower() for f in pii_fields)
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in HASHED:
            out[key] = digest(value)
        elif is_pii_key(key, fields):
            out[key] = None if value is None else REDACTED
        elif key in JSON_COLUMNS:
            out[key] = _redact(_parsed(value), fields)
        elif key in FREE_TEXT and isinstance(value, str):
            out[key] = scrub(value)
        else:
            out[key] = value
    return out
