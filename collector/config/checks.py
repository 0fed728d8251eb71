"""Validation helpers for the config loader: the error type, a strict TOML table
reader, date specs, ids and secrets (the metric checks are in
:mod:`collector.config.selection`).

Every check raises :class:`ConfigError`, which names the file, the place
(``[graph].api_version``, ``apps[2].calls_per_hour``, ``registry row 12``; array
positions count from 1, as a person reading the file counts them), the problem
and the fix. Messages show types, key names and metric names, never values of
keys that may hold secrets: a wrong-type message says "got a string", not what
the string was.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.secrets import SecretError, SecretResolver
from collector.errors import UsageError


@dataclass(frozen=True, slots=True)
class Problem:
    """One located mistake: ``file`` (``None`` when there is none), ``key`` (the key
    path or row, array positions counted from 1), ``message`` and ``fix`` (may be empty).
    """

    file: Path | None
    key: str
    message: str
    fix: str = ""

    def render(self) -> str:
        """One line: ``FILE: KEY: MESSAGE; fix: FIX``."""
        parts = [str(self.file)] if self.file is not None else []
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        text = ": ".join(parts)
        return f"{text}; fix: {self.fix}" if self.fix else text

    def place(self) -> tuple[str, list[object]]:
        """Sort key: the file, then the key with its numbers compared as numbers."""
        pieces: list[object] = [
            (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", self.key)
        ]
        return (str(self.file or ""), pieces)


class ConfigError(UsageError):
    """Config, registry or secret mistakes, located and explained.

    ``problems`` holds every mistake found (at least one), sorted by place;
    ``file``/``where``/``problem``/``fix`` are the first one's. ``str()`` renders
    every problem, one line each: ``FILE: WHERE: PROBLEM; fix: FIX``.
    """

    def __init__(
        self,
        file: Path | None,
        where: str,
        problem: str,
        fix: str = "",
        *,
        more: Sequence[Problem] = (),
    ) -> None:
        found = [Problem(file, where, problem, fix), *more]
        # the same mistake met by two readers of one table is reported once
        self.problems: list[Problem] = sorted(dict.fromkeys(found), key=Problem.place)
        first = self.problems[0]
        self.file, self.where, self.problem, self.fix = (
            first.file,
            first.key,
            first.message,
            first.fix,
        )
        super().__init__(self._render())

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigError:
        """One error carrying all of ``problems`` (at least one)."""
        head, *rest = problems
        return cls(head.file, head.key, head.message, head.fix, more=rest)

    def _render(self) -> str:
        return "\n".join(problem.render() for problem in self.problems)

    def __str__(self) -> str:
        return self._render()


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice most like ``word`` (difflib ratio >= 0.6), or ``None``."""
    matches = difflib.get_close_matches(word, list(choices), n=1)
    return matches[0] if matches else None


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: TOML booleans are Python ints
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (dt.datetime, "a date-time"),  # before date: a datetime is a date
    (dt.date, "a date"),
    (dt.time, "a time"),
)


def toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, with its article: ``a string``."""
    return next((name for kind, name in _TOML_TYPES if isinstance(value, kind)), "a value")


class Table:
    """One TOML table being read strictly: unknown keys fail at once, types are checked.

    ``path`` is how errors name the table (``[graph]``, ``apps[2]``); an empty
    path is the top level.
    """

    def __init__(
        self, data: Mapping[str, object], path: str, file: Path, allowed: Sequence[str]
    ) -> None:
        self.data = data
        self.path = path
        self.file = file
        unknown = [self._unknown(key, allowed) for key in data if key not in allowed]
        if unknown:  # every unknown key of the table, not just the first
            raise ConfigError.of(unknown)

    def _unknown(self, key: str, allowed: Sequence[str]) -> Problem:
        where = self.path or "top level"
        guess = closest(key, allowed)
        fix = f'did you mean "{guess}"?' if guess else "remove it"
        return Problem(
            self.file, where, f'unknown key "{key}" (allowed: {", ".join(allowed)})', fix
        )

    def where(self, key: str) -> str:
        """The error location of ``key`` in this table."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str, fix: str = "") -> ConfigError:
        """A :class:`ConfigError` located at ``key``."""
        return ConfigError(self.file, self.where(key), problem, fix)

    def has(self, key: str) -> bool:
        return key in self.data

    def _typed(self, key: str, kinds: tuple[type, ...], expected: str) -> object:
        value = self.data[key]
        # TOML booleans are Python ints: refuse them where a number is expected
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(
                key, f"expected {expected}, got {toml_type(value)}", f"write {key} as {expected}"
            )
        return value

    def string(
        self, key: str, default: str | None = None, *, hint: str = "", empty: bool = False
    ) -> str:
        """A required (``default is None``) or optional string, non-empty unless ``empty``."""
        if key not in self.data:
            if default is None:
                raise self.error(key, "is required", hint or f'add {key} = "..."')
            return default
        value = self._typed(key, (str,), "a string")
        assert isinstance(value, str)
        if not value.strip() and not empty:
            raise self.error(key, "is empty", hint or "give it a value or remove the key")
        return value

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        """An optional integer no smaller than ``minimum``."""
        if key not in self.data:
            return default
        value = self._typed(key, (int,), "an integer")
        assert isinstance(value, int)
        if value < minimum:
            raise self.error(
                key, f"must be at least {minimum}, got {value}", f"use {minimum} or more"
            )
        return value

    def positive_number(self, key: str, default: float | None) -> float:
        """A required (``default is None``) or optional number > 0."""
        if key not in self.data:
            if default is None:
                raise self.error(key, "is required", f"add {key} = <a number > 0>")
            return default
        value = self._typed(key, (int, float), "a number")
        assert isinstance(value, int | float)
        if not value > 0:  # also rejects nan
            raise self.error(
                key, f"must be greater than 0, got {value}", f"write {key} = <a number > 0>"
            )
        return float(value)

    def choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        """An optional string among ``allowed`` (compared case-insensitively)."""
        value = self.string(key, default).lower()
        if value not in allowed:
            guess = closest(value, allowed)
            raise self.error(
                key,
                f'"{value}" is not one of {", ".join(allowed)}',
                f'use "{guess}"' if guess else f"use one of {', '.join(allowed)}",
            )
        return value

    def string_list(self, key: str) -> list[str] | None:
        """An optional array of non-empty strings, or ``None`` when absent."""
        if key not in self.data:
            return None
        value = self._typed(key, (list,), "an array of strings")
        assert isinstance(value, list)
        for index, item in enumerate(value, start=1):
            if not isinstance(item, str) or not item.strip():
                got = toml_type(item) if not isinstance(item, str) else "an empty string"
                raise ConfigError(
                    self.file, f"{self.where(key)}[{index}]", f"expected a string, got {got}"
                )
        return [item.strip() for item in value]

    def table(self, key: str, allowed: Sequence[str]) -> Table:
        """An optional sub-table (``[key]``); absent reads as empty."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table [{key}], got {toml_type(value)}")
        return Table(value, f"[{key}]", self.file, allowed)

    def tables(self, key: str, allowed: Sequence[str]) -> list[Table]:
        """An optional array of tables (``[[key]]``); absent reads as empty."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected an array of tables [[{key}]], got {toml_type(value)}")
        return [
            Table(item, f"{key}[{index}]", self.file, allowed)
            for index, item in enumerate(value, start=1)
        ]


