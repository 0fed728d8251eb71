"""``[collect]`` checked against the catalogue of every API version the apps use.

Each ``[[apps]]`` entry may set its own ``api_version`` (default:
``[graph].api_version``), and ``[collect]`` is written once, so this module turns
it into one :class:`MetricSelection` per version in use (SPEC section 2):

- A metric no app's version serves is an error naming the version that retired
  it and its heir, or the version it arrived in.
- A metric only some versions serve is collected by the apps whose version
  serves it and skipped by the others, with one warning per version. One list
  of legacy and current metrics thus serves a v17 app and a v24 app side by
  side (``config/demo.toml``); ``check-config --suggest`` migrates such a list.
- Without ``[collect].metrics`` each version collects its whole catalogue.
- ``[collect.breakdowns]`` maps a collected metric to a list of breakdown
  *entries*: a breakdown name, or several joined by commas (``"age,gender"``)
  that Meta crosses in one answer. Each entry costs one request per end_time
  date (demographics: per timeframe). A breakdown a version lacks for the metric
  is an error if no version collecting the metric has it, else skipped (with a
  warning) by the versions that lack it. Breakdowns need ``metric_type=
  total_value``, so v17 has none.
- ``[collect].timeframes`` must be accepted by every v18+ version in use.

Every check raises :class:`~collector.config.checks.ConfigError` located at the
key and array position, with a fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collector.config.checks import ConfigError, Table, closest
from collector.graph import catalogue
from collector.graph.catalogue import Breakdowns

KNOWN_PERIODS: tuple[str, ...] = ("day", "week", "days_28", "lifetime")


@dataclass(frozen=True, slots=True)
class MetricSelection:
    """What the apps on one API version collect: metrics, periods, breakdowns."""

    version: str
    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    breakdowns: Breakdowns = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """``[collect]`` resolved for every version in use.

    ``metrics`` and ``periods`` are the union over versions (config order);
    ``breakdowns`` the validated ``[collect.breakdowns]`` (entries normalised to
    ``a,b`` without spaces); ``by_version`` one selection per version, in the
    order the apps first use them.
    """

    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    breakdowns: Breakdowns
    by_version: tuple[MetricSelection, ...]
    warnings: tuple[str, ...]


def _arrival(metric: str) -> str | None:
    """The first version (v18 onward) that serves ``metric``, if any does."""
    for major in range(18, 40):
        if metric in catalogue.catalogue(f"v{major}.0"):
            return f"v{major}.0"
    return None


def _newest(versions: Sequence[str]) -> str:
    return max(versions, key=catalogue.parse_version)


def retirement_fix(gone: catalogue.Retirement, version: str) -> str:
    """The fix a config error prints for a retired metric: its heir as config to write."""
    served = catalogue.catalogue(version)
    if gone.heir is None or gone.heir not in served:
        return f"remove it: {gone.replacement}"
    if gone.breakdown is None:
        rest = gone.replacement.removeprefix(gone.heir).strip()
        return f'use "{gone.heir}"' + (f" {rest}" if rest else "")
    which = f" (its {gone.key} results)" if gone.key else ""
    return f'use "{gone.heir}" with [collect.breakdowns] {gone.heir} = ["{gone.breakdown}"]{which}'


def metric_error(table: Table, index: int, metric: str, versions: Sequence[str]) -> ConfigError:
    """Why ``metric`` (at ``[collect].metrics[index]``) is served by none of ``versions``."""
    where = f"{table.where('metrics')}[{index}]"
    newest = _newest(versions)
    served_by = newest if len(versions) == 1 else f"any app's version ({', '.join(versions)})"
    retired = catalogue.retirement(metric, newest)
    if retired is not None:
        return ConfigError(
            table.file,
            where,
            f'"{metric}" is not served by {served_by} (retired in {retired.retired_in})',
            retirement_fix(retired, newest),
        )
    arrived = _arrival(metric)
    if arrived is not None:
        return ConfigError(
            table.file,
            where,
            f'"{metric}" is not served by {served_by} (it arrived in {arrived})',
            f"set [graph].api_version to {arrived} or later (or an app's api_version), "
            "or remove it",
        )
    known = list(dict.fromkeys(m for v in versions for m in catalogue.catalogue(v)))
    guess = closest(metric, known)
    fix = f'did you mean "{guess}"?' if guess else f"use one of {', '.join(known)}"
    return ConfigError(
        table.file, where, f'unknown metric "{metric}" in {" and ".join(versions)}', fix
    )


def _repeat(table: Table, key: str, index: int, name: str) -> ConfigError:
    return ConfigError(
        table.file, f"{table.where(key)}[{index}]", f'"{name}" is listed twice', "remove one"
    )


def _check_periods(table: Table, periods: list[str] | None) -> None:
    if periods is None:
        return
    for index, period in enumerate(periods, start=1):
        if period not in KNOWN_PERIODS:
            guess = closest(period, KNOWN_PERIODS)
            raise ConfigError(
                table.file,
                f"{table.where('periods')}[{index}]",
                f'unknown period "{period}" (known: {", ".join(KNOWN_PERIODS)})',
                f'use "{guess}"' if guess else "remove it",
            )
        if period in periods[: index - 1]:
            raise _repeat(table, "periods", index, period)


def _usable(metric: str, version: str, periods: list[str] | None) -> bool:
    spec = catalogue.catalogue(version).get(metric)
    return spec is not None and (periods is None or bool(set(spec.periods) & set(periods)))


def _no_period(table: Table, index: int, metric: str, versions: Sequence[str]) -> ConfigError:
    own = list(
        dict.fromkeys(
            p
            for v in versions
            if metric in (c := catalogue.catalogue(v))
            for p in c[metric].periods
        )
    )
    lost = [gone for v in versions if (gone := catalogue.retired_periods(metric, v))]
    why = f"; {', '.join(lost[0][1])} retired in {lost[0][0]}" if lost else ""
    return ConfigError(
        table.file,
        f"{table.where('metrics')}[{index}]",
        f'"{metric}" has no period among [collect].periods (it serves: {", ".join(own)}{why})',
        f"add one of {', '.join(own)} to [collect].periods, or remove the metric",
    )


def _choose(
    table: Table, versions: Sequence[str], metrics: list[str] | None, periods: list[str] | None
) -> dict[str, list[str]]:
    """Per version, the metrics it collects (config order), after every metric check."""
    if metrics is None:
        return {
            v: [m for m in catalogue.default_metrics(v) if _usable(m, v, periods)] for v in versions
        }
    found: list[ConfigError] = []  # every bad metric, not just the first
    for index, metric in enumerate(metrics, start=1):
        if metric in metrics[: index - 1]:
            found.append(_repeat(table, "metrics", index, metric))
        elif not any(metric in catalogue.catalogue(v) for v in versions):
            found.append(metric_error(table, index, metric, versions))
        elif not any(_usable(metric, v, periods) for v in versions):
            found.append(_no_period(table, index, metric, versions))
    if found:
        raise ConfigError.of([problem for error in found for problem in error.problems])
    return {v: [m for m in metrics if _usable(m, v, periods)] for v in versions}


def _split_entry(table: Table, where: str, entry: str) -> str:
    parts = [part.strip() for part in entry.split(",")]
    if any(not part for part in parts):
        raise ConfigError(
            table.file, where, f'"{entry}" has an empty breakdown name', 'write e.g. "age,gender"'
        )
    for part in parts:
        if parts.count(part) > 1:
            raise ConfigError(
                table.file, where, f'"{entry}" names {part} twice', "name each breakdown once"
            )
    return ",".join(parts)


def _check_breakdowns(
    table: Table, chosen: Mapping[str, list[str]], warnings: list[str], apps: Mapping[str, str]
) -> tuple[Breakdowns, dict[str, Breakdowns]]:
    """``[collect.breakdowns]``: the validated entries, and the ones each version plans."""
    raw = table.data.get("breakdowns", {})
    if not isinstance(raw, dict):
        raise table.error("breakdowns", "expected a table [collect.breakdowns]")
    sub = Table(raw, "[collect.breakdowns]", table.file, tuple(raw))
    collected = list(dict.fromkeys(m for names in chosen.values() for m in names))
    wanted: list[tuple[str, tuple[str, ...]]] = []
    per_version: dict[str, list[tuple[str, tuple[str, ...]]]] = {v: [] for v in chosen}
    for metric in raw:
        if metric not in collected:
            guess = closest(metric, collected)
            raise sub.error(
                metric,
                f'"{metric}" is not a collected metric',
                f'did you mean "{guess}"?' if guess else "add it to [collect].metrics or remove it",
            )
        given = sub.string_list(metric) or []
        if not given:
            raise sub.error(metric, "is empty", "list at least one breakdown, or remove the line")
        versions = [v for v, names in chosen.items() if metric in names]
        entries: list[str] = []
        lacking: dict[str, list[str]] = {}  # version -> entries it skips
        for index, text in enumerate(given, start=1):
            where = f"{sub.where(metric)}[{index}]"
            entry = _split_entry(table, where, text)
            if entry in entries:
                raise ConfigError(table.file, where, f'"{entry}" is listed twice', "remove one")
            entries.append(entry)
            allowed = {
                v: catalogue.breakdown_choices(catalogue.catalogue(v)[metric]) for v in versions
            }
            fits = [v for v in versions if all(p in allowed[v] for p in entry.split(","))]
            if not fits:
                raise _breakdown_error(table, where, metric, entry, allowed)
            for version in versions:
                if version in fits:
                    per_version[version].append((metric, (entry,)))
                else:
                    lacking.setdefault(version, []).append(entry)
        for version, skipped in lacking.items():
            warnings.append(
                f"[collect.breakdowns].{metric}: {apps[version]} on {version} skip "
                f"{', '.join(skipped)} ({version} has no such breakdown of {metric})"
            )
        wanted.append((metric, tuple(entries)))
    return tuple(wanted), {v: _merge(pairs) for v, pairs in per_version.items()}


def _merge(pairs: list[tuple[str, tuple[str, ...]]]) -> Breakdowns:
    merged: dict[str, list[str]] = {}
    for metric, entries in pairs:
        merged.setdefault(metric, []).extend(entries)
    return tuple((metric, tuple(entries)) for metric, entries in merged.items())


def _breakdown_error(
    table: Table, where: str, metric: str, entry: str, allowed: Mapping[str, tuple[str, ...]]
) -> ConfigError:
    choices = list(dict.fromkeys(b for names in allowed.values() for b in names))
    versions = ", ".join(allowed)
    if not choices:
        return ConfigError(
            table.file,
            where,
            f'"{metric}" takes no breakdown on {versions}',
            "breakdowns need metric_type=total_value (v18+) and a metric that has them; "
            "remove the line",
        )
    bad = next(p for p in entry.split(",") if p not in choices)
    guess = closest(bad, choices)
    return ConfigError(
        table.file,
        where,
        f'"{metric}" has no breakdown "{bad}" on {versions} (allowed: {", ".join(choices)})',
        f'use "{guess}"' if guess else f"use one of {', '.join(choices)}",
    )


def check_timeframes(
    table: Table, versions: Sequence[str], timeframes: list[str] | None
) -> tuple[str, ...]:
    """Demographic timeframes, accepted by every version (default ``("this_month",)``).

    Before v18 no metric takes a timeframe, so such a version accepts any
    once-valid value (and uses none).
    """
    if timeframes is None:
        return ("this_month",)
    for version in versions:
        allowed = catalogue.timeframes(version) or catalogue.ALL_TIMEFRAMES
        for index, frame in enumerate(timeframes, start=1):
            if frame not in allowed:
                guess = closest(frame, allowed)
                retired = " (retired in v20.0)" if frame in catalogue.ALL_TIMEFRAMES else ""
                raise ConfigError(
                    table.file,
                    f"{table.where('timeframes')}[{index}]",
                    f'timeframe "{frame}" is not accepted by {version}{retired} '
                    f"(allowed: {', '.join(allowed)})",
                    f'use "{guess}"' if guess else f"use one of {', '.join(allowed)}",
                )
    return tuple(dict.fromkeys(timeframes))


def select(table: Table, apps_by_version: Mapping[str, Sequence[str]]) -> Selection:
    """Check ``[collect]`` (metrics, periods, breakdowns) for each version in use.

    ``apps_by_version`` maps each API version in use to its apps' names, in the
    order the versions first appear. Defaults: every metric a version serves
    that has a period among ``periods``; every period of the chosen metrics, in
    :data:`KNOWN_PERIODS` order. Raises for empty lists, unknown periods,
    metrics no version serves, repeats, a named metric none of whose periods is
    chosen, and bad breakdowns.
    """
    versions = list(apps_by_version)
    apps = {
        v: ("app " if len(names) == 1 else "apps ") + ", ".join(names)
        for v, names in apps_by_version.items()
    }
    metrics, periods = table.string_list("metrics"), table.string_list("periods")
    for key, given in (("metrics", metrics), ("periods", periods)):
        if given is not None and not given:
            raise table.error(key, "is empty", "list at least one, or remove the key for all")
    _check_periods(table, periods)
    chosen = _choose(table, versions, metrics, periods)
    if not any(chosen.values()):
        raise table.error("periods", "no metric of the version serves these periods")
    warnings: list[str] = []
    for version in versions:
        skipped = [m for m in metrics or () if m not in chosen[version]]
        if skipped:
            warnings.append(
                f"[collect].metrics: {apps[version]} on {version} skip {', '.join(skipped)} "
                f"(not served by {version}; see check-config --suggest)"
            )
    breakdowns, planned = _check_breakdowns(table, chosen, warnings, apps)
    selections: list[MetricSelection] = []
    for version in versions:
        used = {p for m in chosen[version] for p in catalogue.catalogue(version)[m].periods}
        order = KNOWN_PERIODS if periods is None else periods
        selections.append(
            MetricSelection(
                version,
                tuple(chosen[version]),
                tuple(p for p in order if p in used),
                planned[version],
            )
        )
    union_periods = tuple(
        p
        for p in (KNOWN_PERIODS if periods is None else periods)
        if any(p in s.periods for s in selections)
    )
    for period in periods or ():
        if period not in union_periods:
            warnings.append(f'[collect].periods: "{period}" is served by none of the metrics')
    union_metrics = tuple(dict.fromkeys(m for s in selections for m in s.metrics))
    if metrics is not None:
        union_metrics = tuple(m for m in metrics if m in union_metrics)
    return Selection(union_metrics, union_periods, breakdowns, tuple(selections), tuple(warnings))
