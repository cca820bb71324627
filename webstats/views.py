"""Web stats: `GET /api/stats/web` and `GET /api/stats/web/realtime`."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from events.models import EventLog
from insights.engine import Window, previous_window, resolve_window
from insights.spec import NO_FILTERS, DateRange, QueryError
from stats.buckets import TooManyBuckets
from stats.views import StatsView
from webimports.models import ImportedDay
from webstats.filters import web_filters
from webstats.serializers import RealtimeQuerySerializer, WebQuerySerializer
from webstats.sessions import headline_of, realtime, web_stats

DEFAULT_RANGE = DateRange(preset="30d")
FILTERED = "Imported days are daily totals: filters apply to native events only."


class WebStatsView(StatsView):
    """A site's web analytics over a range, from the tracker's page views: `visitors`,
    `visits`, `pageviews`, `views_per_visit`, `bounce_rate`, `visit_duration` (seconds),
    a `timeseries`, and the top `pages`, `entry_pages`, `exit_pages`, `sources`,
    `channels`, `utm_sources`, `utm_mediums`, `utm_campaigns`, `countries`, `devices`,
    `browsers` and `oses`; with `compare=previous_period`, the headline numbers of the
    period before as `previous`. Filters on a visit's properties keep whole visits
    (webstats.filters), as the dashboard's. Days imported from another product (POST
    /api/imports/) are added unless `imported=false` or filters are given; `imported`
    says which days were."""

    queryset = EventLog.objects.all()
    query_serializer_class = WebQuerySerializer
    renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES  # no chart

    @extend_schema(parameters=[WebQuerySerializer], responses={200: OpenApiResponse(dict)})
    def get(self, request, *args, **kwargs):
        query = self.query()
        tz = query.get("tz") or ZoneInfo(self.tenant.timezone)
        now = timezone.now()
        date_range = query.get("date_range") or DEFAULT_RANGE
        if "start_date" in query or "end_date" in query:
            date_range = DateRange(start=query.get("start_date"), end=query.get("end_date"))
        window, previous = _windows(date_range, tz, now, compare="compare" in query)
        filters = web_filters(query.get("filters", NO_FILTERS))
        imported = self.scoped(ImportedDay.objects.all())
        included = query["imported"] and "filters" not in query
        # Only an interval the client gave may be refused: the automatic one grows
        # (day, week, month) until the range fits, e.g. `all` over decades of data.
        intervals = [query["interval"]] if "interval" in query else _intervals(window)
        for interval in intervals:
            try:
                answer: dict[str, Any] = web_stats(
                    logs=self.get_queryset(),
                    window=window,
                    tz=tz,
                    session_minutes=self.tenant.session_minutes,
                    conditions=filters.events,
                    visits_with=filters.visits,
                    limit=query["limit"],
                    interval=interval,
                    now=now,
                    imported=imported if included else None,
                )
                break
            except TooManyBuckets as exc:
                if interval == intervals[-1]:
                    raise ValidationError({"interval": [str(exc)]}) from None
        if previous is not None:
            numbers = headline_of(
                self.get_queryset(),
                previous,
                filters.events,
                tz=tz,
                session_minutes=self.tenant.session_minutes,
                visits_with=filters.visits,
                imported=imported if included else None,
            )
            answer["previous"] = {"date_range": previous.as_json(tz), **numbers}
        if query["imported"] and not included and imported.exists():
            answer["imported"] = {"included": False, "reason": FILTERED}
        body = {"date_range": window.as_json(tz), "tz": tz.key, "interval": interval, **answer}
        return Response(body, headers={"X-Timezone": tz.key})


class RealtimeView(StatsView):
    """Visitors with a page view or a page leave in the last `minutes` (default 5), and
    their page views."""

    queryset = EventLog.objects.all()
    query_serializer_class = RealtimeQuerySerializer
    renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES

    @extend_schema(parameters=[RealtimeQuerySerializer], responses={200: OpenApiResponse(dict)})
    def get(self, request, *args, **kwargs):
        minutes = self.query()["minutes"]
        counts = realtime(self.get_queryset(), now=timezone.now(), minutes=minutes)
        return Response({"minutes": minutes, **counts})


def _windows(
    date_range: DateRange, tz: ZoneInfo, now: dt.datetime, *, compare: bool
) -> tuple[Window, Window | None]:
    """The range asked and, to compare with, the one before it; a 400 naming the
    parameter when the calendar cannot hold them."""
    try:
        window = resolve_window(date_range, tz, now)
        return window, previous_window(date_range, window, tz) if compare else None
    except QueryError as exc:
        raise ValidationError({exc.path.partition(".")[0]: [exc.message]}) from None


def _intervals(window: Window) -> list[str]:
    """The automatic intervals, finest first: hours for a range of up to two days, else
    days, or weeks or months when there would be too many days."""
    bounded = window.lower is not None and window.upper is not None
    short = bounded and window.upper - window.lower <= dt.timedelta(days=2)
    return ["hour"] if short else ["day", "week", "month"]
