"""Primitives every context uses: errors, clock, caches, ARNs, signing keys, pagination."""
