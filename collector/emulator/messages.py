"""The emulator's error messages: Meta's wording where SPEC 5 records it.

Each function returns the ``message`` of one Graph error body; the checks that
decide which applies live in :mod:`collector.emulator.query`.
"""

from __future__ import annotations

from collections.abc import Collection

from collector.emulator.rules import (
    DEMOGRAPHIC_BREAKDOWNS,
    METRIC_TYPES,
    PERIODS,
    catalogue,
    timeframes,
)


def _names(metrics: tuple[str, ...] | list[str]) -> str:
    return ", ".join(metrics)


def msg_metric_required() -> str:
    return "(#100) The parameter metric is required"


def msg_period_required() -> str:
    return "(#100) The parameter period is required"


def msg_metric_list_invalid() -> str:
    return "(#100) The parameter metric must be a comma-separated list or a JSON array of strings"


def msg_unknown_metric(index: int, version: str, retired: Collection[str] = ()) -> str:
    # The list is of the values the request could have used, so a metric the scenario
    # retired in every version is not offered (SPEC 5 quotes the list as Meta writes it).
    valid = [name for name in catalogue(version) if name not in retired]
    return f"(#100) metric[{index}] must be one of the following values: {_names(valid)}"


def msg_unknown_period() -> str:
    return f"(#100) period must be one of the following values: {_names(PERIODS)}"


def msg_period_unsupported(metrics: list[str], period: str) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) are not supported with period={period}"
    )


def msg_kinds_mixed(metrics: list[str], first: str) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) cannot be requested together "
        f"with {first}"
    )


def msg_param_unknown_in_version(param: str, version: str) -> str:
    return f"(#100) The parameter {param} is not supported in {version}; it exists from v18.0"


def msg_unknown_metric_type() -> str:
    return f"(#100) metric_type must be one of the following values: {_names(METRIC_TYPES)}"


def msg_needs_total_value(metrics: list[str]) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) should be specified with "
        "parameter metric_type=total_value"
    )


def msg_type_unsupported(metrics: list[str], metric_type: str) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) do not support metric_type={metric_type}"
    )


def msg_breakdown_needs_total_value() -> str:
    return "(#100) The parameter breakdown is only supported with metric_type=total_value"


def msg_breakdown_unsupported(metrics: list[str], breakdown: str) -> str:
    return f"(#100) The following metrics ({_names(metrics)}) do not support breakdown={breakdown}"


def msg_breakdown_required(metrics: list[str]) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) require the parameter breakdown, "
        f"one of: {_names(DEMOGRAPHIC_BREAKDOWNS)}"
    )


def msg_timeframe_required(metrics: list[str]) -> str:
    return f"(#100) The following metrics ({_names(metrics)}) require the parameter timeframe"


def msg_timeframe_invalid(version: str) -> str:
    return f"(#100) timeframe must be one of the following values: {_names(timeframes(version))}"


def msg_timeframe_unsupported(metrics: list[str]) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) do not support the parameter timeframe"
    )


def msg_bad_time(param: str) -> str:
    # Meta's wording for an unparsable value is not on record; this is the prefix of
    # the one it is known to use for a refused since (msg_since_not_valid).
    return f"(#100) {param} param is not valid"


def msg_since_not_valid() -> str:
    # Recorded from the live API for a since in the future and one older than two
    # years (Airbyte source-instagram, unit_tests/mock_server/test_user_insights.py,
    # oncall #11701; also quoted by several public clients): code 100, no subcode.
    return "(#100) since param is not valid. Metrics data is available for the last 2 years"


def msg_since_equals_until() -> str:
    # Emulator wording (scenario since_equal_until = "reject"); Meta's is not on record.
    return "(#100) since and until must not be equal"


def msg_range_too_long() -> str:
    return "(#100) There cannot be more than 30 days (2592000 s) between since and until"


def msg_since_after_until() -> str:
    return "(#100) The parameter since must not be later than until"


def msg_no_range(metrics: list[str]) -> str:
    return (
        f"(#100) The following metrics ({_names(metrics)}) do not support the parameters "
        "since and until"
    )


def msg_history(metric: str) -> str:
    return (
        f"(#100) ({metric}) metric only supports querying data for the last 30 days "
        "excluding the current day"
    )


def msg_bad_version(version: str) -> str:
    return f"Unknown path components: /{version}"
