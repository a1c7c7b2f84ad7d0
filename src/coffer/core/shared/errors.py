"""One typed error tree whose names mirror AWS's error shapes.

Each wire dialect translates these in exactly one place: ``coffer.aws.restjson_errors`` into AWS JSON errors,
``coffer.formats`` into 401/403/404 responses for package clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CofferError(Exception):
    """Base of every error Coffer reports to a caller."""

    code: ClassVar[str] = "InternalServerException"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> Mapping[str, Any]:
        """Modelled members of the error shape, besides ``message``."""
        return {}


class InternalServerError(CofferError):
    code = "InternalServerException"
    status = 500


class ValidationError(CofferError):
    code = "ValidationException"
    status = 400

    def __init__(self, message: str, reason: str = "FIELD_VALIDATION_FAILED") -> None:
        super().__init__(message)
        self.reason = reason

    def fields(self) -> Mapping[str, Any]:
        return {"reason": self.reason}


class _ResourceError(CofferError):
    def __init__(self, message: str, resource_id: str | None = None, resource_type: str | None = None) -> None:
        super().__init__(message)
        self.resource_id = resource_id
        self.resource_type = resource_type

    def fields(self) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        if self.resource_id is not None:
            out["resourceId"] = self.resource_id
        if self.resource_type is not None:
            out["resourceType"] = self.resource_type
        return out


class ResourceNotFoundError(_ResourceError):
    code = "ResourceNotFoundException"
    status = 404


class ConflictError(_ResourceError):
    code = "ConflictException"
    status = 409


class ServiceQuotaExceededError(_ResourceError):
    code = "ServiceQuotaExceededException"
    status = 402


class ThrottlingError(CofferError):
    code = "ThrottlingException"
    status = 429

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class AccessDeniedError(CofferError):
    code = "AccessDeniedException"
    status = 403


class NotImplementedOperationError(CofferError):
    """An operation that is routed and validated but not built yet."""

    code = "NotImplementedException"
    status = 501

    def __init__(self, operation: str) -> None:
        super().__init__(f"The operation {operation} is not implemented by Coffer yet.")
        self.operation = operation


class UnknownOperationError(CofferError):
    """No operation of the service answers this method and path."""

    code = "UnknownOperationException"
    status = 404

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"No operation matches {method} {path}")


# --- authentication errors every AWS JSON service returns (not in the service models) ---


class AuthenticationError(CofferError):
    status = 403


class MissingAuthenticationTokenError(AuthenticationError):
    code = "MissingAuthenticationTokenException"


class IncompleteSignatureError(AuthenticationError):
    code = "IncompleteSignatureException"


class UnrecognizedClientError(AuthenticationError):
    code = "UnrecognizedClientException"

    def __init__(self, message: str = "The security token included in the request is invalid.") -> None:
        super().__init__(message)


class InvalidSignatureError(AuthenticationError):
    code = "InvalidSignatureException"


class ExpiredTokenError(AuthenticationError):
    code = "ExpiredTokenException"

    def __init__(self, message: str = "The security token included in the request is expired") -> None:
        super().__init__(message)


class RequestTooLargeError(CofferError):
    code = "RequestEntityTooLargeException"
    status = 413


# --- errors with an exact AWS code (IAM, STS and the query protocol), written as they are ---


class ExactCodeError(CofferError):
    """Base of the errors whose ``code`` is the exact AWS error code the query protocol writes (IAM's and STS's
    ``NoSuchEntity``, ``EntityAlreadyExists``, ..., and the protocol's own refusals): the query serializer writes
    ``code`` and ``status`` as they are, instead of mapping the class to a query code."""


class UnsupportedMediaTypeError(ExactCodeError):
    code = "UnsupportedMediaType"
    status = 415


class MalformedQueryStringError(ExactCodeError):
    code = "MalformedQueryString"
    status = 400


class MissingActionError(ExactCodeError):
    code = "MissingAction"
    status = 400

    def __init__(self, message: str = "Missing Action") -> None:
        super().__init__(message)


class InvalidActionError(ExactCodeError):
    code = "InvalidAction"
    status = 400


# --- transport-level refusals (the HTTP layer answers them before the app sees the request) ---


class RequestTimeoutError(ExactCodeError):
    code = "RequestTimeout"
    status = 408


class RequestUriTooLongError(ExactCodeError):
    code = "RequestURITooLong"
    status = 414


class RequestHeaderSectionTooLargeError(ExactCodeError):
    code = "RequestHeaderSectionTooLarge"
    status = 431


class ServiceUnavailableError(ExactCodeError):
    code = "ServiceUnavailable"
    status = 503
