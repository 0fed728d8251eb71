"""Unit tests for collector.errors: the exception tree and the code -> error mapping."""

from __future__ import annotations

import pytest

from collector.errors import (
    ApiError,
    BadResponse,
    CollectorError,
    ConnectionFailed,
    ErrorBody,
    GraphError,
    InvalidRequest,
    PermissionDenied,
    RequestTimeout,
    Scope,
    Throttled,
    TokenInvalid,
    TransientApiError,
    TransportError,
    UnsupportedRequest,
    UsageError,
    api_error_from,
)


def body(code: int, subcode: int | None = None, *, transient: bool = False) -> ErrorBody:
    return ErrorBody(code=code, message=f"(#{code}) test", subcode=subcode, is_transient=transient)


# -- ErrorBody.parse ---------------------------------------------------------------------


def test_parse_reads_every_field_of_an_error_body() -> None:
    """ErrorBody.parse keeps code, message, type, subcode, is_transient and fbtrace_id."""
    parsed = ErrorBody.parse(
        {
            "error": {
                "message": "Error validating access token",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
                "is_transient": False,
                "fbtrace_id": "AbC123",
            }
        }
    )
    assert parsed == ErrorBody(
        code=190,
        message="Error validating access token",
        type="OAuthException",
        subcode=463,
        is_transient=False,
        fbtrace_id="AbC123",
    )


def test_parse_defaults_the_optional_fields() -> None:
    """A body with only a code parses with an empty message, no subcode and not transient."""
    parsed = ErrorBody.parse({"error": {"code": 2}})
    assert parsed == ErrorBody(code=2, message="", type="", subcode=None, fbtrace_id=None)
    assert parsed is not None and parsed.is_transient is False


@pytest.mark.parametrize(
    "not_an_error",
    [
        None,
        [],
        "error",
        {"data": []},
        {"error": "boom"},
        {"error": {"message": "no code"}},
        {"error": {"code": "190"}},
    ],
)
def test_parse_returns_none_for_what_is_not_an_error_body(not_an_error: object) -> None:
    """Anything without an ``error`` object holding an integer code is not an error body."""
    assert ErrorBody.parse(not_an_error) is None


def test_parse_ignores_a_subcode_that_is_not_an_integer() -> None:
    """A non-integer ``error_subcode`` is read as no subcode rather than failing."""
    parsed = ErrorBody.parse({"error": {"code": 100, "error_subcode": "33"}})
    assert parsed is not None and parsed.subcode is None


def test_parse_reads_is_transient() -> None:
    """``is_transient: true`` is kept, since it decides whether an unknown code is retried."""
    parsed = ErrorBody.parse({"error": {"code": 1, "is_transient": True}})
    assert parsed is not None and parsed.is_transient is True


# -- api_error_from ----------------------------------------------------------------------

# SPEC section 5, written out independently of errors.py's own table.
THROTTLES = [
    (4, Scope.APP),
    (17, Scope.TOKEN),
    (32, Scope.ACCOUNT),
    (613, Scope.ACCOUNT),
    (80002, Scope.ACCOUNT),
    (341, Scope.APP),
    (368, Scope.APP),
]


@pytest.mark.parametrize(("code", "scope"), THROTTLES)
def test_throttle_codes_map_to_throttled_with_their_scope(code: int, scope: Scope) -> None:
    """Each rate-limit code becomes Throttled naming who must wait (SPEC section 5)."""
    error = api_error_from(body(code), 400)
    assert type(error) is Throttled
    assert error.scope is scope


@pytest.mark.parametrize("code", [1, 2])
def test_codes_1_and_2_are_transient(code: int) -> None:
    """Codes 1 and 2 (unknown / service error) are TransientApiError even without the flag."""
    assert type(api_error_from(body(code), 500)) is TransientApiError


def test_unknown_code_flagged_transient_is_transient() -> None:
    """An unlisted code with ``is_transient: true`` is retried as transient."""
    assert type(api_error_from(body(9999, transient=True), 400)) is TransientApiError


def test_unknown_code_without_flag_is_a_plain_api_error() -> None:
    """An unlisted code without ``is_transient`` is a bare ApiError (not retried by policy)."""
    assert type(api_error_from(body(9999), 400)) is ApiError


def test_code_190_is_token_invalid_with_token_scope() -> None:
    """Code 190 (any subcode) is TokenInvalid, scoped to the token."""
    error = api_error_from(body(190, 463), 400)
    assert type(error) is TokenInvalid
    assert error.scope is Scope.TOKEN


