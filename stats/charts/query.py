"""The drawing of a query answer (/api/query): lines over time when it has a time
breakdown (one per series, the first metric), else bars (one per row)."""

from typing import Any

from stats.charts import style
from stats.charts.drawings import draw_frequency, trend_figure
from stats.charts.spec import ChartSpec
from stats.charts.style import with_matplotlib

TITLES = {"events": "Events", "uniques": "Unique users", "events_per_user": "Events per user"}


@with_matplotlib
def draw_query(answer: dict[str, Any], *, spec: ChartSpec) -> bytes:
    metric = next(iter(answer["total"]))
    title = TITLES.get(metric, metric)
    dimensions = answer["columns"][: len(answer["columns"]) - len(answer["total"])]
    time = next((name for name in dimensions if name.startswith("time:")), None)
    series = [name for name in dimensions if name != time]
    if time is None:
        bars = [
            {"event_name": _series_label(row, series) or metric, "total": row[metric] or 0}
            for row in answer["rows"]
        ]
        label = " · ".join(series) or "Total"
        return draw_frequency(
            bars, spec=spec, title=f"{title} by {label}", value_label=title, category_label=label
        )
    lines: dict[str, dict[str, float]] = {}
    for row in answer["rows"]:
        name = _series_label(row, series) or metric
        lines.setdefault(row[time], {})[name] = row[metric] or 0
    return style.png(trend_figure(lines, spec=spec, subject=title, y_label=title))


def _series_label(row: dict, series: list[str]) -> str:
    return " · ".join("(none)" if row[name] is None else str(row[name]) for name in series)
