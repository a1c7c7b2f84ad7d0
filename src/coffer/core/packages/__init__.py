"""Packages: models, per-format names and distributions, the publish and read paths, batch operations."""
