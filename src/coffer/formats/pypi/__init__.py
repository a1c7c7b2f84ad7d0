"""The PyPI repository endpoint: simple index (PEP 503/691/700/658), downloads and the legacy upload API."""

from coffer.formats.pypi.routes import PypiEndpoint

__all__ = ["PypiEndpoint"]
