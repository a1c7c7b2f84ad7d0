"""The ``coffer`` command line."""
