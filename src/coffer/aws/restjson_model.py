"""A rest-json service model (CodeArtifact), compiled once into plain, precomputed plans.

``build_service`` walks botocore's ``ServiceModel`` a single time and produces:

- a :class:`~coffer.aws.shapes.Shape` graph (types, constraints with patterns already compiled, sensitivity),
- per operation an :class:`OperationSpec` with input and output :class:`MessagePlan` objects that say where each
  member lives on the wire (uri label, query key, header, payload, JSON body), so that per-request work in
  ``restjson_parse``, ``restjson_serialize`` and ``validate`` is a handful of dict lookups,
- a :class:`~coffer.aws.routing.Router` resolving ``(method, raw path)`` to an operation, most specific template
  first,
- the modelled error shapes with their HTTP statuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from coffer.aws.routing import MethodNotAllowed, RouteMatch, Router
from coffer.aws.shapes import Member, Shape, ShapeBuilder

#: a flat JSON output, member by member: (encoded ``"key":`` prefix, member name, accepts a str value)
FlatPlan = tuple[tuple[str, str, bool], ...]

#: json's ASCII string encoder (C when available): what ``json.dumps`` uses for every string and key
ENCODE_STRING: Final = json.encoder.encode_basestring_ascii

_FLAT_KINDS: Final = frozenset(("string", "integer", "long", "timestamp"))


@dataclass(frozen=True, slots=True)
class MessagePlan:
    """Where each member of an input or output structure lives on the wire."""

    shape: Shape
    uri: Mapping[str, Member]  # label name -> member
    query: Mapping[str, Member]  # query key -> member
    query_map: Member | None  # a map member that takes every query key not claimed by another member
    headers: tuple[Member, ...]
    header_maps: tuple[Member, ...]  # location "headers": a map keyed by the suffix after a header prefix
    status_code: Member | None
    payload: Member | None  # the member that is the whole body
    raw_payload: bool  # payload is a blob or string: the body bytes as they are
    body: Mapping[str, Member]  # JSON body key -> member (empty when there is a payload member)
    #: an output that is a flat JSON object of strings, numbers and epoch timestamps (GetAuthorizationToken),
    #: for the fast path of ``restjson_serialize``; None for other plans
    flat: FlatPlan | None = field(default=None, repr=False)

    @property
    def has_json_body(self) -> bool:
        return bool(self.body) or (self.payload is not None and not self.raw_payload)

    @property
    def streaming_payload(self) -> bool:
        """The payload is a streaming blob: an input's body is handed to the handler as it arrives, not read whole
        (PublishPackageVersion's ``assetContent``)."""
        return self.payload is not None and self.payload.shape.type == "blob" and self.payload.shape.streaming


@dataclass(frozen=True, slots=True)
class OperationSpec:
    name: str
    method: str
    request_uri: str
    response_code: int
    input: MessagePlan | None = field(repr=False)
    output: MessagePlan | None = field(repr=False)
    errors: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    status: int
    shape: Shape
    plan: MessagePlan


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # endpointPrefix, e.g. "codeartifact"
    api_version: str
    protocol: str
    signing_name: str
    operations: Mapping[str, OperationSpec]
    errors: Mapping[str, ErrorSpec]  # error code -> spec
    router: Router

    def route(
        self, method: str, path: str, query: Iterable[tuple[str, str]] = ()
    ) -> RouteMatch | MethodNotAllowed | None:
        return self.router.route(method, path, query)


# --------------------------------------------------------------------------------------------------------------
# building from botocore


def load_service(name: str = "codeartifact", api_version: str | None = None) -> ServiceSpec:
    """Load a service model from the installed botocore and compile it. Call once at start-up and pass it down."""
    import botocore.session  # local import: botocore's session machinery is only needed here

    session = botocore.session.get_session()
    return build_service(session.get_service_model(name, api_version))


def build_service(service_model: Any) -> ServiceSpec:
    """Compile a ``botocore.model.ServiceModel``."""
    protocol = str(service_model.metadata.get("protocol", ""))
    if protocol != "rest-json":
        raise ValueError(f"only rest-json services are supported, not {protocol!r}")
    builder = ShapeBuilder()
    operations: dict[str, OperationSpec] = {}
    for op_name in service_model.operation_names:
        op = service_model.operation_model(op_name)
        http = op.http
        input_plan = message_plan(builder, op.input_shape) if op.input_shape is not None else None
        output_plan = message_plan(builder, op.output_shape) if op.output_shape is not None else None
        operations[op_name] = OperationSpec(
            name=op_name,
            method=str(http.get("method", "POST")).upper(),
            request_uri=str(http.get("requestUri", "/")),
            response_code=int(http.get("responseCode", 200)),
            input=input_plan,
            output=output_plan,
            errors=tuple(str(e.name) for e in op.error_shapes),
        )
    errors: dict[str, ErrorSpec] = {}
    for error_shape in service_model.error_shapes:
        error_meta = error_shape.metadata.get("error", {})
        code = str(error_meta.get("code", error_shape.name))
        status = int(error_meta.get("httpStatusCode", 400 if error_meta.get("senderFault") else 500))
        errors[code] = ErrorSpec(code, status, builder.shape(error_shape), message_plan(builder, error_shape))
    builder.compile_checks()
    return ServiceSpec(
        name=str(service_model.metadata.get("endpointPrefix", service_model.service_name)),
        api_version=str(service_model.api_version),
        protocol=protocol,
        signing_name=str(service_model.signing_name),
        operations=MappingProxyType(operations),
        errors=MappingProxyType(errors),
        router=Router(operations.values()),
    )


def message_plan(builder: ShapeBuilder, bshape: Any) -> MessagePlan:
    """Where the members of the structure ``bshape`` live on the wire."""
    shape = builder.shape(bshape)
    if shape.type != "structure":
        raise ValueError(f"{shape.name} is not a structure")
    uri: dict[str, Member] = {}
    query: dict[str, Member] = {}
    query_map: Member | None = None
    headers: list[Member] = []
    header_maps: list[Member] = []
    status_code: Member | None = None
    body: dict[str, Member] = {}
    for member in shape.members.values():
        if member.location == "uri":
            uri[member.wire_name] = member
        elif member.location == "querystring":
            if member.shape.type == "map":
                query_map = member
            else:
                query[member.wire_name] = member
        elif member.location == "header":
            headers.append(member)
        elif member.location == "headers":
            header_maps.append(member)
        elif member.location == "statusCode":
            status_code = member
        elif member.name != shape.payload:
            body[member.wire_name] = member
    payload = shape.members[shape.payload] if shape.payload else None
    plan = MessagePlan(
        shape=shape,
        uri=MappingProxyType(uri),
        query=MappingProxyType(query),
        query_map=query_map,
        headers=tuple(headers),
        header_maps=tuple(header_maps),
        status_code=status_code,
        payload=payload,
        raw_payload=payload is not None and payload.shape.type in ("blob", "string"),
        body=MappingProxyType({} if payload is not None else body),
    )
    return replace(plan, flat=_flat_plan(plan))


def _flat_plan(plan: MessagePlan) -> FlatPlan | None:
    simple = not (plan.headers or plan.header_maps or plan.status_code or plan.payload)
    if simple and all(
        m.shape.type in _FLAT_KINDS
        and (m.shape.type != "timestamp" or (m.timestamp_format or "unixtimestamp") == "unixtimestamp")
        for m in plan.body.values()
    ):
        return tuple((ENCODE_STRING(key) + ":", m.name, m.shape.type != "timestamp") for key, m in plan.body.items())
    return None


__all__ = [
    "ENCODE_STRING",
    "ErrorSpec",
    "FlatPlan",
    "MessagePlan",
    "OperationSpec",
    "ServiceSpec",
    "build_service",
    "load_service",
    "message_plan",
]
