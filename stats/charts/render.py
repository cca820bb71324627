"""Serving charts: the one registry from chart kind to drawing, the chart's ETag, a
per-process PNG cache, and the DRF renderer the stats views answer `image/png` with.

The renderer draws the very data the JSON answer would carry (the view hands the
chart's spec over in the renderer context), so a chart never runs a second query.
"""

from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from hashlib import sha256
from typing import Any

import orjson
from django.utils.http import parse_etags
from rest_framework.renderers import BaseRenderer

from core.caches import LockedLRU
from stats.charts.daily import draw_daily
from stats.charts.drawings import (
    draw_event_frequency,
    draw_hourly_distribution,
    draw_ingestion,
    draw_trend,
)
from stats.charts.funnel import draw_funnel
from stats.charts.query import draw_query
from stats.charts.retention import draw_retention
from stats.charts.spec import ChartKind, ChartSpec

Drawing = Callable[..., bytes]  # (a stats view's JSON data, *, spec) -> PNG bytes

# Every chart kind and the function that draws it from that route's JSON data.
CHARTS: dict[ChartKind, Drawing] = {
    "event_trend": draw_trend,
    "event_frequency": draw_event_frequency,
    "hourly_distribution": draw_hourly_distribution,
    "ingestion": draw_ingestion,
    "event_amount": draw_daily,
    "event_avg_per_user": draw_daily,
    "store_events_amount": draw_daily,
    "unique_users": draw_daily,
    "active_users": draw_daily,
    "query": draw_query,
    "funnel": draw_funnel,
    "retention": draw_retention,
}
# Part of every ETag: bump it when drawings change so clients drop their old images.
CHART_VERSION = 2
CACHE_SIZE = 128
# Revalidated on every use (a 304 when the data is unchanged): a browser's image cache
# does not keep apart the users who log in one after the other in the same tab, so a
# fresh-for-60-seconds chart could show the previous user's data.
CHART_CACHE_CONTROL = "private, no-cache"
PNG_CACHE: LockedLRU[Hashable, bytes] = LockedLRU(size=CACHE_SIZE)


@dataclass(frozen=True)
class ChartJob:
    """What a stats view puts in the renderer context under "chart"."""

    spec: ChartSpec
    cache_key: Hashable


def draw_chart(spec: ChartSpec, data: Any) -> bytes:
    """The PNG of a stats view's JSON data (its exact shape, as the selector returned it)."""
    return CHARTS[spec.kind](data, spec=spec)


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


def cached_png(key: Hashable, draw: Callable[[], bytes]) -> bytes:
    """The PNG stored under `key`, else `draw()`'s, kept for the CACHE_SIZE latest keys."""
    png = PNG_CACHE.get(key)
    if png is None:
        # Drawn outside the lock: two threads may draw the same chart once each, which
        # is cheaper than serialising every draw of the process.
        png = draw()
        PNG_CACHE.put(key, png)
    return png


def clear_cache() -> None:
    PNG_CACHE.clear()


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
