"""Seed 000's API at its own paths, as a thin adapter over events and stats.

`/api/v1/…` is the "user" API (read keys read, ingest keys post, admin keys and
user logins do both); `/admin/v1/…` needs an admin key or a user login. Event
names are matched exactly: `%`, `_`, quotes, spaces and emoji are ordinary.
"""

from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from accounts.permissions import ADMIN, INGEST, READ_ONLY
from accounts.tenancy import TenantScopedMixin, request_actor
from core.deadline import StatementDeadlineMixin
from core.paths import path_is_utf8
from events.edge import IngestionMixin
from events.exceptions import EventNotFound, RejectedInput
from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
from events.services import event_delete, event_logs_ingest
from events.validation import EventInput, event_name_problem
from stats import selectors
from stats.charts.drawings import draw_hourly_histogram
from stats.charts.render import CHART_CACHE_CONTROL, cached_png, chart_etag, etag_matches
from stats.charts.spec import ChartSpec
from v1.serializers import (
    DailyCountSerializer,
    DateRangeSerializer,
    DeletedSerializer,
    EventTotalSerializer,
    HourCountSerializer,
    OccurrenceCreatedSerializer,
    OccurrenceSerializer,
)

UTC = ZoneInfo("UTC")  # seed 000's dates are UTC
# The service names the fields of its EventInput; seed 000's body and path name them so.
SEED_FIELDS = {"timestamp": "date", "event_name": "name"}
PNG = OpenApiResponse(OpenApiTypes.BINARY, description="image/png")
NOT_UTF8 = "Event name is not UTF-8: percent-encode its UTF-8 bytes (a literal % is %25)."
NOT_AN_OBJECT = "The body must be a JSON object (or empty), not {kind}."
JSON_KINDS = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}
JSON_KINDS |= {str: "a string", list: "an array"}


class V1View(StatementDeadlineMixin, TenantScopedMixin, generics.GenericAPIView):
    """Shared plumbing: the tenant's events, no paging, seed 000's plain lists."""

    queryset = Event.objects.all()
    pagination_class = None
    filter_backends: list = []
    api_key_roles = {**READ_ONLY, "POST": INGEST}

    def event_named(self, name: str) -> Event:
        if not path_is_utf8(self.request):
            raise serializers.ValidationError({"name": [NOT_UTF8]})
        event = self.get_queryset().filter(name=name).first()
        if event is None:
            raise EventNotFound(name)
        return event

    def daily_counts(self, *, start=None, end=None, event_name=None) -> list[dict]:
        """`[{"event", "count", "date"}]`: counts summed per event and UTC day."""
        trend = selectors.event_trend(
            logs=self.scoped(EventLog.objects.all()),
            rollup=self.scoped(HourlyCountTotal.objects.all()),
            daily=self.scoped(DailyCountTotal.objects.all()),
            events=self.get_queryset(),
            start=start,
            end=end,
            tz=UTC,
            event_name=event_name,
            fill=False,
        )
        return [
            {"event": name, "count": count, "date": day}
            for day, row in trend.items()
            for name, count in row.items()
        ]

    def hour_counts(self, *, event_name: str | None = None):
        """Hourly distribution (UTC hours) of one event, or a list for every event."""
        return selectors.hourly_distribution(
            logs=self.scoped(EventLog.objects.all()),
            rollup=self.scoped(HourlyCountTotal.objects.all()),
            events=self.get_queryset(),
            start=None,
            end=None,
            tz=UTC,
            event_name=event_name,
        )


class AdminV1View(V1View):
    api_key_roles = {"default": ADMIN}


