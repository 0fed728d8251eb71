"""Reaching a PostgreSQL server: the driver (imported on demand), connections, redacted URLs.

psycopg is an optional dependency (the ``postgres`` extra): nothing here imports
it before a store is opened, and its absence is one
:class:`~collector.errors.OutputError` naming the command that installs it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from collector.errors import OutputError
from collector.logs import redact_text
from collector.storage.postgres_schema import check_schema_name

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

__all__ = [
    "CONNECT_TIMEOUT_S",
    "INSTALL_HINT",
    "connect",
    "connect_kwargs",
    "driver",
    "location_of",
    "redact_url",
]

INSTALL_HINT: Final = "pip install 'ig-collector[postgres]'"
CONNECT_TIMEOUT_S: Final = 10


def redact_url(url: str) -> str:
    """``url`` (a libpq URL or ``key=value`` string) without its password, for messages."""
    if "://" not in url:
        return re.sub(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if colon else f"{user}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def location_of(url: str, schema: str | None) -> str:
    """How messages name the store: its redacted URL, and the schema if one is named."""
    return redact_url(url) + (f" (schema {schema})" if schema else "")


def connect_kwargs(schema: str | None, dict_row: Any) -> dict[str, Any]:
    """Every connection's settings: autocommit, rows by column name, the search path."""
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
    if schema is not None:
        kwargs["options"] = f"-c search_path={check_schema_name(schema)}"
    return kwargs


async def connect(url: str, location: str, kwargs: dict[str, Any]) -> AsyncConnection[DictRow]:
    """One connection to ``url``, or an OutputError with libpq's reason (password blanked)."""
    import psycopg

    try:
        conn: AsyncConnection[DictRow] = await psycopg.AsyncConnection.connect(
            url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs
        )
    except psycopg.Error as error:
        reason = redact_text(str(error).strip(), [_password(url)])
        raise OutputError(f"cannot connect to {location}: {reason}") from None
    return conn


def _password(url: str) -> str | None:
    """The password written in ``url``, to blank it out of driver messages."""
    if "://" in url:
        return urlsplit(url).password
    found = re.search(r"(?i)\bpassword\s*=\s*(\S+)", url)
    return found.group(1).strip("'") if found else None


def driver() -> tuple[Any, Any, Any]:
    """psycopg, its ``dict_row`` and ``AsyncConnectionPool``, or an OutputError naming the extra."""
    try:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError as error:
        raise OutputError(
            f"the PostgreSQL store needs psycopg 3 ({error.name} is not installed);"
            f" install it with: {INSTALL_HINT}"
        ) from None
    return psycopg, dict_row, AsyncConnectionPool
