"""SigV4 verifier: the AWS conformance vectors, every error path, and botocore round trips."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import coffer.aws.sigv4_parse as sigv4_parse
from coffer.aws.sigv4 import (
    CONTENT_SHA256_MISMATCH,
    HOST_NOT_SIGNED,
    SIGNATURE_MISMATCH,
    IncomingRequest,
    ParsedAuthorization,
    SigV4Verifier,
    canonical_query,
    canonical_request,
    canonical_uri,
    parse_authorization,
    string_to_sign,
)
from coffer.aws.sigv4_canonical import derive_signing_key, remove_dot_segments
from coffer.aws.sigv4_parse import MAX_AUTHORIZATION_LENGTH, MAX_HEADER_COUNT, MAX_SIGNED_HEADERS
from coffer.core.shared.clock import FixedClock
from coffer.core.shared.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    RequestTooLargeError,
    UnrecognizedClientError,
)

# AWS's SigV4 conformance vectors (Apache-2.0, LICENSE and NOTICE kept beside them), vendored from
# ../shared/sigv4_testsuite so a fresh clone runs all 34 cases.
SUITE = Path(__file__).resolve().parent.parent / "data" / "sigv4_testsuite"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC).timestamp()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# --- the conformance suite ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteCase:
    name: str
    request: IncomingRequest  # as the client sends it, Authorization and any session token added
    body: bytes
    creq: str
    sts: str
    authz: str
    token: str | None


def _parse_req(raw: str) -> tuple[IncomingRequest, bytes]:
    """The suite's ``.req`` format: request line, headers (indented lines continue a value), blank line, body."""
    head, _, body = raw.partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # the path itself may contain a space (normalize-path/get-space)
    path, _, query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if not line:
            continue
        if line[0] in " \t":  # obsolete line folding: keep it, canonicalisation must unfold it
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return IncomingRequest(method, path, query, tuple(headers)), body.encode("latin-1")


def _load_case(req_path: Path) -> SuiteCase:
    # latin-1 keeps the wire bytes (get-utf8 has raw UTF-8 in its request line), as an ASGI server would.
    request, body = _parse_req(req_path.read_bytes().decode("latin-1"))
    creq = req_path.with_suffix(".creq").read_text()
    headers = list(request.headers)
    token = next((v for n, v in headers if n.lower() == "x-amz-security-token"), None)
    if token is None:
        # get-vanilla-with-session-token signs a token its .req lacks: take it from the .creq.
        signed_token = [line for line in creq.split("\n") if line.startswith("x-amz-security-token:")]
        if signed_token:
            token = signed_token[0].partition(":")[2]
        elif req_path.stem == "post-sts-header-after":
            # The token is added after signing (not in SignedHeaders); its value is in the readme.
            token = (req_path.parent.parent / "readme.txt").read_text().strip().split("\n")[-1]
        if token is not None:
            headers.append(("X-Amz-Security-Token", token))
    authz = req_path.with_suffix(".authz").read_text().strip()
    headers.append(("Authorization", authz))
    return SuiteCase(
        name=str(req_path.relative_to(SUITE).parent),
        request=replace(request, headers=tuple(headers)),
        body=body,
        creq=creq,
        sts=req_path.with_suffix(".sts").read_text(),
        authz=authz,
        token=token,
    )


def _suite_params() -> list[object]:
    if not SUITE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"SigV4 test suite not found at {SUITE}"))]
    return [pytest.param(path, id=str(path.relative_to(SUITE).parent)) for path in sorted(SUITE.rglob("*.req"))]


SUITE_PARAMS = _suite_params()


@pytest.fixture(params=SUITE_PARAMS)
def case(request: pytest.FixtureRequest) -> SuiteCase:
    return _load_case(request.param)


def _suite_verifier(clock: float = SUITE_TIME) -> SigV4Verifier:
    return SigV4Verifier("us-east-1", ["service"], FixedClock(clock))


