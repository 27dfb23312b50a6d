"""`mlobs runbook`: Runbooks as data, walked with live evidence."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Runbooks as data, walked with live evidence.")
