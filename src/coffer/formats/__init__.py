"""The package wire: pypi/, npm/, ... and token authentication for them."""
