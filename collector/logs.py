"""Structured logs: configured once by the CLI, redacted always.

Events are snake_case verbs with fields (``window_done``, ``run_summary``);
``account``, ``app`` and ``window`` are bound per task through contextvars.
JSON lines on stderr, or a console renderer when stderr is a terminal.

:class:`Redactor` is a processor that runs last before rendering: it walks every
value of the event (exception text included, rendered first) and replaces every
known secret and anything shaped like a credential parameter. Secrets are
registered when the config is loaded, so a token is caught even where no
pattern would recognise it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import orjson
import structlog

REDACTED = "[REDACTED]"

# Credential-shaped text. Only text that *is* a credential matches: a parameter's
# value (``access_token=...`` in a URL or a body, ``"access_token": "..."`` in
# JSON), the value of an Authorization header, a Meta token (``EAA...``). A bare
# scheme word followed by a word is not enough: Meta's own messages read
# "Invalid OAuth access token" (code 190), which must reach the logs as it is.
_PARAM = r"(?i:access_token|appsecret_proof|client_secret|input_token)"
_PATTERNS = re.compile(
    rf"(?P<param>\b(?:{_PARAM})=)[^&\s\"']+"
    rf"|(?P<json>[\"']?\b(?:{_PARAM})[\"']?\s*:\s*[\"'])[^\"']+"
    r"|(?P<header>\b(?i:Authorization)[\"']?\s*[:=]\s*[\"']?(?i:Bearer|OAuth)\s+)[^\s\"',]+"
    # RFC 6750's b64token, long enough to be one; _looks_random tells it from prose.
    r"|(?P<scheme>\b(?:Bearer|OAuth)\s+)(?P<credential>[A-Za-z0-9\-._~+/|]{16,}=*)"
    r"|\bEAA[A-Za-z0-9]{8,}"
)
# Words that may be a secret, for the exact look-up in the registered set.
_WORDS = re.compile(r"[A-Za-z0-9_\-.|]{6,}")


class Redactor:
    """A structlog processor that removes secrets from every event value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        self._lengths: list[int] = []  # distinct lengths in ``_exact``, longest first
        self._odd: list[str] = []  # secrets with characters a word match cannot cover
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if not secret or len(secret) < 4:
                continue
            if _WORDS.fullmatch(secret):
                self._exact.add(secret)
            else:
                self._odd.append(secret)
        self._lengths = sorted({len(s) for s in self._exact}, reverse=True)

    def clean(self, text: str) -> str:
        """``text`` with every secret and credential-shaped part replaced."""
        for secret in self._odd:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if self._exact:
            text = _WORDS.sub(self._word, text)
        return _PATTERNS.sub(_pattern_replacement, text)

    def _word(self, match: re.Match[str]) -> str:
        word = match.group(0)
        if word in self._exact:
            return REDACTED
        if len(word) <= self._lengths[-1]:
            return word  # too short to hold a registered secret and more
        # A secret can sit inside a longer word: "<app id>|<secret>", or a sentence's
        # final "." glued to it. Look for every registered length at every offset.
        found: set[str] = set()
        for length in self._lengths:
            for start in range(len(word) - length + 1):
                piece = word[start : start + length]
                if piece in self._exact:
                    found.add(piece)
        for secret in sorted(found, key=len, reverse=True):
            word = word.replace(secret, REDACTED)
        return word

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.clean(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {k: self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, tuple):
            # tuple(), not type(value)(): a NamedTuple cannot be built from one iterable.
            return tuple(self._walk(v) for v in value)
        if isinstance(value, BaseException):
            return self.clean(f"{type(value).__name__}: {value}")
        # Anything else would be rendered after this processor, unredacted (orjson
        # writes every field of a dataclass, ``repr=False`` ones included): text now.
        return self.clean(str(value))

    def __call__(self, _logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
        for key in list(event):
            event[key] = self._walk(event[key])
        return event


def _pattern_replacement(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    if scheme is not None:
        credential = match.group("credential")
        if not _looks_random(credential):
            return match.group(0)
        return scheme + REDACTED
    prefix = match.group("param") or match.group("json") or match.group("header") or ""
    return prefix + REDACTED


def _looks_random(word: str) -> bool:
    """Whether a word after a bare ``Bearer``/``OAuth`` is a credential, not prose.

    Tokens mix digits or letter cases; words of a sentence (even long ones, even
    hyphenated) do not.
    """
    has_digit = any(c.isdigit() for c in word)
    mixed_case = any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)
    return has_digit or mixed_case


REDACTOR = Redactor()
"""The process's one redactor: every structlog event goes through it (see :func:`configure`)."""


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` as a log line would show it: registered secrets, ``secrets`` and
    credential-shaped parts replaced by :data:`REDACTED`.

    For text that leaves the process by another door than a log event: an
    exception raised to a library caller, a line the CLI prints. ``secrets``
    (e.g. the token of one call) are blanked here without being registered.
    """
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return REDACTOR.clean(text)


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configure time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_json_lines = False


def json_lines() -> bool:
    """Whether the last :func:`configure` chose JSON lines (then stderr carries nothing else)."""
    return _json_lines


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set structlog up once: JSON lines or console, with the redactor before rendering.

    Without ``stream`` the logs go to the current ``sys.stderr`` at each write, so a
    replaced or closed stderr object (a test runner's capture) is never written to.
    """
    global _json_lines
    out = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    _json_lines = not console
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def token_fingerprint(token: str) -> str:
    """A short, irreversible name for a token, safe for logs."""
    return "tok-" + hashlib.sha256(token.encode()).hexdigest()[:10]
