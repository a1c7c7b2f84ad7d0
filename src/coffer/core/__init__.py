"""The pure domain: models, errors, policies, tokens and the services that use the Store port.

Nothing in here imports HTTP, SQL or botocore; adapters depend on this package, never the reverse.
"""
