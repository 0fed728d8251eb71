"""What every config check shares: the located :class:`Problem`, the :class:`ConfigError`
carrying all of a file's problems, and the day specs of ``[collect]`` and ``[daemon]``.

A problem names the file, the place (``[graph].api_version``, ``apps[2].calls_per_hour``,
``registry row 12``; array positions count from 1, as a person reading the file counts
them), the problem and the fix. Messages show types, key names and metric names, never
values of keys that may hold secrets: a wrong-type message says "got a string", not
what the string was.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