@pytest.mark.skipif(not SUITE.is_dir(), reason=f"SigV4 test suite not found at {SUITE}")
def test_suite_has_all_34_cases() -> None:
    assert len(SUITE_PARAMS) == 34


def test_suite_canonical_request(case: SuiteCase) -> None:
    parsed = parse_authorization(case.request)
    assert canonical_request(case.request, parsed.signed_headers, hashlib.sha256(case.body).hexdigest()) == case.creq


def test_suite_string_to_sign(case: SuiteCase) -> None:
    parsed = parse_authorization(case.request)
    assert parsed.access_key_id == "AKIDEXAMPLE"
    assert parsed.amz_date == "20150830T123600Z"
    creq = canonical_request(case.request, parsed.signed_headers, hashlib.sha256(case.body).hexdigest())
    assert string_to_sign(parsed.amz_date, parsed.credential_scope, creq) == case.sts


def test_suite_verify_accepts(case: SuiteCase) -> None:
    parsed = parse_authorization(case.request)
    _suite_verifier().verify(
        case.request,
        parsed,
        secret_access_key=SUITE_SECRET,
        payload_sha256_hex=hashlib.sha256(case.body).hexdigest(),
        session_token_expected=case.token,
    )


def test_suite_verify_rejects_one_changed_byte(case: SuiteCase) -> None:
    last = case.authz[-1]
    tampered = case.authz[:-1] + ("0" if last != "0" else "1")
    request = _with_header(case.request, "Authorization", tampered)
    with pytest.raises(InvalidSignatureError) as raised:
        _suite_verifier().verify(
            request,
            parse_authorization(request),
            secret_access_key=SUITE_SECRET,
            payload_sha256_hex=hashlib.sha256(case.body).hexdigest(),
            session_token_expected=case.token,
        )
    assert raised.value.message == SIGNATURE_MISMATCH


def test_suite_verify_rejects_wrong_secret(case: SuiteCase) -> None:
    with pytest.raises(InvalidSignatureError, match="does not match the signature you provided"):
        _suite_verifier().verify(
            case.request,
            parse_authorization(case.request),
            secret_access_key=SUITE_SECRET[:-1],
            payload_sha256_hex=hashlib.sha256(case.body).hexdigest(),
            session_token_expected=case.token,
        )


# --- helpers for the error paths ---------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
AKID, SECRET, TOKEN = "AKIAEXAMPLE123456789", "s3cr3t/key+EXAMPLE", "FwoGZXIvYXdzEXAMPLETOKEN//=="
URL = "https://codeartifact.us-east-1.amazonaws.com/v1/authorization-token?domain=acme&duration=900"


def _with_header(request: IncomingRequest, name: str, value: str | None) -> IncomingRequest:
    """Replace (or with None remove) every header called ``name``; a new one goes last."""
    kept = tuple((n, v) for n, v in request.headers if n.lower() != name.lower())
    return replace(request, headers=kept if value is None else (*kept, (name, value)))


def botocore_signed(
    *,
    method: str = "POST",
    url: str = URL,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    token: str | None = None,
    service: str = "codeartifact",
    region: str = "us-east-1",
    when: datetime = NOW,
) -> IncomingRequest:
    """Sign with botocore's own SigV4Auth at a fixed time, as the wire would deliver it to the server."""
    aws_request = AWSRequest(method=method, url=url, data=body, headers=headers or {"Content-Length": str(len(body))})
    naive_utc = when.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc):
        SigV4Auth(Credentials(AKID, SECRET, token), service, region).add_auth(aws_request)
    prepared = aws_request.prepare()
    parts = urlsplit(prepared.url)
    wire_headers = [("Host", parts.netloc)]  # the HTTP client adds it; botocore signs it from the URL
    for name, value in prepared.headers.items():
        wire_headers.append((name, value.decode("latin-1") if isinstance(value, bytes) else value))
    return IncomingRequest(prepared.method, parts.path, parts.query, tuple(wire_headers))


