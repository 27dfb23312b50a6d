"""One `drift compare` run: open both samples, compare, publish. The seam between the engine and its backends."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mlobs_cli import files
from mlobs_cli.backends import pushgateway, samples
from mlobs_cli.config import Settings
from mlobs_cli.drift.compare import Progress, Selection, compare
from mlobs_cli.drift.report import DriftReport
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.results import BackendError, Gauge

__all__ = ["Request", "Selection", "gauges", "run"]


@dataclass(frozen=True, slots=True)
class Request:
    reference: str
    current: str
    selection: Selection = field(default_factory=Selection)
    plot: tuple[str, ...] = ()
    html: Path | None = None
    model: str | None = None
    force: bool = False  # --html replaces an existing file


def _check(request: Request, settings: Settings) -> None:
    """Refuse, before any work, what cannot succeed or would overwrite the user's data."""
    if settings["pushgateway.url"] and not request.model:
        raise InputError("--pushgateway needs --model: the published feature_psi carries a model label")
    if request.html is not None:
        for pattern in (request.reference, request.current):
            if os.path.exists(pattern) and os.path.exists(request.html) and os.path.samefile(pattern, request.html):
                raise InputError(f"--html {request.html} is an input file; choose another path")
        files.refuse_existing(request.html, "--html", request.force)
        if not request.html.parent.is_dir():
            raise InputError(f"--html: directory {request.html.parent} does not exist")
        if not os.access(request.html.parent, os.W_OK):
            raise InputError(f"--html: cannot write to directory {request.html.parent}")


def run(request: Request, settings: Settings, progress: Progress | None = None) -> DriftReport:
    _check(request, settings)
    with samples.open_samples(request.reference, request.current) as (ref, cur):
        try:
            report = compare(ref, cur, request.selection, settings.drift, progress)
        except MemoryError:
            raise InputError(f"not enough memory for one column pair of {ref.rows:,} and {cur.rows:,} rows: "
                             "compare a sample of the inputs (README: Limits)") from None
    missing = [name for name in request.plot if report.feature(name) is None]
    if missing:
        raise InputError(f"--plot {missing[0]}: not a compared feature")
    url = settings["pushgateway.url"]
    if url:
        try:
            pushgateway.push(url, settings["pushgateway.job"], {"model": request.model}, gauges(report))
        except BackendUnavailable as e:
            report = report.with_errors([BackendError("pushgateway", str(e))])  # the message names the URL, masked
    return report


def gauges(report: DriftReport) -> list[Gauge]:
    """What a scheduled drift job publishes: the seed's feature_psi per feature, and the number of alerts."""
    psi = [Gauge("feature_psi", "Population Stability Index of the feature, current against reference",
                 (("feature", f.name),), f.psi) for f in report.features if f.psi is not None]
    alerts = Gauge("feature_drift_alerts", "Features whose drift alerts (PSI > 0.2, or KS p < 0.01 and KS > 0.1)",
                   (), float(len(report.alerts)))
    return [*psi, alerts]
