"""The event stats routes (seed 001 and 002): one base view owns the request cycle
(query → source → select → JSON or PNG), each route declares its query serializer,
chart kind and `select`."""

import datetime as dt
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Max
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.permissions import READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin
from core.deadline import StatementDeadlineMixin
from core.ranges import OutOfCalendar
from events.exceptions import EventNotFound
from events.models import (
    DailyCountTotal,
    Event,
    EventLog,
    HourlyCountIncrement,
    HourlyCountTotal,
    HourlyUserSketch,
)
from events.rollups import StatsSource, stats_source
from events.usersets import tenant_sets
from stats import selectors
from stats.active_users import Sketches, active_users
from stats.buckets import MAX_BUCKETS, TooManyBuckets, recent_start
from stats.charts.render import (
    CHART_CACHE_CONTROL,
    ChartJob,
    PNGRenderer,
    chart_etag,
    etag_matches,
)
from stats.charts.spec import TIME_CHARTS, ChartKind, ChartSpec
from stats.models import Annotation
from stats.selectors import LAST_OPEN_DAY, day_range_bounds, first_asked_day
from stats.serializers import (
    ActiveUsersQuerySerializer,
    ActiveUsersSerializer,
    DailyAmountSerializer,
    DailyAveragePerUserSerializer,
    DailyQuerySerializer,
    DailyUniqueUsersSerializer,
    EventAmountQuerySerializer,
    FrequencySerializer,
    HourlyDistributionSerializer,
    StatsQuerySerializer,
    StoreEventsAmountQuerySerializer,
    TrendQuerySerializer,
)

BAD_QUERY = OpenApiResponse(description="A query parameter is invalid (named in the body)")


def one_or_many(serializer: type, name: str) -> PolymorphicProxySerializer:
    """A list of `serializer` objects, or one of them (when the query names one event)."""
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[serializer(many=True), serializer()],
        resource_type_field_name=None,
        many=False,
    )


