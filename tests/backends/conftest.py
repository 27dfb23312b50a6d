"""A reader of what the Pushgateway (the `gateway` fixture of tests/conftest.py) serves on /metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

SAMPLE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_samples(text: str) -> list[Sample]:
    """The samples of a text exposition: label values unescaped, values read as Go prints them (NaN, +Inf...)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        labels = {k: re.sub(r"\\.", lambda e: UNESCAPE[e.group(0)], v) for k, v in LABEL.findall(m["labels"] or "")}
        samples.append(Sample(m["name"], labels, float(m["value"])))
    return samples


@pytest.fixture
def scrape(gateway: str) -> Callable[[str], list[Sample]]:
    """`scrape(job)`: the samples the gateway serves for that job (tests share one gateway, each its own job)."""

    def read(job: str) -> list[Sample]:
        response = httpx.get(f"{gateway}/metrics", timeout=5)
        response.raise_for_status()
        return [s for s in parse_samples(response.text) if s.labels.get("job") == job]

    return read
