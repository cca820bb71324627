"""The house style of every chart: matplotlib loaded once under a lock, a figure of an
exact pixel size, titles, axes, legends and labels drawn as plain text.

matplotlib is imported only inside these functions (after `load_matplotlib`):
importing the stats routes must not pay for it.
"""

import datetime as dt
import functools
import importlib
import io
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

from stats.charts.spec import DEFAULT_HEIGHT, DEFAULT_WIDTH, ChartSpec

BAR_COLOR = "#3b6ea5"
TEXT_COLOR = "#333333"
GRID_COLOR = "#e5e5e5"
MISSING = "\N{WHITE SQUARE}"  # drawn for a character the font lacks
MAX_LABEL = 32  # characters of an event name shown on a chart

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


def figure(width: int, height: int):
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


def layout_size(width: int, height: int) -> tuple[float, float]:
    """The size in pixels of 100 DPI, the unit the labels' room is counted in."""
    scale = _scale(width, height)
    return width / scale, height / scale


def png(fig) -> bytes:
    """The figure as PNG bytes, at exactly the pixel size it was made with."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    # Never bbox_inches="tight": it would change the pixel size that was asked for.
    FigureCanvasAgg(fig).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def titles(ax, title: str, caption: str) -> None:
    """The title on the left, the caption (range and zone) in small grey above the plot."""
    ax.set_title(title, fontsize=12, color=TEXT_COLOR, loc="left", pad=14 if caption else 6)
    if caption:
        ax.text(0, 1.01, plain(caption), transform=ax.transAxes, fontsize=8, color="#777777")


def thousands():
    """A tick formatter for whole numbers with thousands separators."""
    from matplotlib.ticker import StrMethodFormatter

    return StrMethodFormatter("{x:,.0f}")


def hour_axis(ax, width: int, height: int) -> None:
    """The 24 hours of the day on x, a percentage on y."""
    # Every hour labelled when there is room, else every 2nd, 3rd or 6th: never overlapping.
    room, _ = layout_size(width, height)
    step = next(step for step in (1, 2, 3, 6) if room / (24 / step) >= 30 or step == 6)
    ax.set_xticks(range(0, 24, step))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("Hour", fontsize=9)
    ax.set_ylabel("% of occurrence", fontsize=9)


# Half a bucket, in days (matplotlib's date unit): the room around a single bucket.
HALF_BUCKET_DAYS = {"hour": 1 / 48, "day": 0.5, "week": 3.5, "month": 15.0}


def hour_bars(
    ax, heights: list[float], *, bottoms: list[float] | None = None, color=None, label=None
) -> None:
    """24 bars (one per hour of the day) as one collection: a Rectangle per bar, as
    `ax.bar` makes, cost a stacked chart of 9 series 140 ms of limit bookkeeping. The
    caller sets the y-limits (hour_axis sets x): from 0, to at least 1."""
    from matplotlib.collections import PolyCollection

    bottoms = bottoms or [0.0] * 24
    verts = [
        [(hour - 0.4, low), (hour - 0.4, low + high), (hour + 0.4, low + high), (hour + 0.4, low)]
        for hour, (low, high) in enumerate(zip(bottoms, heights, strict=True))
    ]
    bars = PolyCollection(verts, facecolors=color or BAR_COLOR, edgecolors="none", label=label)
    ax.add_collection(bars, autolim=False)


def series_colors(count: int) -> list[str]:
    """The house colour cycle, repeated as needed."""
    from matplotlib import rcParams

    cycle = rcParams["axes.prop_cycle"].by_key()["color"]
    return [cycle[index % len(cycle)] for index in range(count)]


def date_axis(ax, spec: ChartSpec, instants: list[dt.datetime]) -> None:
    """Dates on the zone's clock over exactly the buckets' span (also when nothing is
    plotted, or one bucket is), as many ticks as fit, labelled only as far as needed
    ("Mar", "08", "15": the month once, then days)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.ticker import FixedLocator

    tz = ZoneInfo(spec.tz)
    # Left to autoscaling, an axis without lines spans 1970-01-01 to 01-02, and one with
    # a single point spans years around it.
    first, last = date2num(min(instants)), date2num(max(instants))
    pad = HALF_BUCKET_DAYS.get(spec.interval, 0.5) if first == last else (last - first) * 0.02
    ax.set_xlim(first - pad, last + pad)
    room, _ = layout_size(spec.width, spec.height)
    most = max(4, int(room) // 90)  # ticks that fit without their labels overlapping
    if spec.interval in ("week", "month") and len(instants) <= most:
        # Few weeks or months: one tick per bucket, where automatic ticks would fall
        # between them (on the 5th, 9th, ...).
        locator = FixedLocator(date2num(instants))
    else:
        locator = AutoDateLocator(tz=tz, minticks=2, maxticks=most)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz))
    mark_annotations(ax, spec, first - pad, last + pad)


ANNOTATION_COLOR = "#b03a2e"


def mark_annotations(ax, spec: ChartSpec, low: float, high: float) -> None:
    """Each annotation within the axis' span as a dotted vertical line, its text beside."""
    from matplotlib.dates import date2num

    for at, text in spec.annotations:
        x = date2num(dt.datetime.fromisoformat(at))
        if low <= x <= high:
            ax.axvline(x, color=ANNOTATION_COLOR, linestyle=":", linewidth=1.2, zorder=1)
            ax.text(
                x,
                0.98,
                f" {label(text)}",
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                color=ANNOTATION_COLOR,
                va="top",
                clip_on=True,
            )


def count_axis(ax, *, whole: bool = True) -> None:
    """Counts on y from 0 (whole numbers with separators when `whole`), up to at least 1:
    all-zero data would otherwise get a dozen ticks all labelled "0"."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=whole))
    if whole:
        ax.yaxis.set_major_formatter(thousands())
    ax.set_ylim(0, max(ax.get_ylim()[1], 1))


def legend(ax, entries: int, spec: ChartSpec) -> None:
    """Beside the plot when the chart is wide enough, else inside it; none for no entry."""
    if not entries:
        return
    room, _ = layout_size(spec.width, spec.height)
    if room >= 500:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    else:  # beside the plot it would leave no room for the plot
        ax.legend(loc="best", fontsize=6, framealpha=0.8)


def no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="#777777")


def instant(key: str, tz: ZoneInfo) -> dt.datetime:
    """A bucket key (`YYYY-MM-DD`, or an ISO datetime with offset) as an instant."""
    moment = dt.datetime.fromisoformat(key)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def label(name: str) -> str:
    """An event name as drawn: at most MAX_LABEL characters, plain text."""
    short = name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"
    return plain(short)


def plain(text: str) -> str:
    """`text` drawn as itself: matplotlib reads $…$ as mathematical notation (and fails
    on some), and warns on every chart about characters its font lacks (emoji)."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties()))  # cached by matplotlib, per thread
    shown = "".join(char if font.get_char_index(ord(char)) else MISSING for char in text)
    return shown.replace("$", r"\$")  # an escaped dollar is always drawn as a dollar
