"""Coffer: a self-hosted, CodeArtifact-compatible package repository."""

__version__ = "0.1.0"