def verifier(
    clock: float | None = None, region: str = "us-east-1", services: Sequence[str] = ("codeartifact",)
) -> SigV4Verifier:
    return SigV4Verifier(region, services, FixedClock(NOW.timestamp() if clock is None else clock))


def check(
    request: IncomingRequest,
    *,
    body: bytes = b"",
    token: str | None = None,
    secret: str = SECRET,
    v: SigV4Verifier | None = None,
) -> ParsedAuthorization:
    parsed = parse_authorization(request)
    (v or verifier()).verify(
        request,
        parsed,
        secret_access_key=secret,
        payload_sha256_hex=hashlib.sha256(body).hexdigest(),
        session_token_expected=token,
    )
    return parsed


VANILLA = IncomingRequest(
    "GET",
    "/",
    "",
    (
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
    ),
)


def check_vanilla(request: IncomingRequest, *, clock: float = SUITE_TIME, token: str | None = None) -> None:
    _suite_verifier(clock).verify(
        request,
        parse_authorization(request),
        secret_access_key=SUITE_SECRET,
        payload_sha256_hex=EMPTY_SHA256,
        session_token_expected=token,
    )


def test_vanilla_baseline_is_valid() -> None:
    check_vanilla(VANILLA)


# --- botocore round trips ------------------------------------------------------------------------------


def test_botocore_round_trip() -> None:
    request = botocore_signed()
    parsed = check(request)
    assert (parsed.access_key_id, parsed.region, parsed.service) == (AKID, "us-east-1", "codeartifact")
    assert parsed.credential_date == "20240501"
    assert parsed.timestamp == NOW.timestamp()
    assert "host" in parsed.signed_headers


def test_botocore_round_trip_with_security_token() -> None:
    request = botocore_signed(token=TOKEN)
    parsed = check(request, token=TOKEN)
    assert "x-amz-security-token" in parsed.signed_headers
    with pytest.raises(UnrecognizedClientError, match=r"^The security token included in the request is invalid\.$"):
        check(request, token=TOKEN + "x")
    with pytest.raises(UnrecognizedClientError):
        check(request, token=None)


def test_botocore_round_trip_with_paws_style_content_type() -> None:
    request = botocore_signed(headers={"Content-Type": "application/x-amz-json-1.1", "Content-Length": "0"})
    check(request)


def test_botocore_round_trip_with_body_and_content_sha256() -> None:
    body = b"\x00asset bytes\xff" * 100
    digest = hashlib.sha256(body).hexdigest()
    request = botocore_signed(
        url="https://codeartifact.us-east-1.amazonaws.com/v1/package/version/publish?domain=acme&asset=a%20b.whl",
        headers={"X-Amz-Content-SHA256": digest, "Content-Type": "application/octet-stream"},
        body=body,
    )
    check(request, body=body)
    with pytest.raises(InvalidSignatureError) as raised:
        check(request, body=body + b"!")
    assert raised.value.message == CONTENT_SHA256_MISMATCH


