"""PNG charts of the stats routes: a DRF renderer, its ETag and cache, and the drawings.

The renderer draws the very data the JSON answer would carry (the view hands the
chart's spec over in the renderer context), so a chart never runs a second query.
matplotlib is imported only inside the drawing functions: importing this module
(every stats request does) must not pay for it.
"""

import datetime as dt
import functools
import importlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from hashlib import sha256
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from django.utils.http import parse_etags
from rest_framework.renderers import BaseRenderer

ChartKind = Literal[
    "event_trend",
    "event_frequency",
    "hourly_distribution",
    "ingestion",
    # Seed 002's one-series-per-day stats, drawn by stats.daily_charts.
    "event_amount",
    "event_avg_per_user",
    "store_events_amount",
    "unique_users",
]

DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH = 800, 200, 2000
DEFAULT_HEIGHT, MIN_HEIGHT, MAX_HEIGHT = 400, 150, 1500
# Part of every ETag: bump it when drawings change so clients drop their old images.
CHART_VERSION = 1
CACHE_SIZE = 128
BAR_COLOR = "#3b6ea5"
OTHER = "other"  # the series that sums the events beyond MAX_SERIES
MISSING = "\N{WHITE SQUARE}"  # drawn for a character the font lacks
TEXT_COLOR = "#333333"
GRID_COLOR = "#e5e5e5"
MAX_SERIES = 8  # lines in a trend; the rest are summed as "other"
MAX_LABEL = 32  # characters of an event name shown on a chart
OTHER_STYLE = {"color": "#999999", "linestyle": "--"}
X_LABELS = {"hour": "Time", "day": "Day", "week": "Week (from Monday)", "month": "Month"}


@dataclass(frozen=True)
class ChartSpec:
    """Everything besides the data that decides the pixels (hence part of the ETag)."""

    kind: ChartKind
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    interval: str = "day"
    tz: str = "UTC"
    caption: str = ""


@dataclass(frozen=True)
class ChartJob:
    """What a stats view puts in the renderer context under "chart"."""

    spec: ChartSpec
    cache_key: Hashable


# Revalidated on every use (a 304 when the data is unchanged): a browser's image cache
# does not keep apart the users who log in one after the other in the same tab, so a
# fresh-for-60-seconds chart could show the previous user's data.
CHART_CACHE_CONTROL = "private, no-cache"


