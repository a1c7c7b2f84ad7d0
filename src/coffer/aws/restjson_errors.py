"""The one place Coffer's typed errors become AWS rest-json error responses.

``{"message": ..., "__type": code, ...modelled members}`` with ``x-amzn-ErrorType``, ``x-amzn-RequestId`` and
``Content-Type: application/json``. Members the model puts in headers (ThrottlingException's ``retryAfterSeconds`` →
``Retry-After``) go to headers. botocore reads the code from ``x-amzn-ErrorType`` and raises the modelled exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coffer.aws.protocol import WireResponse
from coffer.aws.restjson_model import ServiceSpec
from coffer.aws.restjson_serialize import JSON_CONTENT_TYPE, dump_json, header_pairs, json_members
from coffer.core.shared.errors import CofferError, ThrottlingError


def error_members(error: CofferError) -> dict[str, Any]:
    """The error's modelled members besides ``message``, keyed by model member names."""
    members = dict(error.fields())
    if isinstance(error, ThrottlingError):
        members.setdefault("retryAfterSeconds", error.retry_after_seconds)
    return members


def serialize_error(error: CofferError, request_id: str, service: ServiceSpec | None = None) -> WireResponse:
    """The response for ``error``; with ``service``, members are placed as the model's error shape says."""
    code = error.code
    headers: list[tuple[str, str]] = [
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
        ("Content-Type", JSON_CONTENT_TYPE),
    ]
    members = error_members(error)
    body: dict[str, Any] = {"message": error.message, "__type": code}
    spec = service.errors.get(code) if service is not None else None
    if spec is not None:
        headers.extend(header_pairs(spec.plan, members))
        modelled = json_members(spec.plan, members)
        modelled.pop("message", None)
        body.update(modelled)
    else:
        retry_after = members.pop("retryAfterSeconds", None)
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        body.update((k, v) for k, v in members.items() if v is not None)
    return WireResponse(error.status, headers, dump_json(body))


def error_classes(root: type[CofferError] = CofferError) -> Iterator[type[CofferError]]:
    """Every concrete class of the error tree (``root`` included), depth first."""
    yield root
    for sub in root.__subclasses__():
        yield from error_classes(sub)


def _has_own_code(cls: type[CofferError]) -> bool:
    """False for bases that only inherit the root's default code (``AuthenticationError``, ``_ResourceError``)."""
    if cls is CofferError:
        return True
    owner = next(klass for klass in cls.__mro__ if "code" in vars(klass))
    return owner is not CofferError


def status_mismatches(service: ServiceSpec) -> list[str]:
    """Disagreements between the error tree and the model's error shapes (empty when all is well).

    Every modelled error code must have a class, and every class with that code must use the model's status.
    """
    problems: list[str] = []
    by_code: dict[str, list[type[CofferError]]] = {}
    for cls in error_classes():
        if _has_own_code(cls):
            by_code.setdefault(cls.code, []).append(cls)
    for code, spec in sorted(service.errors.items()):
        classes = by_code.get(code)
        if not classes:
            problems.append(f"{code}: no CofferError class")
            continue
        for cls in classes:
            if cls.status != spec.status:
                problems.append(f"{code}: {cls.__qualname__}.status is {cls.status}, the model says {spec.status}")
    return problems


__all__ = ["error_classes", "error_members", "serialize_error", "status_mismatches"]
