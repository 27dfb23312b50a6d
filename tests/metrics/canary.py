"""A canary in a store of its own: model `m`, v1 healthy and v2 failing, for the tests that each view shows each
version's own numbers (common.Scoped), in Prometheus or VictoriaMetrics."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from tests.conftest import backfilled_prometheus, imported_victoriametrics


def canary(at: int, versioned_errors: bool) -> str:
    """v1 serving 100 req/s without an error, v2 50 req/s with 20% failing, for 10 minutes before `at`: errors
    counted by a 5xx status on the requests, and in inference_errors_total with or without a version label."""
    lines = []
    for n in range(40, -1, -1):
        t, k = at - n * 15, 40 - n
        for version, rps, ratio in (("v1", 100.0, 0.0), ("v2", 50.0, 0.2)):
            ok, failed = 1000 + rps * (1 - ratio) * 15 * k, 1000 + rps * ratio * 15 * k
            lines.append(f'inference_requests_total{{model="m",version="{version}",status="200"}} {ok} {t}')
            lines.append(f'inference_requests_total{{model="m",version="{version}",status="503"}} {failed} {t}')
            if versioned_errors:
                lines.append(f'inference_errors_total{{model="m",version="{version}",error_type="timeout"}} '
                             f"{failed} {t}")
        if not versioned_errors:
            lines.append(f'inference_errors_total{{model="m",error_type="timeout"}} {2000 + 50 * 0.2 * 15 * k} {t}')
    return "\n".join(lines) + "\n# EOF\n"


def imported(kind: str, tmp_path: Path, openmetrics: str) -> AbstractContextManager[str]:
    if kind == "prometheus":
        return backfilled_prometheus(tmp_path, openmetrics)
    return imported_victoriametrics(tmp_path, openmetrics)
