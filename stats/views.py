from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from accounts.tenancy import TenantScopedMixin
from events.models import Event, EventLog, HourlyCount
from stats import selectors
from stats.serializers import FrequencySerializer, StatsQuerySerializer, TrendQuerySerializer

BAD_QUERY = OpenApiResponse(description="A query parameter is invalid (named in the body)")


class StatsView(TenantScopedMixin, generics.GenericAPIView):
    """Base for stats routes: validated query, the tenant's time zone, no paging."""

    pagination_class = None
    filter_backends: list = []
    query_serializer_class = StatsQuerySerializer

    def query(self) -> dict:
        serializer = self.query_serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def time_zone(self, query: dict) -> ZoneInfo:
        return query.get("tz") or ZoneInfo(self.tenant.timezone)

    def respond(self, data, tz: ZoneInfo) -> Response:
        """The body keeps seed 001's shape; the zone used and the source read go in headers."""
        source = "rollup" if selectors.use_rollup(tz=tz, source="auto") else "raw"
        return Response(data, headers={"X-Timezone": tz.key, "X-Stats-Source": source})


class TrendView(StatsView):
    """Sum of event counts per bucket: `{"YYYY-MM-DD": {"event_name": n}}` (seed 001),
    zero-filled; `interval` = hour, day (default), week or month."""

    queryset = EventLog.objects.all()
    query_serializer_class = TrendQuerySerializer

    @extend_schema(
        parameters=[TrendQuerySerializer],
        responses={
            200: OpenApiResponse(
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
            400: BAD_QUERY,
        },
    )
    def get(self, request, *args, **kwargs):
        query = self.query()
        tz = self.time_zone(query)
        try:
            data = selectors.event_trend(
                logs=self.get_queryset(),
                rollup=self.scoped(HourlyCount.objects.all()),
                start=query.get("start_date"),
                end=query.get("end_date"),
                event_name=query.get("event_name"),
                interval=query["interval"],
                tz=tz,
            )
        except selectors.TooManyBuckets as exc:
            raise ValidationError({"interval": [str(exc)]}) from None
        return self.respond(data, tz)


class FrequencyView(StatsView):
    """Total count per event, most frequent first; one object when `event_name` is given."""

    queryset = Event.objects.all()

    @extend_schema(
        parameters=[StatsQuerySerializer],
        responses={
            200: OpenApiResponse(
                FrequencySerializer(many=True),
                description="A list; a single object when event_name is given.",
            ),
            400: BAD_QUERY,
            404: OpenApiResponse(description="event_name is not an event of this tenant"),
        },
    )
    def get(self, request, *args, **kwargs):
        query = self.query()
        tz = self.time_zone(query)
        events = self.get_queryset()
        event_name = query.get("event_name")
        if event_name is not None:
            events = events.filter(name=event_name)
        data = selectors.event_frequency(
            events=events, start=query.get("start_date"), end=query.get("end_date"), tz=tz
        )
        if event_name is None:
            return self.respond(data, tz)
        if not data:
            raise NotFound(f"No event named '{event_name}'.")
        return self.respond(data[0], tz)
