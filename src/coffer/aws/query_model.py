"""A query-protocol service model (STS, IAM), compiled once: operations by ``Action``, input and output shapes
(the same :class:`~coffer.aws.shapes.Shape` graph the rest-json side uses), the ``resultWrapper`` of each output,
the error shapes with their codes and statuses, the XML namespace, and what each service does differently
(:class:`QueryTraits`, data rather than name checks).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from coffer.aws.shapes import Member, Shape, ShapeBuilder
from coffer.core.shared.errors import (
    AccessDeniedError,
    CofferError,
    ConflictError,
    ExpiredTokenError,
    IncompleteSignatureError,
    InternalServerError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    NotImplementedOperationError,
    RequestTooLargeError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ThrottlingError,
    UnknownOperationError,
    UnrecognizedClientError,
    ValidationError,
)

ErrorCodes = Mapping[type[CofferError], tuple[str, int]]

COMMON_ERROR_CODES: Final[ErrorCodes] = MappingProxyType(
    {
        ValidationError: ("ValidationError", 400),
        AccessDeniedError: ("AccessDenied", 403),
        ThrottlingError: ("Throttling", 400),
        MissingAuthenticationTokenError: ("MissingAuthenticationToken", 403),
        IncompleteSignatureError: ("IncompleteSignature", 400),
        UnrecognizedClientError: ("InvalidClientTokenId", 403),
        InvalidSignatureError: ("SignatureDoesNotMatch", 403),
        ExpiredTokenError: ("ExpiredToken", 403),
        RequestTooLargeError: ("RequestEntityTooLarge", 413),
        NotImplementedOperationError: ("NotImplemented", 501),
        UnknownOperationError: ("InvalidAction", 400),
        InternalServerError: ("InternalFailure", 500),
        ResourceNotFoundError: ("NoSuchEntity", 404),
        ConflictError: ("EntityAlreadyExists", 409),
        ServiceQuotaExceededError: ("LimitExceeded", 409),
    }
)
"""Coffer's error classes -> (query code, status). The nearest class in the MRO wins; an ``ExactCodeError`` keeps
its own code; a code the service models takes the model's status."""


@dataclass(frozen=True, slots=True)
class QueryTraits:
    """What one query service does differently from the others."""

    url_encoded: frozenset[str] = frozenset()  # string shapes sent URL-encoded in responses
    error_codes: ErrorCodes = field(default_factory=lambda: COMMON_ERROR_CODES)


TRAITS: Final[Mapping[str, QueryTraits]] = MappingProxyType(
    {
        "sts": QueryTraits(),
        # IAM returns policy documents URL-encoded (botocore decodes every ``policyDocumentType`` string with
        # ``unquote`` and ``json.loads``): handlers return the JSON text, the serializer encodes it.
        "iam": QueryTraits(
            url_encoded=frozenset({"policyDocumentType"}),
            error_codes=MappingProxyType({**COMMON_ERROR_CODES, InternalServerError: ("ServiceFailure", 500)}),
        ),
    }
)
"""The traits of the query services Coffer serves, by endpoint prefix; others get the defaults."""


@dataclass(frozen=True, slots=True)
class QueryOperation:
    name: str
    input: Shape | None = field(repr=False)
    output: Shape | None = field(repr=False)
    result_wrapper: str | None
    errors: tuple[str, ...] = field(repr=False)
    unsigned: bool  # the model lets clients call it without a signature (AssumeRoleWithWebIdentity, ...)
    # the input shape with member names lower-camel-cased: validation messages name paths that way
    validation_shape: Shape | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class QueryErrorSpec:
    code: str
    status: int
    shape_name: str


@dataclass(frozen=True, slots=True)
class QuerySpec:
    name: str  # endpointPrefix: "sts", "iam"
    api_version: str
    signing_name: str
    xml_namespace: str
    operations: Mapping[str, QueryOperation]
    errors: Mapping[str, QueryErrorSpec]  # error code -> spec
    flattened: frozenset[tuple[str, str]] = field(repr=False)  # (structure, member) pairs serialized flattened
    traits: QueryTraits = field(repr=False)


def load_query_service(name: str, api_version: str | None = None) -> QuerySpec:
    """Load a query-protocol model (``sts``, ``iam``) from the installed botocore and compile it. Once, at start."""
    import botocore.session  # local import: only needed here

    session = botocore.session.get_session()
    return build_query_service(session.get_service_model(name, api_version))


