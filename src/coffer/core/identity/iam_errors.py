"""IAM's and STS's error codes as classes of the error tree (the query wire writes ``code`` and ``status`` as
they are): core services raise these where IAM or STS define a specific code."""

from __future__ import annotations

from coffer.core.shared.errors import ExactCodeError


class NoSuchEntityError(ExactCodeError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExistsError(ExactCodeError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflictError(ExactCodeError):
    code = "DeleteConflict"
    status = 409


class LimitExceededError(ExactCodeError):
    code = "LimitExceeded"
    status = 409


class InvalidInputError(ExactCodeError):
    code = "InvalidInput"
    status = 400


class IamValidationError(ExactCodeError):
    """IAM's and STS's ``ValidationError`` for rules the model does not express (cross-field rules, quotas)."""

    code = "ValidationError"
    status = 400


class IamAccessDeniedError(ExactCodeError):
    """``AccessDenied`` raised by IAM and STS themselves (not by the authorizer's policy evaluation)."""

    code = "AccessDenied"
    status = 403


class InvalidParameterValueError(ExactCodeError):
    code = "InvalidParameterValue"
    status = 400


class PackedPolicyTooLargeError(ExactCodeError):
    code = "PackedPolicyTooLarge"
    status = 400
