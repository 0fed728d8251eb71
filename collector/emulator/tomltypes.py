"""Typed reads of a parsed scenario TOML table, each failure one clear line.

Every getter takes the table, the key, a default and ``where`` (the file and the
table, e.g. ``"scenario.toml: [limits]"``) and returns the value with the type
the emulator needs, or raises :class:`TomlTypeError` whose message names the file,
the key, what was found and how to write it instead::

    scenario.toml: seed must be an integer, got "x" (a string); write e.g. seed = 7

A bool is never taken for a number (TOML ``true`` is not ``1``), an integer is
accepted where a float is wanted, and nothing is converted from a string: a
scenario that says ``seed = "7"`` is a typo worth pointing at, not guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any


class TomlTypeError(ValueError):
    """A key whose value has the wrong type; the message is the whole explanation."""


_TOML_NAMES: Mapping[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a float",
    bool: "a boolean",
    list: "an array",
    dict: "a table",
    dt.datetime: "a datetime",
    dt.date: "a date",
}


def _described(value: Any) -> str:
    kind = next((name for t, name in _TOML_NAMES.items() if type(value) is t), None)
    if kind is None:
        kind = "a table" if isinstance(value, Mapping) else type(value).__name__
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{shown} ({kind})"


def _fail(where: str, key: str, wanted: str, value: Any, example: str) -> TomlTypeError:
    return TomlTypeError(
        f"{where}: {key} must be {wanted}, got {_described(value)}; write e.g. {key} = {example}"
    )


def get_int(raw: Mapping[str, Any], key: str, default: int, where: str, example: str = "7") -> int:
    """``raw[key]`` as an int (``default`` when absent)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, key, "an integer", value, example)
    return value


def get_float(
    raw: Mapping[str, Any], key: str, default: float, where: str, example: str = "1.5"
) -> float:
    """``raw[key]`` as a float; TOML integers are accepted (``default`` when absent)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, key, "a number", value, example)
    return float(value)


def get_str(
    raw: Mapping[str, Any], key: str, default: str | None, where: str, example: str = '"name"'
) -> str | None:
    """``raw[key]`` as a string (``default``, possibly ``None``, when absent)."""
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, str):
        raise _fail(where, key, "a string", value, example)
    return value


def get_id(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    """An id: a string, or a TOML integer (ids are digits; both spellings are common)."""
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(where, key, "a string", value, '"17841400000000001"')
    return str(value)


def get_bool(raw: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    """``raw[key]`` as a bool (``default`` when absent)."""
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise _fail(where, key, "true or false", value, "true")
    return value


def get_str_list(
    raw: Mapping[str, Any],
    key: str,
    default: Sequence[str],
    where: str,
    example: str = '["a", "b"]',
) -> tuple[str, ...]:
    """``raw[key]`` as a tuple of strings (``default`` when absent)."""
    value = raw.get(key, default)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(where, key, "an array of strings", value, example)
    for item in value:
        if not isinstance(item, str):
            raise _fail(where, key, "an array of strings", value, example)
    return tuple(value)


def get_choice(
    raw: Mapping[str, Any], key: str, default: str, choices: Sequence[str], where: str
) -> str:
    """``raw[key]``, a string that must be one of ``choices``."""
    value = get_str(raw, key, default, where, f'"{choices[0]}"')
    assert value is not None
    if value not in choices:
        listed = " or ".join(f'"{c}"' for c in choices)
        raise TomlTypeError(f'{where}: {key} must be {listed}, got "{value}"')
    return value


def get_tables(raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    """``raw[key]`` as an array of tables (``[[key]]``); empty when absent."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise TomlTypeError(
            f"{where}: {key} must be an array of tables, written [[{key}]], got {_described(value)}"
        )
    return value


def get_table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``raw[key]`` as a table (``[key]``); empty when absent."""
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise TomlTypeError(
            f"{where}: {key} must be a table, written [{key}], got {_described(value)}"
        )
    return value
