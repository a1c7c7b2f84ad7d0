"""Property tests for the SigV4 verifier: hostile input fails cleanly, honest input round-trips."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.aws.sigv4 import IncomingRequest, SigV4Verifier, parse_authorization
from coffer.core.shared.clock import FixedClock
from coffer.core.shared.errors import CofferError, IncompleteSignatureError, InvalidSignatureError
from tests.unit.test_sigv4 import NOW, SECRET, TOKEN, botocore_signed

# Any code point, lone surrogates included: callers may hand us strings no ASGI server would produce.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
# The same without the Authorization separators, so structured values stay in one piece.
WORD = st.text(st.characters(exclude_categories=(), exclude_characters=" \t\n\r,"), max_size=20)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
NOW_EPOCH = NOW.timestamp()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VERIFIER = SigV4Verifier("us-east-1", ["codeartifact"], FixedClock(NOW_EPOCH))


def _mostly(likely: st.SearchStrategy[str], other: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``likely`` four times in five, so generated input often gets past the first checks."""
    return st.integers(0, 4).flatmap(lambda n: other if n == 0 else likely)


def _amz_dates() -> st.SearchStrategy[str]:
    near = st.integers(-400, 400).map(lambda s: (NOW + timedelta(seconds=s)).strftime("%Y%m%dT%H%M%SZ"))
    return st.one_of(near, ANY_TEXT, st.from_regex(r"\A[0-9]{8}T[0-9]{6}Z\Z"))


def _http_dates() -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
    return st.one_of(moments.map(lambda d: format_datetime(d, usegmt=True)), ANY_TEXT)


@st.composite
def _authorizations(draw: st.DrawFn) -> str:
    """Authorization values near the real shape."""
    algorithm = draw(_mostly(st.just("AWS4-HMAC-SHA256"), st.sampled_from(["AWS4-HMAC-SHA1", "Bearer", ""]) | WORD))
    scope = [
        draw(_mostly(st.sampled_from(["AKIDEXAMPLE", "ASIAEXAMPLE"]), WORD)),
        draw(_mostly(st.just(NOW.strftime("%Y%m%d")), WORD)),
        draw(_mostly(st.just("us-east-1"), WORD)),
        draw(_mostly(st.just("codeartifact"), WORD)),
        draw(_mostly(st.just("aws4_request"), WORD)),
    ]
    if draw(st.integers(0, 4)) == 0:
        scope = draw(st.lists(WORD, max_size=7))
    names = ["host", "x-amz-date"]
    if draw(st.integers(0, 4)) == 0:
        extra = st.sampled_from(["host", "x-amz-date", "date", "x-amz-security-token", "x-amz-content-sha256"])
        names = draw(st.lists(extra | WORD, max_size=6))
    signature = draw(_mostly(st.from_regex(r"\A[0-9a-f]{64}\Z"), WORD))
    params = [f"Credential={'/'.join(scope)}", f"SignedHeaders={';'.join(names)}", f"Signature={signature}"]
    if draw(st.integers(0, 4)) == 0:  # sometimes drop, repeat or add parameters
        params = draw(st.lists(st.sampled_from(params) | ANY_TEXT, max_size=5))
    separator = draw(st.sampled_from([", ", ",", " ", " ,\t"]))
    return f"{algorithm} {separator.join(draw(st.permutations(params)))}"


HEADER_NAMES = st.sampled_from(
    ["Authorization", "X-Amz-Date", "Date", "Host", "X-Amz-Security-Token", "X-Amz-Content-SHA256", "Content-Type"]
)


@st.composite
def _hostile_requests(draw: st.DrawFn) -> IncomingRequest:
    headers = draw(st.lists(st.tuples(HEADER_NAMES | ANY_TEXT, ANY_TEXT), max_size=6))
    headers.append(("Authorization", draw(_mostly(_authorizations(), ANY_TEXT))))
    headers.append(("X-Amz-Date", draw(_amz_dates())) if draw(st.booleans()) else ("Date", draw(_http_dates())))
    headers = draw(st.permutations(headers))
    return IncomingRequest(draw(ANY_TEXT), draw(ANY_TEXT), draw(ANY_TEXT), tuple(headers))


@SETTINGS
@given(request=_hostile_requests(), secret=ANY_TEXT, payload=ANY_TEXT, token=st.none() | ANY_TEXT)
def test_hostile_input_only_raises_coffer_errors(
    request: IncomingRequest, secret: str, payload: str, token: str | None
) -> None:
    with contextlib.suppress(CofferError):
        parsed = parse_authorization(request)
        VERIFIER.verify(
            request, parsed, secret_access_key=secret, payload_sha256_hex=payload, session_token_expected=token
        )


