"""Server-level HTTP: limits, per-dialect refusals and the access log."""
