"""What a chart is asked for: its kind and everything else that decides its pixels."""

from dataclasses import dataclass
from typing import Literal

ChartKind = Literal[
    "event_trend",
    "event_frequency",
    "hourly_distribution",
    "ingestion",
    # Seed 002's one-series-per-day stats (stats.charts.daily).
    "event_amount",
    "event_avg_per_user",
    "store_events_amount",
    "unique_users",
    "active_users",
    # The insight routes' answers (stats.charts.query, .funnel, .retention).
    "query",
    "funnel",
    "retention",
]

# Charts with a time axis: they show the tenant's annotations.
TIME_CHARTS = frozenset(
    {
        "event_trend",
        "ingestion",
        "event_amount",
        "event_avg_per_user",
        "store_events_amount",
        "unique_users",
        "active_users",
        "query",
    }
)
DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH = 800, 200, 2000
DEFAULT_HEIGHT, MIN_HEIGHT, MAX_HEIGHT = 400, 150, 1500


@dataclass(frozen=True)
class ChartSpec:
    """Everything besides the data that decides the pixels (hence part of the ETag)."""

    kind: ChartKind
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    interval: str = "day"
    tz: str = "UTC"
    caption: str = ""
    # The tenant's annotations in the chart's range, (ISO instant, text): drawn on time
    # axes as markers.
    annotations: tuple[tuple[str, str], ...] = ()
