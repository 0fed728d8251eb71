"""``check-config --suggest``: a legacy ``[collect]`` rewritten for a current API version.

Meta retired ``audience_*`` (v18), the profile taps and ``profile_views`` (v21)
and ``impressions`` (v22), and took week/days_28 from ``reach`` (v18; SPEC
section 2). :func:`migrate` maps a metric list onto a target version with the
catalogue's retirements (:func:`collector.graph.catalogue.retirements`): each retired
metric becomes its heir, with the breakdown that recovers the old figure
(``audience_city`` -> ``follower_demographics`` by ``city``; ``email_contacts``
-> ``profile_links_taps`` by ``contact_button_type``, its ``EMAIL`` results), or
is dropped with the reason when nothing equivalent remains. :func:`render` prints
the result as a ``[collect]`` table to paste, with one comment line per change.

Pure except :func:`suggest_for_file`, which reads the config's TOML without
validating it: a config that fails ``check-config`` because of retired metrics
is exactly the one to migrate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.config.checks import ConfigError
from collector.config.load import read_toml
from collector.graph import catalogue
from collector.graph.catalogue import Breakdowns, Shape

# The version --suggest targets when the config's own is older than v22 (the
# catalogue serves every version from v22 on alike).
SUGGESTED_VERSION = "v24.0"
_PERIOD_ORDER: tuple[str, ...] = ("day", "week", "days_28", "lifetime")


@dataclass(frozen=True)
class Migration:
    """A ``[collect]`` selection for ``version`` and how each old metric got there.

    ``notes`` has one line per metric that changed or was dropped, in the old
    list's order; ``unused`` lists what ``version`` serves beyond the result.
    """

    version: str
    metrics: tuple[str, ...]
    periods: tuple[str, ...]
    timeframes: tuple[str, ...]
    breakdowns: Breakdowns
    notes: tuple[str, ...]
    unused: tuple[str, ...]


def target_version(configured: str) -> str:
    """``configured`` if it is v22 or later, else :data:`SUGGESTED_VERSION`."""
    return configured if catalogue.parse_version(configured)[0] >= 22 else SUGGESTED_VERSION


def _heir_note(gone: catalogue.Retirement) -> str:
    text = f"{gone.metric} -> {gone.heir}"
    if gone.breakdown:
        text += f" by {gone.breakdown}"
    if gone.key:
        text += f" (its {gone.key} results)"
    elif gone.heir and gone.replacement.startswith(f"{gone.heir} ("):
        text += " " + gone.replacement.removeprefix(gone.heir).strip()
    return f"{text}; retired in {gone.retired_in}"


def migrate(
    metrics: Sequence[str],
    version: str,
    *,
    periods: Sequence[str] | None = None,
    timeframes: Sequence[str] | None = None,
    breakdowns: Mapping[str, Sequence[str]] | None = None,
) -> Migration:
    """Map ``metrics`` (with their ``periods``, ``timeframes``, ``breakdowns``) onto ``version``.

    A metric ``version`` serves is kept, minus the periods it lost; a retired one
    becomes its heir (and heir's breakdown) or is dropped with a note; a name
    ``version`` never knew is dropped with a note. Breakdowns already given are
    kept where ``version`` allows them. Timeframes ``version`` refuses become
    ``this_month``.
    """
    served = catalogue.catalogue(version)
    chosen: dict[str, list[str]] = {}  # metric -> breakdown entries, result order
    notes: list[str] = []
    for name in metrics:
        if name in served:
            chosen.setdefault(name, [])
            lost = catalogue.retired_periods(name, version)
            wanted = set(periods or ()) & set(lost[1]) if lost else set()
            if lost and (periods is None or wanted):
                gone = ", ".join(p for p in lost[1] if periods is None or p in wanted)
                notes.append(f"{name}: periods {gone} dropped; retired in {lost[0]}")
            continue
        gone_metric = catalogue.retirement(name, version)
        if gone_metric is None:
            notes.append(f"{name}: dropped; {version} serves no such metric")
            continue
        if gone_metric.heir is None or gone_metric.heir not in served:
            notes.append(
                f"{name}: dropped; retired in {gone_metric.retired_in}: {gone_metric.replacement}"
            )
            continue
        entries = chosen.setdefault(gone_metric.heir, [])
        if gone_metric.breakdown and gone_metric.breakdown not in entries:
            entries.append(gone_metric.breakdown)
        notes.append(_heir_note(gone_metric))
        rolling = {"week", "days_28"}
        if name == "impressions" and (periods is None or rolling & set(periods)):
            notes.append("impressions: periods week, days_28 have no heir (views is day only)")
    for name, given in (breakdowns or {}).items():
        if name in chosen:
            allowed = catalogue.breakdown_choices(served[name])
            for entry in given:
                if all(part in allowed for part in entry.split(",")) and entry not in chosen[name]:
                    chosen[name].append(entry)
    demographic = any(served[name].shape is Shape.DEMOGRAPHIC for name in chosen)
    accepted = catalogue.timeframes(version)
    frames = [frame for frame in timeframes or () if frame in accepted]
    refused = [frame for frame in timeframes or () if frame not in accepted]
    if demographic and refused:
        notes.append(f"timeframes {', '.join(refused)}: retired in v20.0; this_month instead")
    used = {period for name in chosen for period in served[name].periods}
    return Migration(
        version=version,
        metrics=tuple(chosen),
        periods=tuple(p for p in _PERIOD_ORDER if p in used),
        timeframes=tuple(frames or ["this_month"]) if demographic else (),
        breakdowns=tuple((name, tuple(entries)) for name, entries in chosen.items() if entries),
        notes=tuple(notes),
        unused=tuple(name for name in served if name not in chosen),
    )


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _toml_value(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return f'"{value}"'


def render(
    migration: Migration,
    *,
    source: str,
    from_version: str,
    extra: Mapping[str, object] | None = None,
) -> str:
    """The migration as a ``[collect]`` TOML snippet with comments (ends without newline).

    ``extra`` holds other ``[collect]`` keys to carry over as they were (since, until).
    """
    lines = [
        f"# ig-collector check-config --suggest: the [collect] of {source} for {migration.version}",
        f"# (its metric list was written for {from_version}). Replace [collect] with the table",
        f'# below and set api_version = "{migration.version}" in [graph] or in the [[apps]]',
        "# entries that move.",
        "[collect]",
        f"metrics = {_toml_list(migration.metrics)}",
        f"periods = {_toml_list(migration.periods)}",
    ]
    for key, value in (extra or {}).items():
        lines.append(f"{key} = {_toml_value(value)}")
    if migration.timeframes:
        lines.append(f"timeframes = {_toml_list(migration.timeframes)}")
    if migration.breakdowns:
        lines += ["", "[collect.breakdowns]"]
        lines += [f"{name} = {_toml_list(entries)}" for name, entries in migration.breakdowns]
    if migration.notes:
        lines += ["", "# What changed:"]
        lines += [f"#   {note}" for note in migration.notes]
    else:
        lines += ["", f"# Nothing to change: {migration.version} serves every metric as listed."]
    if migration.unused:
        lines.append(f"# Also served by {migration.version}: {', '.join(migration.unused)}")
    return "\n".join(lines)


def _strings(value: object, where: str, path: Path) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(path, where, "expected an array of strings", "run check-config")
    return [item.strip() for item in value]


def suggest_for_file(path: Path, target: str | None = None) -> str:
    """The ``--suggest`` text for the config at ``path``, read without validation.

    The old list is ``[collect].metrics`` (default: every metric of
    ``[graph].api_version``); ``target`` defaults to :func:`target_version` of
    ``[graph].api_version``. Raises :class:`ConfigError` for a config too broken
    to read a list from.
    """
    raw = read_toml(path)
    graph = raw.get("graph")
    version = graph.get("api_version") if isinstance(graph, dict) else None
    if not isinstance(version, str):
        raise ConfigError(path, "[graph].api_version", "is required", 'add api_version = "v17.0"')
    for where, text in (("[graph].api_version", version), ("--suggest", target)):
        try:
            if text is not None:
                catalogue.parse_version(text)
        except ValueError:
            raise ConfigError(
                path, where, f'"{text}" is not of the form vNN.N', 'write e.g. "v24.0"'
            ) from None
    collect = raw.get("collect", {})
    if not isinstance(collect, dict):
        raise ConfigError(path, "[collect]", "expected a table", "run check-config")
    metrics = _strings(collect.get("metrics"), "[collect].metrics", path)
    periods = _strings(collect.get("periods"), "[collect].periods", path)
    if metrics is None:
        metrics = [
            name
            for name, spec in catalogue.catalogue(version).items()
            if periods is None or set(spec.periods) & set(periods)
        ]
    given = collect.get("breakdowns", {})
    breakdowns = {
        str(name): _strings(entries, f"[collect.breakdowns].{name}", path) or []
        for name, entries in (given.items() if isinstance(given, dict) else ())
    }
    migration = migrate(
        metrics,
        target or target_version(version),
        periods=periods,
        timeframes=_strings(collect.get("timeframes"), "[collect].timeframes", path),
        breakdowns=breakdowns,
    )
    extra = {key: collect[key] for key in ("since", "until") if key in collect}
    return render(migration, source=str(path), from_version=version, extra=extra)
