"""Runbooks as data, walked with live evidence: the loader (model, schema, expr), the check kinds (checks/), the
engine (evidence -> findings -> causes -> mitigations), the walk and its saved state, fixtures and `runbook test`.
No typer and no rich here: commands/runbook.py parses, render/runbook.py draws."""
