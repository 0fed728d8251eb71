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

Every mistake is collected as a :class:`~collector.config.checks.Problem` located at
the key and array position, with a fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.checks import Problem, closest
from collector.config.schema import CollectTable
from collector.config.settings import MetricSelection
from collector.graph import catalogue
from collector.graph.catalogue import Breakdowns

__all__ = ["KNOWN_PERIODS", "MetricSelection", "Selection", "retirement_fix", "select"]

KNOWN_PERIODS: tuple[str, ...] = ("day", "week", "days_28", "lifetime")


@dataclass(frozen=True, slots=True)
class Selection:
    """``[collect]`` resolved for every version in use.

    ``metrics`` and ``periods`` are the union over versions (config order);
    ``breakdowns`` the validated ``[collect.breakdowns]`` (entries normalised to
    ``a,b`` without spaces); ``by_version`` one selection per version, in the
    order the apps first use them; ``timeframes`` the demographic timeframes.
    """

    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    breakdowns: Breakdowns
    by_version: tuple[MetricSelection, ...]
    warnings: tuple[str, ...]
    timeframes: tuple[str, ...]


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


def _metric_problem(file: Path, index: int, metric: str, versions: Sequence[str]) -> Problem:
    """Why ``metric`` (at ``[collect].metrics[index]``) is served by none of ``versions``."""
    where = f"[collect].metrics[{index}]"
    newest = _newest(versions)
    served_by = newest if len(versions) == 1 else f"any app's version ({', '.join(versions)})"
    retired = catalogue.retirement(metric, newest)
    if retired is not None:
        return Problem(
            file,
            where,
            f'"{metric}" is not served by {served_by} (retired in {retired.retired_in})',
            retirement_fix(retired, newest),
        )
    arrived = _arrival(metric)
    if arrived is not None:
        return Problem(
            file,
            where,
            f'"{metric}" is not served by {served_by} (it arrived in {arrived})',
            f"set [graph].api_version to {arrived} or later (or an app's api_version), "
            "or remove it",
        )
    known = list(dict.fromkeys(m for v in versions for m in catalogue.catalogue(v)))
    guess = closest(metric, known)
    fix = f'did you mean "{guess}"?' if guess else f"use one of {', '.join(known)}"
    return Problem(file, where, f'unknown metric "{metric}" in {" and ".join(versions)}', fix)


def _repeat(file: Path, where: str, name: str) -> Problem:
    return Problem(file, where, f'"{name}" is listed twice', "remove one")


def _period_problems(file: Path, periods: list[str]) -> list[Problem]:
    found: list[Problem] = []
    for index, period in enumerate(periods, start=1):
        where = f"[collect].periods[{index}]"
        if period not in KNOWN_PERIODS:
            guess = closest(period, KNOWN_PERIODS)
            found.append(
                Problem(
                    file,
                    where,
                    f'unknown period "{period}" (known: {", ".join(KNOWN_PERIODS)})',
                    f'use "{guess}"' if guess else "remove it",
                )
            )
        elif period in periods[: index - 1]:
            found.append(_repeat(file, where, period))
    return found


def _usable(metric: str, version: str, periods: list[str] | None) -> bool:
    spec = catalogue.catalogue(version).get(metric)
    return spec is not None and (periods is None or bool(set(spec.periods) & set(periods)))


def _no_period(file: Path, index: int, metric: str, versions: Sequence[str]) -> Problem:
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
    return Problem(
        file,
        f"[collect].metrics[{index}]",
        f'"{metric}" has no period among [collect].periods (it serves: {", ".join(own)}{why})',
        f"add one of {', '.join(own)} to [collect].periods, or remove the metric",
    )


