"""What `mlobs metrics`, `mlobs dashboard` and `mlobs alerts firing` compute from Prometheus: typed results, no I/O
to stdout (render/metrics.py draws them)."""
