"""`mlobs logs`: The prediction-log store: latency, errors, search, feature shift, confidence, export."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="The prediction-log store: latency, errors, search, feature shift, confidence, export.")
