"""``since``/``until`` values as Meta reads them: Unix seconds or a strtotime string.

Sources: the Graph API paging reference ("time-based pagination ... ``since``: a Unix
timestamp or ``strtotime`` data value that points to the start of the range"); the
IGUser Insights reference types both parameters ``datetime/timestamp``; Airbyte's
source-instagram 4.x sends ``since=2024-01-15T00:00:00+00:00`` (its mock-server tests,
``unit_tests/mock_server/test_user_insights.py``) and tap-instagram sends pendulum's
``2024-01-15T00:00:00+00:00``.

Accepted here (a subset of PHP's strtotime, the forms clients are seen to send):

- ``1576771200`` and ``@1576771200``: Unix seconds;
- ISO 8601 dates and datetimes: ``2019-12-20``, ``2019-12-20T08:00``,
  ``2019-12-20T08:00:00.123``, with ``T`` or a space, and an optional zone ``Z``,
  ``UTC``, ``GMT``, ``+00:00``, ``+0000`` or ``+00``;
- ``2019/12/20`` and ``12/20/2019`` (strtotime's American order), with an optional time;
- ``now``, ``today``, ``midnight``, ``noon``, ``yesterday``, ``tomorrow``;
- relative offsets: ``-1 day``, ``+2 weeks``, ``3 days ago``, ``-1 month 2 days``
  (units sec/second, min/minute, hour, day, week, fortnight, month, year; plural ok).

A time without a zone is read in Pacific time (America/Los_Angeles): strtotime uses
the server's default zone, and Meta's insights days are Pacific days (SPEC 3). This
is the emulator's choice; Meta documents no zone. Anything else is refused
(:func:`parse_time` returns ``None``); Meta's error for it is in
:func:`collector.emulator.messages.msg_bad_time`.
"""

from __future__ import annotations

import datetime as dt
import re

from collector.emulator.pacific import PACIFIC

_ZONE = r"(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_TIME = r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?)?"
_ISO = re.compile(rf"^(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}}){_TIME}\s*{_ZONE}$", re.I)
_SLASH_YMD = re.compile(rf"^(?P<y>\d{{4}})/(?P<mo>\d{{1,2}})/(?P<d>\d{{1,2}}){_TIME}\s*{_ZONE}$")
_SLASH_MDY = re.compile(rf"^(?P<mo>\d{{1,2}})/(?P<d>\d{{1,2}})/(?P<y>\d{{4}}){_TIME}\s*{_ZONE}$")
_TERM = re.compile(
    # Longest unit names first ("seconds" must not stop at "sec"), then a word end.
    r"\s*(?P<n>[+-]?\s*\d+)\s*"
    r"(?P<unit>second|sec|minute|min|hour|day|week|fortnight|month|year)s?\b",
    re.I,
)
_SECONDS = {
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "hour": 3600,
}
_DAYS = {"day": 1, "week": 7, "fortnight": 14}
_MONTHS = {"month": 1, "year": 12}


def _zone(text: str | None) -> dt.tzinfo:
    if text is None:
        return PACIFIC
    if text.upper() in ("Z", "UTC", "GMT"):
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _absolute(match: re.Match[str]) -> int:
    parts = match.groupdict()
    frac = parts.get("frac")
    moment = dt.datetime(
        int(parts["y"]),
        int(parts["mo"]),
        int(parts["d"]),
        int(parts["h"] or 0),
        int(parts["mi"] or 0),
        int(parts["s"] or 0),
        int((frac or "0")[:6].ljust(6, "0")),
        tzinfo=_zone(parts.get("zone")),
    )
    return int(moment.timestamp())


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    # strtotime overflows into the next month (Jan 31 + 1 month = Mar 3); clamping
    # to the month's last day is close enough for a range edge.
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    raise ValueError(moment)


def _relative(text: str, now: float) -> int | None:
    ago = text.lower().endswith(" ago")
    body = text[:-4] if ago else text
    position, terms = 0, []
    while position < len(body):
        match = _TERM.match(body, position)
        if match is None:
            return None
        terms.append((int(match.group("n").replace(" ", "")), match.group("unit").lower()))
        position = match.end()
    if not terms:
        return None
    moment = dt.datetime.fromtimestamp(now, PACIFIC)
    for count, unit in terms:
        count = -count if ago else count
        if unit in _SECONDS:
            moment = moment + dt.timedelta(seconds=count * _SECONDS[unit])
        elif unit in _DAYS:
            # Calendar days in the local zone (strtotime keeps the wall-clock time).
            naive = moment.replace(tzinfo=None) + dt.timedelta(days=count * _DAYS[unit])
            moment = naive.replace(tzinfo=PACIFIC)
        else:
            moment = _add_months(moment, count * _MONTHS[unit])
    return int(moment.timestamp())


def _keyword(word: str, now: float) -> int | None:
    local = dt.datetime.fromtimestamp(now, PACIFIC)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=PACIFIC)
    offsets = {"today": 0, "midnight": 0, "yesterday": -1, "tomorrow": 1}
    if word == "now":
        return int(now)
    if word == "noon":
        return int(midnight.replace(hour=12).timestamp())
    if word in offsets:
        day = local.date() + dt.timedelta(days=offsets[word])
        return int(dt.datetime.combine(day, dt.time(0), tzinfo=PACIFIC).timestamp())
    return None


def parse_time(text: str, now: float) -> int | None:
    """Unix seconds for a ``since``/``until`` value, or ``None`` if Meta would refuse it.

    ``now`` anchors the relative forms (``yesterday``, ``-3 days``).
    """
    value = text.strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    if value.startswith("@") and value[1:].lstrip("-").isdigit():
        return int(value[1:])
    for pattern in (_ISO, _SLASH_YMD, _SLASH_MDY):
        match = pattern.match(value)
        if match is not None:
            try:
                return _absolute(match)
            except ValueError:
                return None
    keyword = _keyword(value.lower(), now)
    if keyword is not None:
        return keyword
    return _relative(value, now)
