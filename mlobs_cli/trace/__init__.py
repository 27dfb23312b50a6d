"""Traces: one request's span tree (waterfall, self time, critical path), the breakdown of many requests by
stage, and one request against a baseline. Pure logic over spans a trace store (backends/tracestore) reads."""
