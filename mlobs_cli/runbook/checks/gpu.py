"""`kind: gpu`: the GPUs of this node through NVML, or a recording of them (`mlobs gpu record`), read and judged
by `mlobs gpu status` (mlobs_cli/gpu).

One row per GPU, labelled `gpu` (its index), `host`, `model` (the model of its first process, from gpu.models /
gpu.model_env; "" when unknown) and `findings` (what `gpu status` says about it: throttling, ECC, XID...), with
`utilization` (percent), `memory_used` (a share of its memory, 0..1, as the catalogue's gpu_memory threshold) and
`temperature`. The fleet's GPUs are read from dcgm-exporter's metrics by a promql check, at the walk's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlobs_cli.errors import MlobsError
from mlobs_cli.runbook.checks.base import ERROR, NO_DATA, OK, Context, Evidence, Row

if TYPE_CHECKING:
    from mlobs_cli.runbook.model import Check

NAME = "gpu"
TEMPLATES = ("replay",)
KEYS = TEMPLATES
ROW_EXPRESSIONS = ()
FIELDS = ("utilization", "memory_used", "temperature")
LABELS = ("gpu", "host", "model", "findings")


def fields(check: Check) -> tuple[str, ...]:
    return FIELDS


def validate(check: Check) -> list[tuple[str, str]]:
    return [("labels", f"a gpu check's rows have the labels {', '.join(LABELS)}, not {label!r}")
            for label in check.labels if label not in LABELS]


def run(check: Check, ctx: Context) -> Evidence:
    from mlobs_cli.gpu import service  # NVML loads only when a gpu check runs

    replay = ctx.rendered.get("replay") or None
    described = f"gpu status --replay {replay}" if replay else "gpu status (NVML on this node)"
    try:
        report = service.status(service.Request(replay=Path(replay) if replay else None), ctx.settings)
    except MlobsError as e:
        return Evidence(check.id, NAME, ERROR, described, error=str(e), source="nvml")
    rows = []
    for gpu in report.gpus:
        said = "; ".join(f.message for f in report.findings if f.subject == gpu.label)
        model = next((p.model for p in gpu.processes or () if p.model), "")
        used = gpu.memory.used_percent
        rows.append(Row({"gpu": str(gpu.index if gpu.index is not None else gpu.uuid), "host": gpu.host or "",
                         "model": model, "findings": gpu.error or said},
                        {"utilization": gpu.utilization_gpu, "memory_used": None if used is None else used / 100,
                         "temperature": gpu.temperature.gpu}))
    if not rows:
        error = "; ".join(e.message for e in report.errors) or "no GPU"
        return Evidence(check.id, NAME, ERROR if report.errors else NO_DATA, described, error=error, source="nvml")
    busiest = max(rows, key=lambda r: r.values["utilization"] or 0)
    digest = f"{len(rows)} GPU(s); busiest GPU {busiest.labels['gpu']} at {busiest.values['utilization']}%"
    return Evidence(check.id, NAME, OK, described, tuple(rows), source="nvml", digest=digest)
