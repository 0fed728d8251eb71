"""Every failure the collector can meet, and the one place each belongs.

    CollectorError
    ├── UsageError                 bad command line / config (exit 2)
    ├── OutputError                a store or NDJSON file that cannot be used (exit 2)
    ├── StoreFailed                the store or its writer failed during a run (exit 1)
    └── GraphError                 a Graph API call did not give usable data
        ├── TransportError         no trustworthy answer: retry
        │   ├── RequestTimeout     the answer did not arrive in time
        │   ├── ConnectionFailed   refused, reset, dropped mid-body
        │   └── BadResponse        not JSON (an HTML proxy page), truncated JSON, wrong shape
        └── ApiError               Meta answered with an error body (SPEC section 5)
            ├── TransientApiError  codes 1, 2 or ``is_transient``: retry with backoff
            ├── Throttled          codes 4, 17, 32, 613, 80002, 341, 368: pause the scope
            ├── UnsupportedRequest code 100 subcode 33: a disguised throttle; retry a few times
            ├── InvalidRequest     code 100 otherwise: never retried as is
            ├── PermissionDenied   codes 10, 200-299: stop the account
            └── TokenInvalid       code 190: stop every account on that token

Every class carries the ``exit_code`` the CLI ends with when one reaches it:
2 for what is checked before any request (usage, config, outputs), 1 for a run
that started and could not finish everything. ``config.checks.ConfigError``
(a ``UsageError``), ``reporting.export.formats.ExtraMissing`` (a ``UsageError``: an
export format whose optional library is not installed), ``storage.sqlite.SchemaError``
(an ``OutputError``) and the writer's ``SinkMismatchError`` / ``WriterFailedError`` hang
from this tree too.

Messages never carry a token, an app secret or an ``appsecret_proof``: the API's
own message is kept, and the request is described by its path and metrics only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
"""The CLI's exit codes: everything done; a partial run; nothing could be started."""


class CollectorError(Exception):
    """Root of every error the collector raises on purpose.

    ``exit_code`` is what the CLI exits with when this error ends a command.
    """

    exit_code: ClassVar[int] = EXIT_PARTIAL


class UsageError(CollectorError):
    """The command line or its inputs cannot be used; exit code 2."""

    exit_code: ClassVar[int] = EXIT_USAGE


class OutputError(CollectorError):
    """An output (the store, an NDJSON file) that cannot be used as asked; exit code 2.

    Raised before any request is sent: a path that is a directory, a file that is
    not one of ours, a read-only location, a store and an NDJSON file that disagree.
    The message names the path and the fix.
    """

    exit_code: ClassVar[int] = EXIT_USAGE


class StoreFailed(CollectorError):
    """The store or the sink writer failed while a run was under way; exit code 1.

    What was committed before stays committed; the rest stays pending for the next run.
    """

    exit_code: ClassVar[int] = EXIT_PARTIAL


class GraphError(CollectorError):
    """A Graph API call that did not give usable data."""

    reason: str = "graph_error"


class TransportError(GraphError):
    """No trustworthy answer came back; always worth another try."""

    reason = "transport"


class RequestTimeout(TransportError):
    reason = "timeout"


class ConnectionFailed(TransportError):
    reason = "connection"


class BadResponse(TransportError):
    """The body is not the JSON the API promises (HTML page, truncated JSON, wrong shape)."""

    reason = "bad_response"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Scope(StrEnum):
    """What a throttle or a failure applies to."""

    REQUEST = "request"
    ACCOUNT = "account"
    TOKEN = "token"
    APP = "app"


@dataclass(frozen=True)
class ErrorBody:
    """The fields of Meta's ``{"error": {...}}`` body that a collector acts on."""

    code: int
    message: str
    type: str = ""
    subcode: int | None = None
    is_transient: bool = False
    fbtrace_id: str | None = None

    @classmethod
    def parse(cls, body: Any) -> ErrorBody | None:
        """Read an error body; ``None`` when ``body`` is not one."""
        if not isinstance(body, dict):
            return None
        error = body.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return None
        subcode = error.get("error_subcode")
        return cls(
            code=error["code"],
            message=str(error.get("message", "")),
            type=str(error.get("type", "")),
            subcode=subcode if isinstance(subcode, int) else None,
            is_transient=bool(error.get("is_transient", False)),
            fbtrace_id=str(error["fbtrace_id"]) if "fbtrace_id" in error else None,
        )


class ApiError(GraphError):
    """Meta answered with an error body; ``body`` holds its fields."""

    reason = "api_error"
    scope: Scope = Scope.REQUEST

    def __init__(self, body: ErrorBody, *, status: int) -> None:
        sub = f"/{body.subcode}" if body.subcode is not None else ""
        super().__init__(f"Graph error #{body.code}{sub}: {body.message}")
        self.body = body
        self.status = status

    @property
    def code(self) -> int:
        return self.body.code

    @property
    def subcode(self) -> int | None:
        return self.body.subcode

    @property
    def is_transient(self) -> bool:
        return self.body.is_transient

    @property
    def fbtrace_id(self) -> str | None:
        return self.body.fbtrace_id


class TransientApiError(ApiError):
    reason = "transient"


class Throttled(ApiError):
    """A rate limit was hit; ``scope`` says who must wait."""

    reason = "throttled"

    def __init__(self, body: ErrorBody, *, status: int, scope: Scope) -> None:
        super().__init__(body, status=status)
        self.scope = scope


class UnsupportedRequest(ApiError):
    reason = "unsupported_request"


class InvalidRequest(ApiError):
    reason = "invalid_request"


class PermissionDenied(ApiError):
    reason = "permission_denied"
    scope = Scope.ACCOUNT


class TokenInvalid(ApiError):
    reason = "token_invalid"
    scope = Scope.TOKEN


# Meta's throttle codes and the scope each names (SPEC section 5).
_THROTTLE_SCOPES: dict[int, Scope] = {
    4: Scope.APP,
    17: Scope.TOKEN,
    32: Scope.ACCOUNT,
    613: Scope.ACCOUNT,
    80002: Scope.ACCOUNT,
    341: Scope.APP,
    368: Scope.APP,
}


def api_error_from(body: ErrorBody, status: int) -> ApiError:
    """The typed error for an error body: branch on ``code``, never on the HTTP status."""
    code = body.code
    if code in _THROTTLE_SCOPES:
        return Throttled(body, status=status, scope=_THROTTLE_SCOPES[code])
    if code == 190:
        return TokenInvalid(body, status=status)
    if code == 10 or 200 <= code <= 299:
        return PermissionDenied(body, status=status)
    if code == 100 and body.subcode == 33:
        return UnsupportedRequest(body, status=status)
    if code == 100:
        return InvalidRequest(body, status=status)
    if code in (1, 2) or body.is_transient:
        return TransientApiError(body, status=status)
    return ApiError(body, status=status)
