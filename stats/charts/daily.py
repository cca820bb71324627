"""The drawing of seed 002's per-day stats: one series, `[{"date", <value>}]`, over the
days; the kinds differ only in the row key, titles and whether values are whole."""

from collections.abc import Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from stats.charts import style
from stats.charts.spec import ChartKind, ChartSpec
from stats.charts.style import with_matplotlib


class DailyLine(NamedTuple):
    value: str  # the key of each row that holds the day's value
    title: str
    y_label: str
    whole_numbers: bool


DAILY_LINES: dict[ChartKind, DailyLine] = {
    "event_amount": DailyLine("event_amount", "Occurrences per day", "Occurrences", True),
    "store_events_amount": DailyLine("event_amount", "All events per day", "Occurrences", True),
    "event_avg_per_user": DailyLine(
        "event_avg_per_user", "Average events per user per day", "Events per user", False
    ),
    "unique_users": DailyLine("unique_users", "Unique users per day", "Users", True),
    "active_users": DailyLine("active_users", "Active users per day", "Users", True),
}


@with_matplotlib
def draw_daily(rows: Sequence[dict], *, spec: ChartSpec) -> bytes:
    """One line over the days of `rows` (zero days included), y from 0; the labels are
    those of DAILY_LINES[spec.kind]."""
    return style.png(daily_figure(rows, spec=spec))


@with_matplotlib
def daily_figure(rows: Sequence[dict], *, spec: ChartSpec):
    line = DAILY_LINES[spec.kind]
    fig, ax = style.figure(spec.width, spec.height)
    style.titles(ax, line.title, spec.caption)
    ax.set_xlabel("Day", fontsize=9)
    ax.set_ylabel(line.y_label, fontsize=9)
    values = [row[line.value] for row in rows]
    if not any(values):
        style.no_data(ax, "No events in this range")
    if not rows:  # not one day, so no date to put on the axis
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    instants = [style.instant(row["date"], ZoneInfo(spec.tz)) for row in rows]
    marker = "o" if len(rows) <= 60 else None
    ax.plot(instants, values, marker=marker, markersize=3, linewidth=1.6, color=style.BAR_COLOR)
    style.date_axis(ax, spec, instants)
    style.count_axis(ax, whole=line.whole_numbers)
    return fig
