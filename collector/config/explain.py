"""Pydantic's validation errors as located :class:`~collector.config.checks.Problem` s.

A pydantic error carries its place as a path (``("apps", 1, "calls_per_hour")``);
:func:`place` writes it as a person reads the file (``apps[2].calls_per_hour``,
``[graph].timeout_s``, ``[collect.breakdowns].reach[1]``), walking the schema to tell
a table from a key. :func:`problems` words each error with a fix; only numbers are
quoted back, never a string that might be a secret.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from collector.config.checks import Problem, closest, toml_type
from collector.config.fields import CONFIG_ERROR

Loc = Sequence[int | str]

_TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
}


def problems(error: ValidationError, file: Path, root: type[BaseModel]) -> list[Problem]:
    """Every error of ``error`` (raised validating ``root``) as a problem of ``file``."""
    return [_problem(detail, file, root) for detail in error.errors(include_url=False)]


def _bare(kind: Any) -> Any:
    """``kind`` without ``Annotated`` metadata and without ``| None``."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, types.UnionType):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        else:
            return kind


def _child(kind: Any, part: int | str) -> Any:
    """The type at ``part`` in a value of type ``kind`` (``None`` when unknown)."""
    kind = _bare(kind)
    if isinstance(part, int):
        return get_args(kind)[0] if get_origin(kind) is list else None
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        field = kind.model_fields.get(part)
        return field.annotation if field else None
    return get_args(kind)[1] if get_origin(kind) is dict else None


def _is_table(kind: Any) -> bool:
    kind = _bare(kind)
    return get_origin(kind) is dict or (isinstance(kind, type) and issubclass(kind, BaseModel))


def _walk(loc: Loc, root: type[BaseModel]) -> Any:
    kind: Any = root
    for part in loc:
        kind = _child(kind, part)
    return _bare(kind)


def place(loc: Loc, root: type[BaseModel]) -> str:
    """How the file names ``loc``: ``[graph]``, ``apps[2].name``, ``[collect].metrics[1]``."""
    text, kind, header = "", _bare(root), True  # header: text is a [table] name so far
    for part in loc:
        inner = _child(kind, part)
        if isinstance(part, int):
            text, header = f"{text}[{part + 1}]", False
        elif header and _is_table(inner):
            text = f"[{text[1:-1]}.{part}]" if text else f"[{part}]"
        else:
            text, header = (f"{text}.{part}" if text else part), False
        kind = inner
    return text


def _problem(detail: ErrorDetails, file: Path, root: type[BaseModel]) -> Problem:
    loc, kind, value = detail["loc"], detail["type"], detail["input"]
    ctx: dict[str, Any] = detail.get("ctx", {})
    key = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    where, got = place(loc, root), toml_type(value)
    if kind == CONFIG_ERROR:
        return Problem(file, where, ctx["problem"], ctx["fix"])
    if kind == "extra_forbidden":
        allowed = list(_walk(loc[:-1], root).model_fields)
        guess = closest(key, allowed)
        return Problem(
            file,
            place(loc[:-1], root) or "top level",
            f'unknown key "{key}" (allowed: {", ".join(allowed)})',
            f'did you mean "{guess}"?' if guess else "remove it",
        )
    if kind == "missing":
        return Problem(file, where, "is required", _addition(loc, root))
    if kind in _TYPES:
        expected = _TYPES[kind]
        return Problem(file, where, f"expected {expected}, got {got}", f"write {key} as {expected}")
    if kind in ("model_type", "dict_type"):
        return Problem(file, where, f"expected a table, got {got}", "write it as a TOML table")
    if kind == "list_type":
        if _is_table(_child(_walk(loc, root), 0)):
            return Problem(
                file, where, f"expected an array of tables [[{key}]], got {got}", f"write [[{key}]]"
            )
        return Problem(
            file, where, f"expected an array of strings, got {got}", f'write {key} = ["..."]'
        )
    if kind == "greater_than":
        bound = f"{ctx['gt']:g}"
        return Problem(
            file,
            where,
            f"must be greater than {bound}, got {value}",
            f"write {key} = <a number > {bound}>",
        )
    if kind == "greater_than_equal":
        return Problem(
            file, where, f"must be at least {ctx['ge']}, got {value}", f"use {ctx['ge']} or more"
        )
    if kind == "finite_number":
        return Problem(
            file, where, f"must be a finite number, got {value}", f"write {key} = <a number>"
        )
    if kind == "string_too_short":
        return Problem(file, where, "is empty", "give it a value or remove the key")
    if kind == "literal_error":
        return Problem(file, where, f"expected one of {ctx['expected']}, got {got}")
    return Problem(file, where, detail["msg"])


def _addition(loc: Loc, root: type[BaseModel]) -> str:
    """The fix of a missing key or table: what to add, from the schema's examples."""
    holder, name = _walk(loc[:-1], root), str(loc[-1])
    field = holder.model_fields[name]
    table = _bare(field.annotation)
    if isinstance(table, type) and issubclass(table, BaseModel):
        needed = [
            f"{k} = {_example(f.examples)}"
            for k, f in table.model_fields.items()
            if f.is_required()
        ]
        return f"add [{name}] with {', '.join(needed)}"
    return f"add {name} = {_example(field.examples)}"


def _example(examples: list[Any] | None) -> str:
    return str(examples[0]) if examples else '"..."'