@pytest.mark.parametrize("code", [10, 200, 250, 299])
def test_permission_codes_are_permission_denied_with_account_scope(code: int) -> None:
    """Codes 10 and 200-299 are PermissionDenied, scoped to the account."""
    error = api_error_from(body(code), 403)
    assert type(error) is PermissionDenied
    assert error.scope is Scope.ACCOUNT


def test_code_300_is_not_a_permission_error() -> None:
    """The permission range stops at 299."""
    assert not isinstance(api_error_from(body(300), 400), PermissionDenied)


def test_code_100_subcode_33_is_unsupported_request() -> None:
    """100/33 ("Unsupported get request") is the disguised throttle, UnsupportedRequest."""
    assert type(api_error_from(body(100, 33), 400)) is UnsupportedRequest


@pytest.mark.parametrize("subcode", [None, 2108006])
def test_other_code_100_is_invalid_request(subcode: int | None) -> None:
    """Code 100 without subcode 33 is InvalidRequest."""
    assert type(api_error_from(body(100, subcode), 400)) is InvalidRequest


def test_code_100_flagged_transient_stays_invalid() -> None:
    """``is_transient`` does not turn an invalid parameter into something to retry."""
    assert type(api_error_from(body(100, transient=True), 400)) is InvalidRequest


@pytest.mark.parametrize("status", [200, 400, 403, 500, 502])
def test_mapping_ignores_the_http_status(status: int) -> None:
    """The class depends on the code only; the status is kept for reference (SPEC section 5)."""
    error = api_error_from(body(190), status)
    assert type(error) is TokenInvalid
    assert error.status == status


def test_api_error_exposes_the_body_fields() -> None:
    """code, subcode, is_transient and fbtrace_id read through to the body."""
    error = api_error_from(
        ErrorBody(code=2, message="m", subcode=7, is_transient=True, fbtrace_id="F"), 500
    )
    assert (error.code, error.subcode, error.is_transient, error.fbtrace_id) == (2, 7, True, "F")


def test_api_error_message_quotes_code_subcode_and_api_message() -> None:
    """The message reads ``Graph error #code/subcode: <Meta's message>``."""
    error = api_error_from(ErrorBody(code=190, message="Session has expired", subcode=463), 400)
    assert str(error) == "Graph error #190/463: Session has expired"


def test_api_error_message_without_subcode() -> None:
    """Without a subcode the message has no slash part."""
    assert str(api_error_from(ErrorBody(code=4, message="limit"), 403)) == "Graph error #4: limit"


# -- the tree ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RequestTimeout, ConnectionFailed, BadResponse])
def test_transport_failures_sit_under_transport_error(cls: type[Exception]) -> None:
    """Timeouts, dropped connections and bad bodies are all TransportError, hence GraphError."""
    assert issubclass(cls, TransportError)
    assert issubclass(cls, GraphError)
    assert issubclass(cls, CollectorError)


@pytest.mark.parametrize(
    "cls",
    [
        TransientApiError,
        Throttled,
        UnsupportedRequest,
        InvalidRequest,
        PermissionDenied,
        TokenInvalid,
    ],
)
def test_api_errors_sit_under_api_error_not_transport(cls: type[Exception]) -> None:
    """Every typed API error is an ApiError and never a TransportError."""
    assert issubclass(cls, ApiError)
    assert not issubclass(cls, TransportError)


def test_usage_error_is_not_a_graph_error() -> None:
    """A configuration mistake is a CollectorError outside the Graph branch."""
    assert issubclass(UsageError, CollectorError)
    assert not issubclass(UsageError, GraphError)


def test_reasons_are_distinct_per_class() -> None:
    """Each error class reports its own reason, so failure counts can tell them apart."""
    classes = [
        TransportError,
        RequestTimeout,
        ConnectionFailed,
        BadResponse,
        ApiError,
        TransientApiError,
        Throttled,
        UnsupportedRequest,
        InvalidRequest,
        PermissionDenied,
        TokenInvalid,
    ]
    reasons = [cls.reason for cls in classes]
    assert len(set(reasons)) == len(reasons)


def test_token_invalid_reason_is_token_invalid() -> None:
    """Outcomes of a dead token carry the reason ``token_invalid``."""
    assert TokenInvalid.reason == "token_invalid"


def test_bad_response_keeps_its_status() -> None:
    """BadResponse records the HTTP status it came with."""
    assert BadResponse("html", status=502).status == 502
