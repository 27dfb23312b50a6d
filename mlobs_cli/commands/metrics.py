"""`mlobs metrics`: Prometheus queries and the per-model summary of the metrics catalogue."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Prometheus queries and the per-model summary of the metrics catalogue.")
