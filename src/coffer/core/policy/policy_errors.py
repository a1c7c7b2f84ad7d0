"""The one error the policy package raises while parsing."""

from __future__ import annotations

from coffer.core.shared.errors import CofferError


class MalformedPolicyDocumentError(CofferError):
    """A policy text that is not valid JSON or breaks the IAM policy grammar (IAM's ``MalformedPolicyDocument``)."""

    code = "MalformedPolicyDocument"
    status = 400
