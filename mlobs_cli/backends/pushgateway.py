"""Prometheus Pushgateway (placeholder, replaced by the pushgateway helper)."""