def etag_matches(etag: str, if_none_match: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
    return etag in tags or "*" in tags


def chart_etag(spec: ChartSpec, data: Any) -> str:
    """A strong ETag for the chart of `data` drawn as `spec`."""
    payload = orjson.dumps(
        [CHART_VERSION, asdict(spec), data], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )
    return f'"{sha256(payload).hexdigest()[:32]}"'


# --- per-process cache -------------------------------------------------------

_cache: OrderedDict[Hashable, bytes] = OrderedDict()
_cache_lock = threading.Lock()


def cached_png(key: Hashable, draw: Callable[[], bytes]) -> bytes:
    """The PNG stored under `key`, else `draw()`'s, kept for the CACHE_SIZE latest keys."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    # Drawn outside the lock: two threads may draw the same chart once each, which is
    # cheaper than serialising every draw of the process.
    png = draw()
    with _cache_lock:
        _cache[key] = png
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return png


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


class PNGRenderer(BaseRenderer):
    """`image/png` for the stats views (`?format=png`, a `.png` suffix, `Accept: image/png`).

    Error answers never reach it: StatsView switches them back to JSON."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:  # 304 Not Modified
            return b""
        job = (renderer_context or {}).get("chart")
        if not isinstance(job, ChartJob):
            raise TypeError("PNGRenderer needs a ChartJob in the renderer context's 'chart'.")
        return cached_png(job.cache_key, lambda: draw_chart(job.spec, data))


# --- drawings ----------------------------------------------------------------

_import_lock = threading.Lock()
# Every matplotlib module the drawings use, imported together on the first drawing.
MATPLOTLIB_MODULES = (
    "matplotlib.backends.backend_agg",
    "matplotlib.dates",
    "matplotlib.figure",
    "matplotlib.font_manager",
    "matplotlib.ticker",
)


def with_matplotlib(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """For every drawing entry point: matplotlib is loaded (once, under the lock) before
    the drawing imports any matplotlib module of its own."""

    @functools.wraps(draw)
    def drawing(*args, **kwargs) -> bytes:
        load_matplotlib()
        return draw(*args, **kwargs)

    return drawing


def load_matplotlib() -> None:
    """Import matplotlib once per process, under a lock; every drawing entry point calls
    it first. gunicorn's threads draw a worker's first charts at the same time, and two
    threads importing different matplotlib modules at once can each get the other's
    half-initialised (an ImportError for one, then an AttributeError on every later
    import: the process never draws again). The browser tests caught it."""
    with _import_lock:
        for name in MATPLOTLIB_MODULES:
            importlib.import_module(name)


@with_matplotlib
def draw_chart(spec: ChartSpec, data: Any) -> bytes:
    """The PNG of a stats view's JSON data (its exact shape, as the selector returned it)."""
    from stats.daily_charts import DAILY_CHARTS, draw_daily  # it imports this module

    if spec.kind in DAILY_CHARTS:
        return draw_daily(data, spec=spec)
    if spec.kind == "event_trend":
        return draw_trend(data, spec=spec)
    if spec.kind == "ingestion":
        return draw_trend(_ingestion_series(data), spec=spec, subject="Ingested items")
    if spec.kind == "event_frequency":
        return draw_frequency([data] if isinstance(data, dict) else data, spec=spec)
    if isinstance(data, dict):
        return draw_hourly_histogram(
            data["event"], data["percent"], spec.width, spec.height, caption=spec.caption
        )
    return draw_hourly_shares(data, spec=spec)


@with_matplotlib
def draw_hourly_histogram(
    name: str,
    percent: Sequence[float],
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    caption: str = "",
) -> bytes:
    """24 bars, the share of `name`'s occurrences in each hour of the day (seed 000's
    histogram: title "Frequency of <name>", x "Hour", y "% of occurrence")."""
    fig, ax = _figure(width, height)
    ax.bar(range(24), percent, width=0.8, color=BAR_COLOR)
    _hour_axis(ax, width, height)
    _titles(ax, f"Frequency of {_label(name)}", caption)
    if not any(percent):
        _no_data(ax, "No occurrences in this range")
    return _png(fig)


@with_matplotlib
def draw_hourly_shares(rows: Sequence[dict], *, spec: ChartSpec) -> bytes:
    """Every event's hourly distribution as stacked bars: each segment is an event's share
    of all occurrences, so a bar is that hour's share of the total."""
    fig, ax = _figure(spec.width, spec.height)
    grand_total = sum(row["count"] for row in rows)
    series = _top_series({row["event"]: row["hour_count"] for row in rows}, length=24)
    bottom = [0.0] * 24
    for name, counts in series.items():
        shares = [100 * n / grand_total if grand_total else 0.0 for n in counts]
        ax.bar(range(24), shares, width=0.8, bottom=bottom, label=_label(name))
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    _hour_axis(ax, spec.width, spec.height)
    _titles(ax, "Hourly distribution of all events", spec.caption)
    _legend(ax, len(series), spec)
    if not grand_total:
        _no_data(ax, "No occurrences in this range")
    return _png(fig)


@with_matplotlib
def draw_frequency(rows: Sequence[dict], *, spec: ChartSpec) -> bytes:
    """Horizontal bars, most frequent on top; as many events as the height can label."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(spec.width, spec.height)
    _, room = _layout_size(spec.width, spec.height)
    fits = max(1, int(room - 90) // 18)  # an 8-point label needs about 18 pixels
    shown = rows[:fits]
    bars = ax.barh(range(len(shown)), [row["total"] for row in shown], color=BAR_COLOR)
    ax.set_yticks(range(len(shown)), labels=[_label(row["event_name"]) for row in shown])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{row['total']:,}" for row in shown], padding=3, fontsize=8)
    ax.grid(False, axis="y")
    ax.grid(axis="x", color=GRID_COLOR, linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(_thousands())
    ax.margins(x=0.08)
    ax.set_xlabel("Occurrences", fontsize=9)
    ax.set_ylabel("Event", fontsize=9)
    title = "Event frequency" + (f" (top {fits} of {len(rows)})" if len(rows) > fits else "")
    _titles(ax, title, spec.caption)
    if not any(row["total"] for row in rows):
        ax.set_xlim(0, 1)
        _no_data(ax, "No occurrences in this range" if rows else "No events")
    return _png(fig)


@with_matplotlib
def draw_trend(
    data: dict[str, dict[str, int]], *, spec: ChartSpec, subject: str = "Events"
) -> bytes:
    """One line per event (the MAX_SERIES largest, the rest as "other") over time."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(spec.width, spec.height)
    series = _top_series(_event_series(data), length=len(data))
    only = next(iter(series)) if len(series) == 1 else None
    subject = _label(only) if only is not None else subject
    _titles(ax, f"{subject} per {spec.interval}", spec.caption)
    ax.set_xlabel(X_LABELS.get(spec.interval, "Time"), fontsize=9)
    ax.set_ylabel("Occurrences", fontsize=9)
    if not any(any(row.values()) for row in data.values()):
        _no_data(ax, "No occurrences in this range")
    if not data:  # not one bucket, so no date to put on the axis
        ax.set_xticks([])
        ax.set_yticks([])
        return _png(fig)
    _plot_lines(ax, list(data), series, spec)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_ylim(bottom=0)
    if only is None:
        _legend(ax, len(series), spec)
    return _png(fig)


def _plot_lines(ax, keys: list[str], series: dict[str, list[int]], spec: ChartSpec) -> None:
    tz = ZoneInfo(spec.tz)
    instants = [_instant(key, tz) for key in keys]
    marker = "o" if len(instants) <= 60 else None
    for name, counts in series.items():
        style = OTHER_STYLE if name.startswith(OTHER) else {}
        label = _label(name)
        ax.plot(instants, counts, marker=marker, markersize=3, linewidth=1.6, label=label, **style)
    _date_axis(ax, spec, instants)


# --- helpers -----------------------------------------------------------------


def _figure(width: int, height: int):
    """A figure of exactly width x height pixels with one axes, in the house style."""
    from matplotlib.figure import Figure

    dpi = 100 * _scale(width, height)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8, colors=TEXT_COLOR)
    return fig, ax


def _scale(width: int, height: int) -> float:
    # Text and lines scale with the image (through the DPI), within limits, so a small
    # chart is not all labels and a large one is not all empty space.
    return min(max(min(width / DEFAULT_WIDTH, height / DEFAULT_HEIGHT), 0.6), 2.5)


def _layout_size(width: int, height: int) -> tuple[float, float]:
    """The size in pixels of 100 DPI, the unit the labels' room is counted in."""
    scale = _scale(width, height)
    return width / scale, height / scale


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    # Never bbox_inches="tight": it would change the pixel size that was asked for.
    FigureCanvasAgg(fig).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def _titles(ax, title: str, caption: str) -> None:
    ax.set_title(title, fontsize=12, color=TEXT_COLOR, loc="left", pad=14 if caption else 6)
    if caption:
        ax.text(0, 1.01, _plain(caption), transform=ax.transAxes, fontsize=8, color="#777777")


def _thousands():
    from matplotlib.ticker import StrMethodFormatter

    return StrMethodFormatter("{x:,.0f}")


def _hour_axis(ax, width: int, height: int) -> None:
    # Every hour labelled when there is room, else every 2nd, 3rd or 6th: never overlapping.
    room, _ = _layout_size(width, height)
    step = next(step for step in (1, 2, 3, 6) if room / (24 / step) >= 30 or step == 6)
    ax.set_xticks(range(0, 24, step))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("Hour", fontsize=9)
    ax.set_ylabel("% of occurrence", fontsize=9)


def _date_axis(ax, spec: ChartSpec, instants: list[dt.datetime]) -> None:
    """Dates on the zone's clock, as many ticks as fit, labelled only as far as needed
    ("Mar", "08", "15": the month once, then days)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.ticker import FixedLocator

    tz = ZoneInfo(spec.tz)
    room, _ = _layout_size(spec.width, spec.height)
    most = max(4, int(room) // 90)  # ticks that fit without their labels overlapping
    if spec.interval in ("week", "month") and len(instants) <= most:
        # Few weeks or months: one tick per bucket, where automatic ticks would fall
        # between them (on the 5th, 9th, ...).
        locator = FixedLocator(date2num(instants))
    else:
        locator = AutoDateLocator(tz=tz, minticks=2, maxticks=most)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz))


def _legend(ax, entries: int, spec: ChartSpec) -> None:
    if not entries:
        return
    room, _ = _layout_size(spec.width, spec.height)
    if room >= 500:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    else:  # beside the plot it would leave no room for the plot
        ax.legend(loc="best", fontsize=6, framealpha=0.8)


def _no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="#777777")


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


def _instant(key: str, tz: ZoneInfo) -> dt.datetime:
    """A trend bucket key (`YYYY-MM-DD`, or an ISO datetime with offset) as an instant."""
    instant = dt.datetime.fromisoformat(key)
    return instant if instant.tzinfo else instant.replace(tzinfo=tz)


def _label(name: str) -> str:
    short = name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"
    return _plain(short)


def _plain(text: str) -> str:
    """`text` drawn as itself: matplotlib reads $…$ as mathematical notation (and fails
    on some), and warns on every chart about characters its font lacks (emoji)."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties()))  # cached by matplotlib, per thread
    shown = "".join(char if font.get_char_index(ord(char)) else MISSING for char in text)
    return shown.replace("$", r"\$")  # an escaped dollar is always drawn as a dollar
