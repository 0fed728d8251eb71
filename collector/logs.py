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

# Credential-shaped text: query parameters, Authorization values, Meta token prefixes.
_PATTERNS = re.compile(
    r"(?P<param>(?:access_token|appsecret_proof|client_secret|input_token)=)[^&\s\"']+"
    r"|(?P<auth>(?:Bearer|OAuth)\s+)[^\s\"',]+"
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
    prefix = match.group("param") or match.group("auth") or ""
    return prefix + REDACTED


REDACTOR = Redactor()


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configure time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set structlog up once: JSON lines or console, with the redactor before rendering.

    Without ``stream`` the logs go to the current ``sys.stderr`` at each write, so a
    replaced or closed stderr object (a test runner's capture) is never written to.
    """
    out = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
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