def test_botocore_round_trip_with_date_header_only() -> None:
    request = botocore_signed(headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT", "Content-Length": "0"})
    assert not any(name.lower() == "x-amz-date" for name, _ in request.headers)
    parsed = check(request)
    assert parsed.amz_date == "20240501T100000Z"
    assert "date" in parsed.signed_headers


def test_botocore_round_trip_with_awkward_query_and_path() -> None:
    url = (
        "https://codeartifact.us-east-1.amazonaws.com/v1/package/versions/%C3%A9t%C3%A9/a%2Fb"
        "?namespace=%40scope&package=caf%C3%A9&format=npm&z=1&a=%2B%20&a=~"
    )
    check(botocore_signed(method="GET", url=url))


def test_body_changed_without_content_sha256_header() -> None:
    request = botocore_signed(body=b"{}")
    check(request, body=b"{}")
    with pytest.raises(InvalidSignatureError) as raised:
        check(request, body=b"{ }")
    assert raised.value.message == SIGNATURE_MISMATCH


def test_signed_header_changed_after_signing() -> None:
    request = botocore_signed()
    with pytest.raises(InvalidSignatureError, match="does not match the signature"):
        check(_with_header(request, "Content-Length", "1"))


def test_unsigned_extra_headers_are_ignored() -> None:
    request = botocore_signed()
    check(replace(request, headers=(*request.headers, ("User-Agent", "x"), ("amz-sdk-invocation-id", "1"))))


def test_authorization_separators_without_spaces_are_accepted() -> None:
    compact = VANILLA.headers[-1][1].replace(", ", ",")
    check_vanilla(_with_header(VANILLA, "Authorization", compact))


# --- missing and malformed Authorization ---------------------------------------------------------------


def test_missing_authorization() -> None:
    with pytest.raises(MissingAuthenticationTokenError) as raised:
        parse_authorization(_with_header(VANILLA, "Authorization", None))
    assert raised.value.message == "Missing Authentication Token"
    assert raised.value.status == 403


def test_presigned_query_is_refused_not_reported_missing() -> None:
    request = replace(_with_header(VANILLA, "Authorization", None), raw_query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    with pytest.raises(IncompleteSignatureError, match="presigned"):
        parse_authorization(request)


def test_missing_signature_and_signed_headers() -> None:
    value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(_with_header(VANILLA, "Authorization", value))
    assert raised.value.message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        f"Authorization={value}"
    )


def test_missing_everything_including_date() -> None:
    request = _with_header(_with_header(VANILLA, "X-Amz-Date", None), "Authorization", "eyJhbGciOiJIUzI1NiJ9.e30.sig")
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(request)
    assert raised.value.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=eyJhbGciOiJIUzI1NiJ9.e30.sig"
    )


def test_missing_date_only() -> None:
    request = _with_header(VANILLA, "X-Amz-Date", None)
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(request)
    assert raised.value.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={VANILLA.headers[-1][1]}"
    )


def test_parameter_without_equal_sign() -> None:
    value = "AWS4-HMAC-SHA256 Credential=AKID /20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=0"
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(_with_header(VANILLA, "Authorization", value))
    assert raised.value.message == (
        "'/20150830/us-east-1/service/aws4_request' not a valid key=value pair (missing equal-sign) "
        f"in Authorization header: '{value}'."
    )


def test_bearer_token_is_not_sigv4() -> None:
    with pytest.raises(IncompleteSignatureError, match=r"^'abc' not a valid key=value pair"):
        parse_authorization(_with_header(VANILLA, "Authorization", "Bearer abc"))


def test_duplicate_parameter() -> None:
    value = VANILLA.headers[-1][1] + ", Signature=00"
    with pytest.raises(IncompleteSignatureError, match="Duplicate 'Signature'"):
        parse_authorization(_with_header(VANILLA, "Authorization", value))


def test_unsupported_algorithm() -> None:
    value = VANILLA.headers[-1][1].replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    with pytest.raises(IncompleteSignatureError, match=r"^Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"):
        parse_authorization(_with_header(VANILLA, "Authorization", value))


def test_credential_with_wrong_number_of_parts() -> None:
    value = VANILLA.headers[-1][1].replace("AKIDEXAMPLE/", "")
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(_with_header(VANILLA, "Authorization", value))
    assert raised.value.message == (
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        "got '20150830/us-east-1/service/aws4_request'"
    )