_RELATIVE_RE = re.compile(r"^(\d+)d$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class DateSpec:
    """A day given either as an absolute date or as "N days before today" (Pacific).

    Exactly one of ``absolute`` and ``days_ago`` is set.
    """

    absolute: dt.date | None = None
    days_ago: int | None = None

    def resolve(self, today: dt.date) -> dt.date:
        """The calendar date this spec names, given the Pacific ``today``."""
        if self.absolute is not None:
            return self.absolute
        assert self.days_ago is not None
        return today - dt.timedelta(days=self.days_ago)

    def __str__(self) -> str:
        return self.absolute.isoformat() if self.absolute is not None else f"{self.days_ago}d"


def parse_date_spec(value: object) -> DateSpec:
    """``"2024-01-31"``, a TOML date, or ``"Nd"`` as a :class:`DateSpec`.

    Raises ``ValueError`` (message without the fix) for anything else.
    """
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date, got a date-time")
    if isinstance(value, dt.date):
        return DateSpec(absolute=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {toml_type(value)}")
    text = value.strip()
    relative = _RELATIVE_RE.match(text)
    if relative:
        return DateSpec(days_ago=int(relative.group(1)))
    try:
        return DateSpec(absolute=dt.date.fromisoformat(text))
    except ValueError:
        pass
    shaped = _DATE_RE.match(text)
    if shaped:  # the right shape, but no such day: say so rather than "not a date"
        year, month, _day = (int(part) for part in shaped.groups())
        if not 1 <= month <= 12:
            raise ValueError(f'"{text}" is a date that does not exist (month {month})')
        last = calendar.monthrange(year, month)[1]
        raise ValueError(
            f'"{text}" is a date that does not exist '
            f"({calendar.month_name[month]} {year} has {last} days)"
        )
    raise ValueError(f'"{text}" is neither a date YYYY-MM-DD nor "Nd"')


def check_order(since: DateSpec, until: DateSpec) -> bool:
    """False when ``since`` is surely after ``until`` whatever today is.

    Two absolute dates or two relative counts can be compared now; a mixed pair
    depends on today and is checked by ``resolve_range``.
    """
    if since.absolute is not None and until.absolute is not None:
        return since.absolute <= until.absolute
    if since.days_ago is not None and until.days_ago is not None:
        return since.days_ago >= until.days_ago
    return True


def numeric_id(table: Table, key: str) -> str:
    """A required Graph id (digits only), written as a TOML string."""
    if isinstance(table.data.get(key), int) and not isinstance(table.data.get(key), bool):
        # a bare 17-digit integer works in TOML, but ids are strings everywhere else
        raise table.error(key, "expected a string, got an integer", f'quote it: {key} = "..."')
    value = table.string(key).strip()
    if not (value.isdecimal() and value.isascii()):
        raise table.error(key, "is not numeric", "Graph ids are digits only")
    return value


def secret_value(table: Table, key: str, resolver: SecretResolver, base_dir: Path) -> str:
    """The secret that ``table[key]`` refers to; errors name the key, never the value."""
    try:
        return resolver.resolve(table.string(key), base_dir=base_dir)
    except SecretError as exc:
        raise table.error(key, exc.problem, exc.fix) from None
