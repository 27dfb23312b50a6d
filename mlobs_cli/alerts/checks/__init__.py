"""One module per check; each module's NAME is also its docs page (docs/checks/<group>/<name>.md)."""
