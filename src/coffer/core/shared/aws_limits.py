"""AWS's session and token lifetimes, one named constant each (IAM, STS and CodeArtifact share them)."""

from __future__ import annotations

MAX_SESSION_SECONDS = 43200
"""Twelve hours: the longest a role's MaxSessionDuration may be, GetSessionToken's default duration, the default
and longest lifetime of a CodeArtifact authorization token (so also what a token of a long-term key lives)."""

MIN_SESSION_SECONDS = 900
"""The shortest duration STS credentials and authorization tokens may be asked for (a token may also ask for 0)."""

ONE_HOUR = 3600
"""A role's default MaxSessionDuration (and its lower bound), AssumeRole's default duration, the cap of role
chaining and of the root user's sessions."""