def test_credential_with_wrong_terminator() -> None:
    value = VANILLA.headers[-1][1].replace("aws4_request", "aws5_request")
    with pytest.raises(InvalidSignatureError) as raised:
        parse_authorization(_with_header(VANILLA, "Authorization", value))
    assert (
        raised.value.message
        == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


@pytest.mark.parametrize("value", ["2015-08-30T12:36:00Z", "20150830T123600", "20150230T123600Z", "2015083OT123600Z"])
def test_malformed_x_amz_date(value: str) -> None:
    with pytest.raises(IncompleteSignatureError) as raised:
        parse_authorization(_with_header(VANILLA, "X-Amz-Date", value))
    assert raised.value.message == (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_malformed_date_header() -> None:
    request = _with_header(_with_header(VANILLA, "X-Amz-Date", None), "Date", "yesterday")
    with pytest.raises(IncompleteSignatureError, match="Got 'yesterday'"):
        parse_authorization(request)


def test_x_amz_date_wins_over_date() -> None:
    request = _with_header(VANILLA, "Date", "Mon, 31 Aug 2015 12:36:00 GMT")
    assert parse_authorization(request).amz_date == "20150830T123600Z"


# --- scope, clock and signed-header checks -------------------------------------------------------------


def test_scope_date_differs_from_x_amz_date() -> None:
    request = _with_header(VANILLA, "X-Amz-Date", "20150831T123600Z")
    with pytest.raises(InvalidSignatureError) as raised:
        check_vanilla(request, clock=SUITE_TIME + 86400)
    assert raised.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20150830' != '20150831', from '20150831T123600Z'."
    )


def test_wrong_region() -> None:
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(region="eu-west-1"))
    assert raised.value.message == "Credential should be scoped to a valid region. "


def test_wrong_service() -> None:
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(service="sts"))
    assert raised.value.message == "Credential should be scoped to correct service: 'codeartifact'. "


def test_several_services_route_on_scope() -> None:
    v = verifier(services=("codeartifact", "sts"))
    assert check(botocore_signed(service="sts"), v=v).service == "sts"
    assert check(botocore_signed(), v=v).service == "codeartifact"


@pytest.mark.parametrize("offset", [-300, -299.1, 0, 299.5, 300, 300.9])
def test_clock_skew_inside_five_minutes(offset: float) -> None:
    # The clock is truncated to whole seconds, like the timestamps it is compared with.
    check(botocore_signed(), v=verifier(NOW.timestamp() + offset))


def test_clock_skew_fraction_of_a_second_outside() -> None:
    with pytest.raises(InvalidSignatureError, match=r"^Signature not yet current"):
        check(botocore_signed(), v=verifier(NOW.timestamp() - 300.1))


def test_clock_skew_just_expired() -> None:
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(), v=verifier(NOW.timestamp() + 301))
    assert raised.value.message == (
        "Signature expired: 20240501T100000Z is now earlier than 20240501T100001Z (20240501T100501Z - 5 min.)"
    )


def test_clock_skew_just_not_yet_current() -> None:
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(), v=verifier(NOW.timestamp() - 301))
    assert raised.value.message == (
        "Signature not yet current: 20240501T100000Z is still later than 20240501T095959Z (20240501T095459Z + 5 min.)"
    )


def test_clock_skew_aws_expired_text() -> None:
    signed_at = datetime(2016, 6, 10, 18, 5, 47, tzinfo=UTC)
    now = datetime(2016, 6, 10, 18, 11, 12, tzinfo=UTC).timestamp()
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(when=signed_at), v=verifier(now))
    assert raised.value.message == (
        "Signature expired: 20160610T180547Z is now earlier than 20160610T180612Z (20160610T181112Z - 5 min.)"
    )


def test_clock_skew_aws_not_yet_current_text() -> None:
    signed_at = datetime(2018, 10, 17, 9, 37, 50, tzinfo=UTC)
    now = datetime(2018, 10, 17, 9, 31, 39, tzinfo=UTC).timestamp()
    with pytest.raises(InvalidSignatureError) as raised:
        check(botocore_signed(when=signed_at), v=verifier(now))
    assert raised.value.message == (
        "Signature not yet current: 20181017T093750Z is still later than 20181017T093639Z (20181017T093139Z + 5 min.)"
    )


def test_host_must_be_signed() -> None:
    value = VANILLA.headers[-1][1].replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date")
    with pytest.raises(IncompleteSignatureError) as raised:
        check_vanilla(_with_header(VANILLA, "Authorization", value))
    assert raised.value.message == HOST_NOT_SIGNED


