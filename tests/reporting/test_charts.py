"""The report's SVG charts: points where values are, gaps where they are not."""

from __future__ import annotations

import datetime as dt
import re

from collector.reporting.report.charts import bar_chart, column_chart, line_chart


def test_line_chart_breaks_its_line_at_a_missing_day() -> None:
    """Four days with the third missing: three points, one line through the first two, none
    through a zero."""
    days = [dt.date(2025, 11, d) for d in (1, 2, 3, 4)]
    values = {days[0]: 5, days[1]: 7, days[3]: 6}
    svg = line_chart("t", days, [("Reach", values)])
    assert svg.count('class="point"') == 3 and 'data-points="3"' in svg
    assert svg.count("<polyline") == 1
    assert re.findall(r'data-x="([^"]+)"', svg) == ["2025-11-01", "2025-11-02", "2025-11-04"]


def test_column_chart_leaves_a_missing_slot_empty() -> None:
    """A None value draws no column; a zero draws one."""
    svg = column_chart("t", [("a", "A", 3), ("b", "B", None), ("c", "C", 0)])
    assert re.findall(r'data-x="([^"]+)" data-value="([^"]+)"', svg) == [("a", "3"), ("c", "0")]


def test_bar_chart_escapes_labels() -> None:
    """A label from the store cannot inject markup into the page."""
    svg = bar_chart("t", [("<script>x</script>", 4)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
