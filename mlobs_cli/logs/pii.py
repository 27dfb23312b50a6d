"""What `logs search` may show of a record: identifiers hashed, the configured PII fields redacted.

The seed logs `user_id` and `client_ip_hash` hashed already, but a fleet that does not still must not leak them
into an incident channel; a short digest keeps rows of the same user recognisable without showing who it is.
`email`, `phone` and `ssn` (the seed's `redact_fields`, the `log.pii_fields` key) are replaced wherever they
appear: as a column or as a key at any depth of `input_features` and `output`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

HASHED = ("user_id", "client_ip_hash")
REDACTED = "[redacted]"
JSON_COLUMNS = ("input_features", "output")


def digest(value: Any) -> str | None:
    """A 12-hex-digit SHA-256 digest: the same input shows the same, and nothing of the input shows."""
    if value is None:
        return None
    return "sha256:" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:12]


def _redact(value: Any, fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k.lower() in fields and v is not None else _redact(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, fields) for v in value]
    return value


def _parsed(value: Any) -> Any:
    """JSON columns arrive as text (DuckDB) or already parsed (PostgreSQL jsonb): parse the text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def shown(record: dict[str, Any], pii_fields: Iterable[str]) -> dict[str, Any]:
    """The record as it may be displayed."""
    fields = frozenset(f.lower() for f in pii_fields)
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in HASHED:
            out[key] = digest(value)
        elif key.lower() in fields:
            out[key] = None if value is None else REDACTED
        elif key in JSON_COLUMNS:
            out[key] = _redact(_parsed(value), fields)
        else:
            out[key] = value
    return out