def stats_schema(*, query: type, json: OpenApiResponse, not_found: bool = False):
    """The OpenAPI of a stats GET: JSON or the same data as a PNG chart, with its ETag."""
    png_note = (
        "As `image/png` (`?format=png`, a `.png` suffix, or `Accept: image/png`): the same "
        "data as a chart of `width` x `height` pixels, with an `ETag`."
    )
    json = OpenApiResponse(
        json.response, description=f"{json.description} {png_note}".strip(), examples=json.examples
    )
    responses = {
        (200, "application/json"): json,
        (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
        304: OpenApiResponse(description="PNG only: `If-None-Match` matched the chart's ETag"),
        400: BAD_QUERY,
    }
    if not_found:
        responses[404] = OpenApiResponse(description="event_name is not an event of this tenant")
    parameters = [
        query,
        OpenApiParameter("format", str, enum=["json", "png"], description="Answer's format"),
        OpenApiParameter(
            "If-None-Match", str, OpenApiParameter.HEADER, description="A chart's ETag"
        ),
        OpenApiParameter(
            "ETag", str, OpenApiParameter.HEADER, response=[200, 304], description="PNG only"
        ),
    ]
    return extend_schema(parameters=parameters, responses=responses)


# Added to a TooManyBuckets 400 when the range has no start_date: what made it so long.
OPEN_START = "The range is open: it starts on the day of the first event; give a start_date."


class StatsView(StatementDeadlineMixin, TenantScopedMixin, generics.GenericAPIView):
    """Base for stats routes: validated query, the tenant's time zone, no paging; every
    answer also as a PNG chart of the same data (`chart_kind`). A route declares its
    `query_serializer_class`, `chart_kind` and `select`, nothing else of the request."""

    pagination_class = None
    filter_backends: list = []
    api_key_roles = READ_OR_ADMIN_WRITES
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, PNGRenderer]
    query_serializer_class = StatsQuerySerializer
    chart_kind: ChartKind
    in_rollup = True  # False: HourlyCount does not hold the metric, raw rows answer
    buckets_field = "interval"  # the query field a TooManyBuckets 400 names,
    buckets_message: str | None = None  # and its message (None: the selector's own)
    chart: ChartJob | None = None

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> Any:
        """The answer's data, read from `source`. An unknown `event_name` raises
        Event.DoesNotExist (a 404); too long a range raises TooManyBuckets, one whose
        computation leaves the calendar OutOfCalendar (both a 400)."""
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        query = self.query()
        tz = query.get("tz") or ZoneInfo(self.tenant.timezone)
        self.check_first_day(query, tz)
        try:
            try:
                data, source = self.answer(query, tz)
            except TooManyBuckets:
                # No start_date: the most recent MAX_BUCKETS buckets, ending with the
                # end_date or the last day with data, as a dashboard opens on its latest.
                days = None if "start_date" in query else self.recent_days(query, tz)
                if days is None:
                    raise
                query = {**query, "start_date": days[0], "end_date": days[1]}
                data, source = self.answer(query, tz)
        except TooManyBuckets as exc:
            field, message = self.buckets_field, self.buckets_message or str(exc)
            if "start_date" not in query:
                field, message = "start_date", f"{message} {OPEN_START}"
            raise ValidationError({field: [message]}) from None
        except OutOfCalendar as exc:
            raise ValidationError({f"{exc.side}_date": [exc.message]}) from None
        except Event.DoesNotExist:
            raise EventNotFound(query["event_name"]) from None
        return self.respond(data, tz=tz, query=query, source=source)

    def check_first_day(self, query: dict, tz: ZoneInfo) -> None:
        check_first_day(query, tz)

    def answer(self, query: dict, tz: ZoneInfo) -> tuple[Any, StatsSource]:
        source = stats_source(
            tz=tz,
            in_rollup=self.in_rollup,
            start=query.get("start_date"),
            end=query.get("end_date"),
        )
        return self.select(query, tz=tz, source=source), source

    def recent_days(self, query: dict, tz: ZoneInfo) -> tuple[dt.date, dt.date] | None:
        """The first and last days of the most recent MAX_BUCKETS buckets of a range
        without start_date: those ending with its end_date, else with the last day with
        data (None: no data)."""
        last = query.get("end_date") or self.last_data_day(query, tz)
        if last is None:
            return None
        return recent_start(last, query.get("interval", "day")), last

    def last_data_day(self, query: dict, tz: ZoneInfo) -> dt.date | None:
        logs = self.scoped(EventLog.objects.all())
        if query.get("event_name") is not None:
            logs = logs.filter(event__name=query["event_name"])
        last = logs.order_by().aggregate(last=Max("timestamp"))["last"]
        return None if last is None else local_day(last, tz)

    def query(self) -> dict:
        serializer = self.query_serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def event_rows(self, *, daily: bool = False) -> dict:
        """The raw logs and the hourly rollup of the tenant (and its daily rollup, with the
        events that name its rows), as the selectors' keywords."""
        rows = {
            "logs": self.scoped(EventLog.objects.all()),
            "rollup": self.scoped(HourlyCountTotal.objects.all()),
        }
        if daily:
            rows["daily"] = self.scoped(DailyCountTotal.objects.all())
            rows["events"] = self.scoped(Event.objects.all())
        return rows

    def respond(self, data, *, tz: ZoneInfo, query: dict, source: StatsSource) -> Response:
        """The body keeps seed 001's shape; the zone used and the source read go in headers."""
        headers = {"X-Timezone": tz.key, "X-Stats-Source": source}
        if not isinstance(self.request.accepted_renderer, PNGRenderer):
            return Response(data, headers=headers)
        spec = self.chart_spec(tz, query)
        if spec.kind in TIME_CHARTS:
            spec = replace(spec, annotations=self.annotations(*self.chart_range(query, tz, data)))
        etag = chart_etag(spec, data)
        headers |= {"ETag": etag, "Cache-Control": CHART_CACHE_CONTROL}
        if etag_matches(etag, self.request.headers.get("If-None-Match", "")):
            return Response(status=304, headers=headers)
        self.chart = ChartJob(spec=spec, cache_key=(self.tenant.pk, _query_key(query), etag))
        return Response(data, headers=headers)

    def chart_spec(self, tz: ZoneInfo, query: dict) -> ChartSpec:
        return ChartSpec(
            kind=self.chart_kind,
            width=query["width"],
            height=query["height"],
            interval=query.get("interval", "day"),
            tz=tz.key,
            caption=_caption(query, tz),
        )

    def chart_range(self, query: dict, tz: ZoneInfo, data) -> tuple:
        """The instants a chart covers, as far as the query says (None: open)."""
        return day_range_bounds(start=query.get("start_date"), end=query.get("end_date"), tz=tz)

    def annotations(self, lower, upper) -> tuple[tuple[str, str], ...]:
        """The tenant's annotations in [lower, upper), for the chart's markers."""
        return selectors.annotation_marks(self.scoped(Annotation.objects.all()), lower, upper)

    def get_renderer_context(self):
        return {**super().get_renderer_context(), "chart": self.chart}

    def finalize_response(self, request, response, *args, **kwargs):
        # Only a chart (or its 304) is a PNG. DRF renders every other answer with the
        # renderer negotiated for the request, before authentication even ran: a 401,
        # a 400 or an OPTIONS answer asked as PNG would be drawn. They are JSON, always.
        asked_png = isinstance(getattr(request, "accepted_renderer", None), PNGRenderer)
        if asked_png and self.chart is None and response.status_code != 304:
            json_renderer = self.renderer_classes[0]()
            request.accepted_renderer = json_renderer
            request.accepted_media_type = json_renderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        # One URL answers JSON or PNG by its Accept header: caches must keep them apart.
        patch_vary_headers(response, ["Accept"])
        return response


