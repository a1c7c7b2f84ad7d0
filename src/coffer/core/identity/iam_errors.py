"""Errors with an exact AWS error code, for services whose clients match on codes (IAM, STS).

Core services raise these when IAM/STS define a specific code (``EntityAlreadyExists``, ``NoSuchEntity``,
``DeleteConflict``, ``LimitExceeded``, ``MalformedPolicyDocument``, ``ExpiredToken``, ...); the query wire
serializes ``code`` and ``status`` as they are.
"""

from __future__ import annotations

from coffer.core.shared.errors import CofferError


class AwsCodedError(CofferError):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # per-instance code: one class for every IAM/STS error code
        self.status = status  # type: ignore[misc]


def no_such_entity(message: str) -> AwsCodedError:
    return AwsCodedError("NoSuchEntity", 404, message)


def entity_already_exists(message: str) -> AwsCodedError:
    return AwsCodedError("EntityAlreadyExists", 409, message)


def delete_conflict(message: str) -> AwsCodedError:
    return AwsCodedError("DeleteConflict", 409, message)


def limit_exceeded(message: str) -> AwsCodedError:
    return AwsCodedError("LimitExceeded", 409, message)


def invalid_input(message: str) -> AwsCodedError:
    return AwsCodedError("InvalidInput", 400, message)
