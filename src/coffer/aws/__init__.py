"""The AWS wire: model-driven routing, parsing, validation, serialization, errors and SigV4."""