@st.composite
def _mutated_valid_requests(draw: st.DrawFn) -> tuple[IncomingRequest, str | None]:
    """A botocore-signed request with one part replaced or edited with arbitrary text."""
    token = draw(st.none() | st.just(TOKEN))
    request = botocore_signed(token=token, headers={"Content-Type": "application/json", "Content-Length": "0"})
    headers = list(request.headers)
    target = draw(st.sampled_from(["method", "path", "query", "header", "extra"]))
    if target == "header":
        index = draw(st.integers(0, len(headers) - 1))
        name, value = headers[index]
        if draw(st.booleans()):  # edit a few characters rather than replace the whole value
            at = draw(st.integers(0, len(value)))
            value = value[:at] + draw(ANY_TEXT) + value[at + draw(st.integers(0, 3)) :]
        else:
            value = draw(ANY_TEXT)
        headers[index] = (name, value)
    elif target == "extra":
        headers.insert(draw(st.integers(0, len(headers))), (draw(HEADER_NAMES | ANY_TEXT), draw(ANY_TEXT)))
    method = draw(ANY_TEXT) if target == "method" else request.method
    path = draw(ANY_TEXT) if target == "path" else request.raw_path
    query = draw(ANY_TEXT) if target == "query" else request.raw_query
    return IncomingRequest(method, path, query, tuple(headers)), token


@SETTINGS
@given(case=_mutated_valid_requests(), expected=st.sampled_from(["same", "none", "other"]))
def test_mutated_valid_requests_only_raise_coffer_errors(
    case: tuple[IncomingRequest, str | None], expected: str
) -> None:
    request, token = case
    session_token = {"same": token, "none": None, "other": "other-token"}[expected]
    with contextlib.suppress(CofferError):
        parsed = parse_authorization(request)
        VERIFIER.verify(
            request,
            parsed,
            secret_access_key=SECRET,
            payload_sha256_hex=EMPTY_SHA256,
            session_token_expected=session_token,
        )


@SETTINGS
@given(value=_mostly(_authorizations(), ANY_TEXT), date=_amz_dates())
def test_any_authorization_value_only_raises_coffer_errors(value: str, date: str) -> None:
    request = IncomingRequest("GET", "/", "", (("Host", "h"), ("X-Amz-Date", date), ("Authorization", value)))
    with contextlib.suppress(CofferError):
        VERIFIER.verify(request, parse_authorization(request), secret_access_key=SECRET, payload_sha256_hex="")


# --- honest requests round-trip through botocore's signer -----------------------------------------------

# botocore signs header values as UTF-8 but http.client sends them as latin-1, so only ASCII values are
# meaningful for a client; names must be HTTP tokens and not ones botocore or the verifier treat specially.
ASCII_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t"), max_size=30)
HEADER_NAME = st.from_regex(r"\Ax-[a-z0-9-]{1,12}\Z").filter(lambda n: not n.startswith("x-amz"))
UNICODE = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@SETTINGS
@given(
    headers=st.dictionaries(HEADER_NAME, ASCII_VALUE.filter(lambda v: v.strip()), max_size=5),
    params=st.lists(st.tuples(UNICODE, UNICODE), max_size=5),
    segments=st.lists(UNICODE, max_size=4),
    body=st.binary(max_size=64),
    with_token=st.booleans(),
    with_content_sha=st.booleans(),
    skew=st.integers(-300, 300),
)
def test_botocore_signed_requests_verify(
    headers: dict[str, str],
    params: list[tuple[str, str]],
    segments: list[str],
    body: bytes,
    with_token: bool,
    with_content_sha: bool,
    skew: int,
) -> None:
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    query = urlencode(params, quote_via=quote, safe="-_.~")
    url = f"https://codeartifact.us-east-1.amazonaws.com{path}" + (f"?{query}" if query else "")
    digest = hashlib.sha256(body).hexdigest()
    sent = {**headers, "Content-Length": str(len(body))}
    if with_content_sha:
        sent["X-Amz-Content-SHA256"] = digest
    token = TOKEN if with_token else None
    request = botocore_signed(url=url, headers=sent, body=body, token=token)
    verifier = SigV4Verifier("us-east-1", ["codeartifact"], FixedClock(NOW_EPOCH + skew))
    parsed = parse_authorization(request)
    verifier.verify(request, parsed, secret_access_key=SECRET, payload_sha256_hex=digest, session_token_expected=token)

    # ...and the same request with another body no longer verifies.
    other = hashlib.sha256(body + b"x").hexdigest()
    try:
        verifier.verify(
            request, parsed, secret_access_key=SECRET, payload_sha256_hex=other, session_token_expected=token
        )
    except (InvalidSignatureError, IncompleteSignatureError):
        pass
    else:
        raise AssertionError("a changed body still verified")