def check_first_day(query: dict, tz: ZoneInfo) -> None:
    """A 400 on start_date when an explicit range (both days given: every day of it is
    answered) starts before the first day `tz` can count. Left alone, the calendar's
    first day read as an open start and answered the data's days only ({} or [])."""
    start, end = query.get("start_date"), query.get("end_date")
    if start is None or end is None or start >= (first := first_asked_day(tz)):
        return
    message = (
        f"The first day that can be asked for in {tz.key} is {first.isoformat()}; leave "
        "start_date out for a range open from the first day with data."
    )
    raise ValidationError({"start_date": [message]})


def local_day(instant: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The day of `instant` in `tz`, no later than an open range may reach."""
    try:
        return min(instant.astimezone(tz).date(), LAST_OPEN_DAY)
    except OverflowError:
        return LAST_OPEN_DAY


def _query_key(query: dict) -> tuple:
    return tuple(sorted((name, str(value)) for name, value in query.items()))


def _caption(query: dict, tz: ZoneInfo) -> str:
    """The range and zone a chart covers, e.g. "2024-01-01 to 2024-01-31, Europe/Berlin"."""
    start, end = query.get("start_date"), query.get("end_date")
    if start and end:
        period = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    elif start or end:
        period = f"from {start:%Y-%m-%d}" if start else f"until {end:%Y-%m-%d}"
    else:
        period = "all time"
    return f"{period}, {tz.key}"


def date_range(query: dict) -> dict:
    """The inclusive days of a stats query, as the selectors' `start` and `end`."""
    return {"start": query.get("start_date"), "end": query.get("end_date")}


@extend_schema_view(
    get=stats_schema(
        query=TrendQuerySerializer,
        json=OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[
                OpenApiExample(
                    "trend",
                    value={
                        "2023-01-01": {"event1": 1, "event2": 1},
                        "2023-01-02": {"event1": 1},
                    },
                )
            ],
        ),
        not_found=True,
    )
)
class TrendView(StatsView):
    """Sum of event counts per bucket: `{"YYYY-MM-DD": {"event_name": n}}` (seed 001),
    zero-filled; `interval` = hour, day (default), week or month."""

    queryset = EventLog.objects.all()
    query_serializer_class = TrendQuerySerializer
    chart_kind = "event_trend"

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> dict:
        name = query.get("event_name")
        if name is not None and not self.scoped(Event.objects.filter(name=name)).exists():
            raise Event.DoesNotExist  # a 404, as every other stats route answers
        return selectors.event_trend(
            **self.event_rows(daily=True),
            **date_range(query),
            event_name=query.get("event_name"),
            interval=query["interval"],
            tz=tz,
            source=source,
        )


@extend_schema_view(
    get=stats_schema(
        query=StatsQuerySerializer,
        json=OpenApiResponse(
            one_or_many(FrequencySerializer, "FrequencyAnswer"),
            description="A list; a single object when event_name is given.",
        ),
        not_found=True,
    )
)
class FrequencyView(StatsView):
    """Total count per event, most frequent first; one object when `event_name` is given."""

    queryset = Event.objects.all()
    chart_kind = "event_frequency"

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list | dict:
        name = query.get("event_name")
        events = self.get_queryset() if name is None else self.get_queryset().filter(name=name)
        rows = self.event_rows(daily=True)
        data = selectors.event_frequency(
            events=events,
            rollup=rows["rollup"],
            daily=rows["daily"],
            **date_range(query),
            tz=tz,
            source=source,
        )
        if name is None:
            return data
        if not data:
            raise Event.DoesNotExist
        return data[0]


@extend_schema_view(
    get=stats_schema(
        query=StatsQuerySerializer,
        json=OpenApiResponse(
            one_or_many(HourlyDistributionSerializer, "HourlyDistributionAnswer"),
            description="A list; a single object when event_name is given.",
        ),
        not_found=True,
    )
)
class HourlyDistributionView(StatsView):
    """Occurrences per hour of the day (0-23) on the clock of the zone used:
    `{event, count, hour_count[24], percent[24]}` for `event_name`, else a list of
    those for every event, most frequent first."""

    queryset = EventLog.objects.all()
    chart_kind = "hourly_distribution"

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list | dict:
        return selectors.hourly_distribution(
            **self.event_rows(),
            events=self.scoped(Event.objects.all()),
            **date_range(query),
            event_name=query.get("event_name"),
            tz=tz,
            source=source,
        )