def build_query_service(service_model: Any, traits: QueryTraits | None = None) -> QuerySpec:
    """Compile a ``botocore.model.ServiceModel`` whose protocol is ``query``; ``traits`` default to
    :data:`TRAITS`' entry for the service."""
    protocol = str(service_model.metadata.get("protocol", ""))
    if protocol != "query":
        raise ValueError(f"not a query-protocol service: {protocol!r}")
    builder = ShapeBuilder()
    flattened: set[tuple[str, str]] = set()
    twins = _CamelTwins()
    operations: dict[str, QueryOperation] = {}
    for op_name in service_model.operation_names:
        op = service_model.operation_model(op_name)
        in_shape = builder.shape(op.input_shape) if op.input_shape is not None else None
        out_shape = builder.shape(op.output_shape) if op.output_shape is not None else None
        for bshape in (op.input_shape, op.output_shape):
            if bshape is not None:
                _collect_flattened(bshape, flattened, set())
        wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape is not None else None
        auth = op.metadata.get("auth") if hasattr(op, "metadata") else None
        unsigned = op.auth_type == "none" or (isinstance(auth, list) and auth == ["smithy.api#noAuth"])
        operations[str(op_name)] = QueryOperation(
            name=str(op_name),
            input=in_shape,
            output=out_shape,
            result_wrapper=str(wrapper) if wrapper else None,
            errors=tuple(str(e.name) for e in op.error_shapes),
            unsigned=unsigned,
            validation_shape=twins.shape(in_shape) if in_shape is not None else None,
        )
    errors: dict[str, QueryErrorSpec] = {}
    for error_shape in service_model.error_shapes:
        meta = error_shape.metadata.get("error") or {}
        code = str(meta.get("code", error_shape.name))
        status = int(meta.get("httpStatusCode", 500 if meta and not meta.get("senderFault") else 400))
        errors[code] = QueryErrorSpec(code, status, str(error_shape.name))
    builder.compile_checks()
    name = str(service_model.metadata.get("endpointPrefix", service_model.service_name))
    return QuerySpec(
        name=name,
        api_version=str(service_model.api_version),
        signing_name=str(service_model.signing_name),
        xml_namespace=str(service_model.metadata.get("xmlNamespace", "")),
        operations=MappingProxyType(operations),
        errors=MappingProxyType(errors),
        flattened=frozenset(flattened),
        traits=traits if traits is not None else TRAITS.get(name, QueryTraits()),
    )


def _collect_flattened(bshape: Any, out: set[tuple[str, str]], seen: set[str]) -> None:
    if bshape.name in seen:
        return
    seen.add(bshape.name)
    if bshape.type_name == "structure":
        for mname, mshape in bshape.members.items():
            if mshape.serialization.get("flattened"):
                out.add((str(bshape.name), str(mname)))
            _collect_flattened(mshape, out, seen)
    elif bshape.type_name == "list":
        _collect_flattened(bshape.member, out, seen)
    elif bshape.type_name == "map":
        _collect_flattened(bshape.key, out, seen)
        _collect_flattened(bshape.value, out, seen)


def lower_camel(name: str) -> str:
    """How the query services name a member in validation messages: ``RoleSessionName`` -> ``roleSessionName``."""
    return name[:1].lower() + name[1:]


class _CamelTwins:
    """Copies of container shapes whose structure members are named ``lower_camel(name)`` (built at load time)."""

    def __init__(self) -> None:
        self._twins: dict[str, Shape] = {}

    def shape(self, shape: Shape) -> Shape:
        if shape.type not in ("structure", "list", "map"):
            return shape
        twin = self._twins.get(shape.name)
        if twin is not None:
            return twin
        twin = copy.copy(shape)
        self._twins[shape.name] = twin  # before the members: recursive shapes terminate
        if shape.type == "structure":
            twin.members = MappingProxyType(
                {lower_camel(n): self._member(m, lower_camel(n)) for n, m in shape.members.items()}
            )
            twin.required = frozenset(lower_camel(n) for n in shape.required)
        elif shape.type == "list":
            assert shape.member is not None
            twin.member = self._member(shape.member, shape.member.name)
        else:
            assert shape.key is not None and shape.value is not None
            twin.key = self._member(shape.key, shape.key.name)
            twin.value = self._member(shape.value, shape.value.name)
        return twin

    def _member(self, member: Member, name: str) -> Member:
        return Member(name, self.shape(member.shape), wire_name=member.wire_name, required=member.required)


def unhandled(spec: QuerySpec, handled: Iterable[str]) -> Sequence[str]:
    """The operations of ``spec`` without a handler (they answer ``NotImplemented``), sorted."""
    names = set(handled)
    return sorted(name for name in spec.operations if name not in names)


__all__ = [
    "COMMON_ERROR_CODES",
    "TRAITS",
    "ErrorCodes",
    "QueryErrorSpec",
    "QueryOperation",
    "QuerySpec",
    "QueryTraits",
    "build_query_service",
    "load_query_service",
    "lower_camel",
    "unhandled",
]
