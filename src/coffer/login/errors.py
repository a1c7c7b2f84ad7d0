"""The one error of the client side."""

from __future__ import annotations


class LoginError(Exception):
    """A tool could not be configured (the message is safe to print: tokens are redacted)."""
