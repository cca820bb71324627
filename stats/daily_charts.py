"""Charts of seed 002's per-day stats: one series, `[{"date", <value>}]`, over the days.

Kept apart from stats.charts (which dispatches here) so neither grows past a
screenful of drawings; the house style (figure, titles, date axis) is shared.
"""

from collections.abc import Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from stats.charts import (
    BAR_COLOR,
    ChartSpec,
    _date_axis,
    _figure,
    _instant,
    _no_data,
    _png,
    _thousands,
    _titles,
    with_matplotlib,
)


class DailyChart(NamedTuple):
    value: str  # the key of each row that holds the day's value
    title: str
    y_label: str
    whole_numbers: bool


DAILY_CHARTS: dict[str, DailyChart] = {
    "event_amount": DailyChart("event_amount", "Occurrences per day", "Occurrences", True),
    "store_events_amount": DailyChart("event_amount", "All events per day", "Occurrences", True),
    "event_avg_per_user": DailyChart(
        "event_avg_per_user", "Average events per user per day", "Events per user", False
    ),
    "unique_users": DailyChart("unique_users", "Unique users per day", "Users", True),
}


@with_matplotlib
def draw_daily(rows: Sequence[dict], *, spec: ChartSpec) -> bytes:
    """One line over the days of `rows` (zero days included), y from 0."""
    from matplotlib.ticker import MaxNLocator

    chart = DAILY_CHARTS[spec.kind]
    fig, ax = _figure(spec.width, spec.height)
    _titles(ax, chart.title, spec.caption)
    ax.set_xlabel("Day", fontsize=9)
    ax.set_ylabel(chart.y_label, fontsize=9)
    values = [row[chart.value] for row in rows]
    if not any(values):
        _no_data(ax, "No events in this range")
    if not rows:  # not one day, so no date to put on the axis
        ax.set_xticks([])
        ax.set_yticks([])
        return _png(fig)
    instants = [_instant(row["date"], ZoneInfo(spec.tz)) for row in rows]
    marker = "o" if len(rows) <= 60 else None
    ax.plot(instants, values, marker=marker, markersize=3, linewidth=1.6, color=BAR_COLOR)
    _date_axis(ax, spec, instants)
    ax.yaxis.set_major_locator(MaxNLocator(integer=chart.whole_numbers))
    if chart.whole_numbers:
        ax.yaxis.set_major_formatter(_thousands())
    ax.set_ylim(bottom=0)
    return _png(fig)
