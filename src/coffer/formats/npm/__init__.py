"""The npm registry endpoint (``routes``): packuments, tarballs, publish, dist-tags."""

from coffer.formats.npm.routes import NpmEndpoint

__all__ = ["NpmEndpoint"]