def test_signed_header_absent_from_request() -> None:
    request = botocore_signed(headers={"Content-Type": "application/json", "Content-Length": "0"})
    check(request)
    with pytest.raises(InvalidSignatureError) as raised:
        check(_with_header(request, "Content-Type", None))
    assert raised.value.message == SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    "claimed", ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]
)
def test_unsigned_and_streaming_payloads_are_refused(claimed: str) -> None:
    request = botocore_signed(headers={"X-Amz-Content-SHA256": claimed, "Content-Length": "0"})
    with pytest.raises(InvalidSignatureError) as raised:
        check(request)
    assert raised.value.message == CONTENT_SHA256_MISMATCH


def test_content_sha256_header_checked_even_when_unsigned() -> None:
    request = _with_header(VANILLA, "X-Amz-Content-SHA256", hashlib.sha256(b"other").hexdigest())
    with pytest.raises(InvalidSignatureError, match="x-amz-content-sha256"):
        check_vanilla(request)
    check_vanilla(_with_header(VANILLA, "X-Amz-Content-SHA256", EMPTY_SHA256))


def test_signature_with_non_ascii_is_a_mismatch_not_a_crash() -> None:
    value = VANILLA.headers[-1][1][:-1] + "é"
    with pytest.raises(InvalidSignatureError, match="does not match"):
        check_vanilla(_with_header(VANILLA, "Authorization", value))


# --- session tokens ---------------------------------------------------------------------------------


def test_token_expected_but_absent() -> None:
    with pytest.raises(UnrecognizedClientError) as raised:
        check_vanilla(VANILLA, token="session-token")
    assert raised.value.message == "The security token included in the request is invalid."
    assert raised.value.code == "UnrecognizedClientException"


def test_token_present_for_long_term_key() -> None:
    with pytest.raises(UnrecognizedClientError):
        check_vanilla(_with_header(VANILLA, "X-Amz-Security-Token", "stale"))


def test_unsigned_token_added_after_signing() -> None:
    # post-sts-header-after: the token is not in SignedHeaders but must still match the session.
    request = _with_header(VANILLA, "X-Amz-Security-Token", "session-token")
    check_vanilla(request, token="session-token")
    with pytest.raises(UnrecognizedClientError):
        check_vanilla(request, token="session-tokeN")


def test_parsed_repr_hides_the_session_token() -> None:
    parsed = parse_authorization(botocore_signed(token=TOKEN))
    assert parsed.security_token == TOKEN
    assert TOKEN not in repr(parsed)


# --- size limits, checked before parsing or hashing ----------------------------------------------------


def test_oversized_authorization_rejected_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object) -> None:
        raise AssertionError("parsed an oversized Authorization header")

    monkeypatch.setattr(sigv4_parse, "_split_authorization", must_not_run)
    padded = VANILLA.headers[-1][1] + "," * (MAX_AUTHORIZATION_LENGTH + 1 - len(VANILLA.headers[-1][1]))
    with pytest.raises(RequestTooLargeError):
        parse_authorization(_with_header(VANILLA, "Authorization", padded))


def test_authorization_at_the_limit_is_parsed() -> None:
    value = VANILLA.headers[-1][1]
    padded = value + "," * (MAX_AUTHORIZATION_LENGTH - len(value))
    check_vanilla(_with_header(VANILLA, "Authorization", padded))


def test_too_many_signed_headers() -> None:
    names = ";".join(f"h{i}" for i in range(MAX_SIGNED_HEADERS + 1))
    value = VANILLA.headers[-1][1].replace("SignedHeaders=host;x-amz-date", f"SignedHeaders={names}")
    with pytest.raises(RequestTooLargeError):
        parse_authorization(_with_header(VANILLA, "Authorization", value))
    names = ";".join(f"h{i}" for i in range(MAX_SIGNED_HEADERS))
    value = VANILLA.headers[-1][1].replace("SignedHeaders=host;x-amz-date", f"SignedHeaders={names}")
    assert len(parse_authorization(_with_header(VANILLA, "Authorization", value)).signed_headers) == MAX_SIGNED_HEADERS