class EventOccurrenceView(IngestionMixin, V1View):
    """`POST /api/v1/events/{name}`: record occurrences (count 0 or missing → 1, date
    missing → now)."""

    serializer_class = OccurrenceSerializer  # the body; OPTIONS describes it from here

    @extend_schema(
        request=OccurrenceSerializer,
        responses={201: OccurrenceCreatedSerializer},
        summary="Record occurrences of an event",
    )
    def post(self, request, name: str):
        if not path_is_utf8(request):
            raise serializers.ValidationError({"name": [NOT_UTF8]})
        if (problem := event_name_problem(name)) is not None:
            raise serializers.ValidationError({"name": [problem]})
        # An empty body is read as {} (the parsers are not asked); anything else but an
        # object is refused, falsy ones (0, false, null, []) included.
        if not isinstance(request.data, dict):
            kind = JSON_KINDS.get(type(request.data), "a JSON object")
            raise serializers.ValidationError(
                {"non_field_errors": [NOT_AN_OBJECT.format(kind=kind)]}
            )
        body = OccurrenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        item = EventInput(
            name,
            timestamp=body.validated_data.get("date"),
            count=body.validated_data.get("count") or 1,
        )
        user, key = request_actor(request)
        (receipt,) = event_logs_ingest(
            tenant=self.tenant, items=[item], created_by=user, api_key=key, now=now
        )
        if receipt.status == "rejected":
            errors = {SEED_FIELDS.get(name, name): value for name, value in receipt.errors.items()}
            raise RejectedInput(errors, reason=receipt.reason, counted=True)
        answer = {"event": name, "count": item.count, "date": item.timestamp or now}
        answer["uuid"] = receipt.uuid
        return Response(OccurrenceCreatedSerializer(answer).data, status=status.HTTP_201_CREATED)


class EventListView(V1View):
    """`GET /api/v1/events[?start_date&end_date]`: counts per event and day."""

    @extend_schema(
        parameters=[DateRangeSerializer], responses={200: DailyCountSerializer(many=True)}
    )
    def get(self, request):
        query = DateRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = self.daily_counts(
            start=query.validated_data.get("start_date"), end=query.validated_data.get("end_date")
        )
        return Response(DailyCountSerializer(rows, many=True).data)


class EventHistoryView(V1View):
    """`GET /api/v1/event_history`: the total count of every registered event."""

    @extend_schema(responses={200: EventTotalSerializer(many=True)})
    def get(self, request):
        totals = selectors.event_frequency(events=self.get_queryset(), start=None, end=None, tz=UTC)
        rows = [{"event": row["event_name"], "count": row["total"]} for row in totals]
        return Response(EventTotalSerializer(rows, many=True).data)


class EventHistogramView(V1View):
    """`GET /api/v1/event_frequencies/{name}/hist`: 24 bars, % of occurrences per UTC hour."""

    @extend_schema(
        responses={(200, "image/png"): PNG, 404: OpenApiResponse(description="Unknown event")}
    )
    def get(self, request, name: str):
        self.event_named(name)
        distribution = self.hour_counts(event_name=name)
        etag = chart_etag(ChartSpec(kind="hourly_distribution"), distribution)
        headers = {"ETag": etag, "Cache-Control": CHART_CACHE_CONTROL}
        if etag_matches(etag, request.headers.get("If-None-Match", "")):
            return HttpResponse(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        png = cached_png(
            (self.tenant.pk, "v1-hist", etag),
            lambda: draw_hourly_histogram(name, distribution["percent"]),
        )
        return HttpResponse(png, content_type="image/png", headers=headers)


class AdminEventView(AdminV1View):
    """`GET` an event's counts per day; `DELETE` all its occurrences (and the event)."""

    @extend_schema(responses={200: DailyCountSerializer(many=True)})
    def get(self, request, name: str):
        self.event_named(name)
        return Response(DailyCountSerializer(self.daily_counts(event_name=name), many=True).data)

    @extend_schema(responses={200: DeletedSerializer})
    def delete(self, request, name: str):
        event = self.event_named(name)
        user, key = request_actor(request)
        logs = self.scoped(EventLog.objects.all())
        receipt = event_delete(
            tenant=self.tenant, event=event, logs=logs, created_by=user, api_key=key
        )
        deleted = receipt.occurrences  # as `count` is posted and read here, not logs
        message = f"Deleted {deleted} occurrence(s) of event '{name}'."
        return Response({"message": message, "deleted": deleted})


class AdminFrequenciesView(AdminV1View):
    """`GET /admin/v1/event_frequencies`: every event's total and 24 hourly counts (UTC)."""

    @extend_schema(responses={200: HourCountSerializer(many=True)})
    def get(self, request):
        return Response([_hour_count(row) for row in self.hour_counts()])


class AdminFrequencyView(AdminV1View):
    """`GET /admin/v1/event_frequencies/{name}`: one event's total and 24 hourly counts."""

    @extend_schema(responses={200: HourCountSerializer})
    def get(self, request, name: str):
        self.event_named(name)
        return Response(_hour_count(self.hour_counts(event_name=name)))


def _hour_count(distribution) -> dict:
    return {
        "event": distribution["event"],
        "count": distribution["count"],
        "hour_count": distribution["hour_count"],
    }