def _choose(
    file: Path, versions: Sequence[str], metrics: list[str] | None, periods: list[str] | None
) -> tuple[dict[str, list[str]], list[Problem]]:
    """Per version, the metrics it collects (config order), and every bad metric."""
    if metrics is None:
        chosen = {
            v: [m for m in catalogue.default_metrics(v) if _usable(m, v, periods)] for v in versions
        }
        return chosen, []
    found: list[Problem] = []
    for index, metric in enumerate(metrics, start=1):
        if metric in metrics[: index - 1]:
            found.append(_repeat(file, f"[collect].metrics[{index}]", metric))
        elif not any(metric in catalogue.catalogue(v) for v in versions):
            found.append(_metric_problem(file, index, metric, versions))
        elif not any(_usable(metric, v, periods) for v in versions):
            found.append(_no_period(file, index, metric, versions))
    return {v: [m for m in metrics if _usable(m, v, periods)] for v in versions}, found


def _entry_problem(file: Path, where: str, entry: str) -> Problem | None:
    parts = [part.strip() for part in entry.split(",")]
    if any(not part for part in parts):
        return Problem(
            file, where, f'"{entry}" has an empty breakdown name', 'write e.g. "age,gender"'
        )
    twice = next((part for part in parts if parts.count(part) > 1), None)
    if twice is not None:
        return Problem(file, where, f'"{entry}" names {twice} twice', "name each breakdown once")
    return None


def _check_breakdowns(
    file: Path,
    raw: Mapping[str, list[str]],
    chosen: Mapping[str, list[str]],
    apps: Mapping[str, str],
    warnings: list[str],
    found: list[Problem],
) -> tuple[Breakdowns, dict[str, Breakdowns]]:
    """``[collect.breakdowns]``: the validated entries, and the ones each version plans."""
    collected = list(dict.fromkeys(m for names in chosen.values() for m in names))
    wanted: list[tuple[str, tuple[str, ...]]] = []
    per_version: dict[str, list[tuple[str, tuple[str, ...]]]] = {v: [] for v in chosen}
    for metric, given in raw.items():
        at = f"[collect.breakdowns].{metric}"
        if metric not in collected:
            guess = closest(metric, collected)
            fix = (
                f'did you mean "{guess}"?' if guess else "add it to [collect].metrics or remove it"
            )
            found.append(Problem(file, at, f'"{metric}" is not a collected metric', fix))
            continue
        if not given:
            fix = "list at least one breakdown, or remove the line"
            found.append(Problem(file, at, "is empty", fix))
            continue
        versions = [v for v, names in chosen.items() if metric in names]
        allowed = {v: catalogue.breakdown_choices(catalogue.catalogue(v)[metric]) for v in versions}
        entries: list[str] = []
        lacking: dict[str, list[str]] = {}  # version -> entries it skips
        for index, text in enumerate(given, start=1):
            where = f"{at}[{index}]"
            entry = ",".join(part.strip() for part in text.split(","))
            problem = _entry_problem(file, where, text)
            if problem is None and entry in entries:
                problem = _repeat(file, where, entry)
            fits = [v for v in versions if all(p in allowed[v] for p in entry.split(","))]
            if problem is None and not fits:
                problem = _breakdown_problem(file, where, metric, entry, allowed)
            if problem is not None:
                found.append(problem)
                continue
            entries.append(entry)
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


def _breakdown_problem(
    file: Path, where: str, metric: str, entry: str, allowed: Mapping[str, tuple[str, ...]]
) -> Problem:
    choices = list(dict.fromkeys(b for names in allowed.values() for b in names))
    versions = ", ".join(allowed)
    if not choices:
        return Problem(
            file,
            where,
            f'"{metric}" takes no breakdown on {versions}',
            "breakdowns need metric_type=total_value (v18+) and a metric that has them; "
            "remove the line",
        )
    bad = next(p for p in entry.split(",") if p not in choices)
    guess = closest(bad, choices)
    return Problem(
        file,
        where,
        f'"{metric}" has no breakdown "{bad}" on {versions} (allowed: {", ".join(choices)})',
        f'use "{guess}"' if guess else f"use one of {', '.join(choices)}",
    )