def test_too_many_headers() -> None:
    extra = tuple((f"x-pad-{i}", "v") for i in range(MAX_HEADER_COUNT))
    with pytest.raises(RequestTooLargeError):
        parse_authorization(replace(VANILLA, headers=VANILLA.headers + extra))


@pytest.mark.parametrize(
    "change",
    [
        {"headers": (*VANILLA.headers, ("x-pad", "v" * 70_000))},
        {"raw_path": "/" + "a" * 10_000},
        {"raw_query": "a=" + "b" * 20_000},
    ],
    ids=["header-bytes", "path", "query"],
)
def test_oversized_request_parts(change: dict[str, object]) -> None:
    with pytest.raises(RequestTooLargeError):
        parse_authorization(replace(VANILLA, **change))  # type: ignore[arg-type]


# --- canonicalisation details and helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a%20b/c%2Fd", "/a%2520b/c%252Fd"),  # double encoding
        ("/v1/package/versions/%C3%A9", "/v1/package/versions/%25C3%25A9"),
        ("/a/./b/../c//", "/a/c/"),
        ("/a/b/..", "/a"),
        ("/../..", "/"),
        ("/~user/+x", "/~user/%2Bx"),
    ],
)
def test_canonical_uri(raw_path: str, expected: str) -> None:
    assert canonical_uri(raw_path) == expected


def test_remove_dot_segments_relative() -> None:
    assert remove_dot_segments("a/./b/../c") == "a/c"


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=10&a=1", "a=1&a=10&a=2"),
        ("flag&a=", "a=&flag="),
        ("a=b+c&x=%7e&y=%2f%20", "a=b%2Bc&x=~&y=%2F%20"),
        ("a=1&&b=2&", "a=1&b=2"),
        ("%zz=%", "%25zz=%25"),
        ("k=caf\xc3\xa9", "k=caf%C3%A9"),  # raw UTF-8 bytes on the wire, latin-1 decoded
        ("k=caf\u00e9\u20ac", "k=caf%C3%A9%E2%82%AC"),  # beyond latin-1: taken as already UTF-8 decoded
    ],
)
def test_canonical_query(raw_query: str, expected: str) -> None:
    assert canonical_query(raw_query) == expected


def test_repeated_signed_header_values_keep_arrival_order() -> None:
    request = IncomingRequest("GET", "/", "", (("Host", "h"), ("X-B", " 2 "), ("x-b", "1\t\t1"), ("x-a", "")))
    creq = canonical_request(request, ("host", "x-a", "x-b"), EMPTY_SHA256)
    assert creq.split("\n")[3:6] == ["host:h", "x-a:", "x-b:2,1 1"]


def test_derive_signing_key_matches_aws_documented_example() -> None:
    # From AWS's "derive a signing key" example (IAM, us-east-1, 20120215).
    key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_signing_keys_are_cached_and_bounded() -> None:
    v = SigV4Verifier("us-east-1", ["codeartifact"], FixedClock(NOW.timestamp()), signing_key_cache_size=2)
    for _ in range(3):
        check(botocore_signed(), v=v)
    info = v._signing_mac.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (2, 1, 2)


def test_verifier_requires_a_service() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SigV4Verifier("us-east-1", [], FixedClock(0))


def test_from_asgi_scope() -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/authorization-token",
        "raw_path": b"/v1/authorization-token",
        "query_string": b"domain=acme&duration=900",
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in botocore_signed().headers],
    }
    request = IncomingRequest.from_asgi(scope)
    assert (request.raw_path, request.raw_query) == ("/v1/authorization-token", "domain=acme&duration=900")
    check(request)
    # raw_path is optional in ASGI: the decoded path is re-encoded the way SDKs encode it.
    no_raw = {**scope, "raw_path": None, "path": "/v1/a b"}
    assert IncomingRequest.from_asgi(no_raw).raw_path == "/v1/a%20b"
