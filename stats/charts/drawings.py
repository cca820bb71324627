"""The drawings of the event stats: trend and ingestion lines, frequency bars, and the
hourly distribution (one event's histogram, or every event's stacked shares)."""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from stats.charts import style
from stats.charts.spec import DEFAULT_HEIGHT, DEFAULT_WIDTH, ChartSpec
from stats.charts.style import with_matplotlib

OTHER = "other"  # the series that sums the events beyond MAX_SERIES
MAX_SERIES = 8  # lines in a trend; the rest are summed as "other"
OTHER_STYLE = {"color": "#999999", "linestyle": "--"}
X_LABELS = {"hour": "Time", "day": "Day", "week": "Week (from Monday)", "month": "Month"}


@with_matplotlib
def draw_hourly_distribution(data: dict | Sequence[dict], *, spec: ChartSpec) -> bytes:
    """The hourly_distribution answer: one event's histogram, or every event's shares."""
    return style.png(hourly_distribution_figure(data, spec=spec))


@with_matplotlib
def hourly_distribution_figure(data: dict | Sequence[dict], *, spec: ChartSpec):
    if isinstance(data, dict):
        title = f"Hourly distribution of {style.label(data['event'])}"
        return hourly_histogram_figure(
            data["event"], data["percent"], spec.width, spec.height, spec.caption, title
        )
    return hourly_shares_figure(data, spec=spec)


@with_matplotlib
def draw_hourly_histogram(
    name: str,
    percent: Sequence[float],
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    caption: str = "",
    title: str | None = None,
) -> bytes:
    """24 bars, the share of `name`'s occurrences in each hour of the day. The title is
    seed 000's ("Frequency of <name>", x "Hour", y "% of occurrence") unless given."""
    return style.png(hourly_histogram_figure(name, percent, width, height, caption, title))


@with_matplotlib
def hourly_histogram_figure(name, percent, width, height, caption="", title=None):
    fig, ax = style.figure(width, height)
    style.hour_bars(ax, list(percent))
    ax.set_ylim(0, max(max(percent, default=0) * 1.05, 1))
    style.hour_axis(ax, width, height)
    style.titles(ax, title or f"Frequency of {style.label(name)}", caption)
    if not any(percent):
        style.no_data(ax, "No occurrences in this range")
    return fig


@with_matplotlib
def hourly_shares_figure(rows: Sequence[dict], *, spec: ChartSpec):
    """Every event's hourly distribution as stacked bars: each segment is an event's share
    of all occurrences, so a bar is that hour's share of the total."""
    fig, ax = style.figure(spec.width, spec.height)
    grand_total = sum(row["count"] for row in rows)
    series = _top_series({row["event"]: row["hour_count"] for row in rows}, length=24)
    bottom = [0.0] * 24
    for (name, counts), color in zip(series.items(), style.series_colors(len(series)), strict=True):
        shares = [100 * n / grand_total if grand_total else 0.0 for n in counts]
        style.hour_bars(ax, shares, bottoms=bottom, color=color, label=style.label(name))
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylim(0, max(max(bottom) * 1.05, 1))
    style.hour_axis(ax, spec.width, spec.height)
    style.titles(ax, "Hourly distribution of all events", spec.caption)
    style.legend(ax, len(series), spec)
    if not grand_total:
        style.no_data(ax, "No occurrences in this range")
    return fig


@with_matplotlib
def draw_event_frequency(data: dict | Sequence[dict], *, spec: ChartSpec) -> bytes:
    """The event_frequency answer: a list of `{event_name, total}`, or one of them."""
    return draw_frequency([data] if isinstance(data, dict) else data, spec=spec)


