"""The field types the config schema is declared with (pydantic v2, strict mode).

TOML types its values already, so every table is read strictly (:class:`Strict`): a
string is never taken for a number, nor a boolean for an integer, and an unknown key
is an error. A check that needs its own words raises :func:`bad`; its problem and fix
reach the :class:`~collector.config.checks.Problem` unchanged
(:mod:`collector.config.explain` words pydantic's own errors: missing, wrong type,
bounds, unknown key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from collector.config.checks import closest

T = TypeVar("T")

CONFIG_ERROR = "config"  # the pydantic error type of :func:`bad`


class Strict(BaseModel):
    """A TOML table: strict types, unknown keys refused, immutable once read."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def bad(problem: str, fix: str = "") -> PydanticCustomError:
    """The error a field check raises: ``problem`` and ``fix`` are reported as given."""
    return PydanticCustomError(CONFIG_ERROR, "{problem}", {"problem": problem, "fix": fix})


def parsed(parse: Callable[[object], T], fix: str) -> PlainValidator:
    """A value read by ``parse`` (which raises ``ValueError`` saying what is wrong)."""

    def run(value: object) -> T:
        try:
            return parse(value)
        except ValueError as exc:
            raise bad(str(exc), fix) from None

    return PlainValidator(run)


def choice(*allowed: str) -> BeforeValidator:
    """One of ``allowed``, compared case-insensitively (put it on their ``Literal``)."""

    def pick(value: object) -> object:
        if not isinstance(value, str):
            return value  # the Literal check names the type
        text = value.strip().lower()
        if text not in allowed:
            guess = closest(text, allowed)
            every = ", ".join(allowed)
            raise bad(
                f'"{text}" is not one of {every}',
                f'use "{guess}"' if guess else f"use one of {every}",
            )
        return text

    return BeforeValidator(pick)


def _no_integer(value: object, info: ValidationInfo) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        # a bare 17-digit integer works in TOML, but ids are strings everywhere else
        raise bad("expected a string, got an integer", f'quote it: {info.field_name} = "..."')
    return value


def _digits(value: str) -> str:
    if not (value.isdecimal() and value.isascii()):
        raise bad("is not numeric", "Graph ids are digits only")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-blank string, surrounding spaces dropped."""

GraphId = Annotated[Text, BeforeValidator(_no_integer), AfterValidator(_digits)]
"""A Graph id (an app or IG user id): digits, written as a TOML string."""

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A finite number greater than 0 (an integer is read as a float)."""

Count = Annotated[int, Field(ge=1)]
"""An integer of at least 1."""
