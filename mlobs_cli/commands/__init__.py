"""The typer layer: parse flags, resolve settings, call the domain, render, exit. Nothing else."""
