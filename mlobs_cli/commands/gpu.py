"""`mlobs gpu`: GPU health through NVML, on one node or across the fleet (dcgm-exporter)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="GPU health through NVML, on one node or across the fleet (dcgm-exporter).")