def _timeframes(
    file: Path, versions: Sequence[str], timeframes: list[str] | None, found: list[Problem]
) -> tuple[str, ...]:
    """Demographic timeframes, accepted by every version (default ``("this_month",)``).

    Before v18 no metric takes a timeframe, so such a version accepts any
    once-valid value (and uses none).
    """
    if timeframes is None:
        return ("this_month",)
    for index, frame in enumerate(timeframes, start=1):
        for version in versions:
            allowed = catalogue.timeframes(version) or catalogue.ALL_TIMEFRAMES
            if frame not in allowed:
                guess = closest(frame, allowed)
                retired = " (retired in v20.0)" if frame in catalogue.ALL_TIMEFRAMES else ""
                found.append(
                    Problem(
                        file,
                        f"[collect].timeframes[{index}]",
                        f'timeframe "{frame}" is not accepted by {version}{retired} '
                        f"(allowed: {', '.join(allowed)})",
                        f'use "{guess}"' if guess else f"use one of {', '.join(allowed)}",
                    )
                )
                break  # one problem per timeframe: the first version refusing it
    return tuple(dict.fromkeys(timeframes))


def select(
    file: Path,
    collect: CollectTable,
    apps_by_version: Mapping[str, Sequence[str]],
    found: list[Problem],
) -> Selection | None:
    """Check ``[collect]`` (metrics, periods, breakdowns, timeframes) for each version in use.

    ``apps_by_version`` maps each API version in use to its apps' names, in the
    order the versions first appear. Defaults: every metric a version serves
    that has a period among ``periods``; every period of the chosen metrics, in
    :data:`KNOWN_PERIODS` order. Every mistake is appended to ``found`` (then
    ``None`` is returned): empty lists, unknown periods, metrics no version
    serves, repeats, a named metric none of whose periods is chosen, bad
    breakdowns and timeframes.
    """
    start = len(found)
    versions = list(apps_by_version)
    apps = {
        v: ("app " if len(names) == 1 else "apps ") + ", ".join(names)
        for v, names in apps_by_version.items()
    }
    metrics, periods = collect.metrics, collect.periods
    for key, given in (("metrics", metrics), ("periods", periods)):
        if given is not None and not given:
            fix = "list at least one, or remove the key for all"
            found.append(Problem(file, f"[collect].{key}", "is empty", fix))
    timeframes = _timeframes(file, versions, collect.timeframes, found)
    before = len(found)  # the timeframes stand apart: the metrics are checked still
    found.extend(_period_problems(file, periods or []))
    if len(found) > before:
        return None  # the metrics are checked against good periods only
    chosen, bad_metrics = _choose(file, versions, metrics, periods)
    found.extend(bad_metrics)
    if not bad_metrics and not any(chosen.values()):
        found.append(
            Problem(file, "[collect].periods", "no metric of the version serves these periods")
        )
    if len(found) > before:
        return None
    warnings: list[str] = []
    for version in versions:
        skipped = [m for m in metrics or () if m not in chosen[version]]
        if skipped:
            warnings.append(
                f"[collect].metrics: {apps[version]} on {version} skip {', '.join(skipped)} "
                f"(not served by {version}; see check-config --suggest)"
            )
    breakdowns, planned = _check_breakdowns(file, collect.breakdowns, chosen, apps, warnings, found)
    if len(found) > start:
        return None
    order = KNOWN_PERIODS if periods is None else periods
    selections: list[MetricSelection] = []
    for version in versions:
        used = {p for m in chosen[version] for p in catalogue.catalogue(version)[m].periods}
        selections.append(
            MetricSelection(
                version,
                tuple(chosen[version]),
                tuple(p for p in order if p in used),
                planned[version],
            )
        )
    union_periods = tuple(p for p in order if any(p in s.periods for s in selections))
    for period in periods or ():
        if period not in union_periods:
            warnings.append(f'[collect].periods: "{period}" is served by none of the metrics')
    union_metrics = tuple(dict.fromkeys(m for s in selections for m in s.metrics))
    if metrics is not None:
        union_metrics = tuple(m for m in metrics if m in union_metrics)
    return Selection(
        union_metrics, union_periods, breakdowns, tuple(selections), tuple(warnings), timeframes
    )