@with_matplotlib
def draw_frequency(
    rows: Sequence[dict],
    *,
    spec: ChartSpec,
    title: str = "Event frequency",
    value_label: str = "Occurrences",
    category_label: str = "Event",
) -> bytes:
    """Horizontal bars (`rows`: {event_name, total}), largest on top; as many as the
    height can label."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = style.figure(spec.width, spec.height)
    _, room = style.layout_size(spec.width, spec.height)
    fits = max(1, int(room - 90) // 18)  # an 8-point label needs about 18 pixels
    shown = rows[:fits]
    whole = all(isinstance(row["total"], int) for row in rows)
    bars = ax.barh(range(len(shown)), [row["total"] for row in shown], color=style.BAR_COLOR)
    ax.set_yticks(range(len(shown)), labels=[style.label(row["event_name"]) for row in shown])
    ax.invert_yaxis()
    values = [f"{row['total']:,}" if whole else f"{row['total']:,.2f}" for row in shown]
    ax.bar_label(bars, labels=values, padding=3, fontsize=8)
    ax.grid(False, axis="y")
    ax.grid(axis="x", color=style.GRID_COLOR, linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=whole))
    ax.xaxis.set_major_formatter(style.thousands())
    ax.margins(x=0.08)
    ax.set_xlabel(value_label, fontsize=9)
    ax.set_ylabel(category_label, fontsize=9)
    title += f" (top {fits} of {len(rows)})" if len(rows) > fits else ""
    style.titles(ax, title, spec.caption)
    if not any(row["total"] for row in rows):
        ax.set_xlim(0, 1)
        style.no_data(ax, "No occurrences in this range" if rows else "No events")
    return style.png(fig)


@with_matplotlib
def draw_ingestion(data: dict[str, dict], *, spec: ChartSpec) -> bytes:
    """Ingested items per bucket as trend lines: accepted, duplicate and rejected."""
    return style.png(ingestion_figure(data, spec=spec))


@with_matplotlib
def ingestion_figure(data: dict[str, dict], *, spec: ChartSpec):
    return trend_figure(_ingestion_series(data), spec=spec, subject="Ingested items")


@with_matplotlib
def draw_trend(
    data: dict[str, dict[str, int]], *, spec: ChartSpec, subject: str = "Events"
) -> bytes:
    """One line per event (the MAX_SERIES largest, the rest as "other") over time."""
    return style.png(trend_figure(data, spec=spec, subject=subject))


@with_matplotlib
def trend_figure(
    data: dict[str, dict[str, int]],
    *,
    spec: ChartSpec,
    subject: str = "Events",
    y_label: str = "Occurrences",
):
    fig, ax = style.figure(spec.width, spec.height)
    series = _top_series(_event_series(data), length=len(data))
    only = next(iter(series)) if len(series) == 1 else None
    subject = style.label(only) if only is not None else subject
    style.titles(ax, f"{subject} per {spec.interval}", spec.caption)
    ax.set_xlabel(X_LABELS.get(spec.interval, "Time"), fontsize=9)
    ax.set_ylabel(y_label, fontsize=9)
    if not any(any(row.values()) for row in data.values()):
        style.no_data(ax, "No occurrences in this range")
    if not data:  # not one bucket, so no date to put on the axis
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    _plot_lines(ax, list(data), series, spec)
    style.count_axis(ax)
    if only is None:
        style.legend(ax, len(series), spec)
    return fig


def _plot_lines(ax, keys: list[str], series: dict[str, list[int]], spec: ChartSpec) -> None:
    tz = ZoneInfo(spec.tz)
    instants = [style.instant(key, tz) for key in keys]
    marker = "o" if len(instants) <= 60 else None
    for name, counts in series.items():
        look = OTHER_STYLE if name.startswith(OTHER) else {}
        shown = style.label(name)
        ax.plot(instants, counts, marker=marker, markersize=3, linewidth=1.6, label=shown, **look)
    style.date_axis(ax, spec, instants)


def _ingestion_series(data: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Ingestion buckets as trend rows: accepted, duplicate and rejected (all reasons)."""
    return {
        key: {
            "accepted": row["accepted"],
            "duplicate": row["duplicate"],
            "rejected": sum(row["rejected"].values()),
        }
        for key, row in data.items()
    }


def _event_series(data: dict[str, dict[str, int]]) -> dict[str, list[int]]:
    names = sorted({name for row in data.values() for name in row})
    return {name: [row.get(name, 0) for row in data.values()] for name in names}


def _top_series(series: dict[str, Sequence[int]], *, length: int) -> dict[str, list[int]]:
    """The MAX_SERIES largest series by total (ties by name), the rest summed as "other"."""
    ranked = sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))
    top = {name: list(values) for name, values in ranked[:MAX_SERIES]}
    if rest := ranked[MAX_SERIES:]:
        other = [sum(values[i] for _, values in rest) for i in range(length)]
        top[f"{OTHER} ({len(rest)} events)"] = other
    return top
