"""A reader of what the Pushgateway (the `gateway` fixture of tests/conftest.py) serves on /metrics, and a
Prometheus that gives up on every query that takes more than a millisecond."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import free_port, installed, serving

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


@pytest.fixture(scope="session")
def impatient_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus with no data whose `--query.timeout` is 1 ms: a query that evaluates a subquery of ~600,000
    steps (tens of ms) always gives up, answering 503 with errorType timeout."""
    binary = installed("prometheus", "prometheus")
    root = tmp_path_factory.mktemp("impatient-prometheus")
    (root / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    argv = [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}", "--query.timeout=1ms", "--log.level=warn"]
    with serving("prometheus", argv, url, root / "stderr.log"):
        yield url