class DailyStatsView(StatsView):
    """Base of seed 002's per-day stats: `[{"date": "YYYY-MM-DD", <value>: n}]`, one row
    for every day of the range (zeros included), or of the data when the range is open.
    An `event_name` that is not an event of the tenant answers 404."""

    queryset = EventLog.objects.all()
    buckets_field = "start_date"
    buckets_message = f"More than {MAX_BUCKETS} days: narrow the range."

    def days(self, query: dict) -> dict:
        """The range and event of the query as the selectors' keywords; raises
        Event.DoesNotExist for an `event_name` the tenant does not have."""
        name = query.get("event_name")
        if name is not None:
            self.scoped(Event.objects.only("pk")).get(name=name)
        return {**date_range(query), "event_name": name}

    def chart_spec(self, tz: ZoneInfo, query: dict) -> ChartSpec:
        spec = super().chart_spec(tz, query)
        name = query.get("event_name")
        return replace(spec, caption=f"{name} · {spec.caption}") if name else spec


def daily_schema(serializer: type, query: type, *, not_found: bool = True):
    """The OpenAPI of a daily stats view's GET (a class decorator)."""
    json = OpenApiResponse(serializer(many=True))
    return extend_schema_view(get=stats_schema(query=query, json=json, not_found=not_found))


@daily_schema(DailyAmountSerializer, EventAmountQuerySerializer)
class EventAmountView(DailyStatsView):
    """Seed 002's amount of one event type per day: `[{"date", "event_amount"}]` (the sum
    of counts, like event_trend)."""

    query_serializer_class = EventAmountQuerySerializer
    chart_kind = "event_amount"

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list:
        return selectors.event_amount(
            **self.event_rows(daily=True), **self.days(query), tz=tz, source=source
        )


@daily_schema(DailyAmountSerializer, StoreEventsAmountQuerySerializer, not_found=False)
class StoreEventsAmountView(DailyStatsView):
    """Seed 002's store events amount: every event of the tenant per day,
    `[{"date", "event_amount"}]`. Not a subclass of EventAmountView: it would inherit
    that view's OpenAPI parameters (drf-spectacular adds a subclass's to its parent's),
    the `event_name` this route refuses among them."""

    query_serializer_class = StoreEventsAmountQuerySerializer
    chart_kind = "store_events_amount"
    select = EventAmountView.select


@daily_schema(DailyAveragePerUserSerializer, EventAmountQuerySerializer)
class EventAvgPerUserView(DailyStatsView):
    """Average occurrences per distinct user per day of one event type,
    `[{"date", "event_avg_per_user"}]` (seed 002's avg-time): events without a
    distinct_id are left out; 0.0 on days without any."""

    query_serializer_class = EventAmountQuerySerializer
    chart_kind = "event_avg_per_user"
    in_rollup = False  # per user

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list:
        return selectors.event_avg_per_user(logs=self.get_queryset(), **self.days(query), tz=tz)


@daily_schema(DailyUniqueUsersSerializer, DailyQuerySerializer)
class UniqueUsersView(DailyStatsView):
    """Distinct users (non-empty distinct_ids) per day, of any event or of `event_name`:
    `[{"date", "unique_users"}]`."""

    query_serializer_class = DailyQuerySerializer
    chart_kind = "unique_users"
    in_rollup = False  # per user

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list:
        return selectors.unique_users(logs=self.get_queryset(), **self.days(query), tz=tz)


@daily_schema(ActiveUsersSerializer, ActiveUsersQuerySerializer)
class ActiveUsersView(DailyStatsView):
    """Users active in the `window` days up to each day (1: DAU, 7: WAU, 30: MAU), of
    any event or of `event_name`: `[{"date", "active_users", "dau", "wau", "mau",
    "stickiness"}]`, exact distinct counts; stickiness = dau / mau."""

    query_serializer_class = ActiveUsersQuerySerializer
    chart_kind = "active_users"
    in_rollup = False  # per user

    def check_first_day(self, query: dict, tz: ZoneInfo) -> None:
        """None here: a day's windows reach up to 89 days before it, further than the
        other routes' first day; active_users refuses them itself (OutOfCalendar)."""

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> list:
        sketches = None
        if query["approximate"]:
            sketches = Sketches(
                self.scoped(HourlyUserSketch.objects.all()),
                self.scoped(HourlyCountIncrement.objects.all()),
            )
        return active_users(
            logs=self.get_queryset(),
            **self.days(query),
            tz=tz,
            window=query["window"],
            sketches=sketches,
            sets=tenant_sets(self.scoped),
        )
