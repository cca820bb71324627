"""Stats about how the service handles a tenant's data rather than about its events:
ingestion quality per bucket (seed 003) and per-user activity periods (seed 004)."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Max
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics

from accounts.permissions import READ_OR_ADMIN_WRITES
from accounts.tenancy import TenantScopedMixin
from core.deadline import StatementDeadlineMixin
from events.models import IngestionCountTotal
from events.rollups import StatsSource
from stats import selectors
from stats.models import UserActivityPeriod
from stats.serializers import (
    IngestionQuerySerializer,
    UserActivityPeriodSerializer,
    UserActivityQuerySerializer,
)
from stats.views import StatsView, date_range, local_day, stats_schema


@extend_schema_view(
    get=stats_schema(
        query=IngestionQuerySerializer,
        json=OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[
                OpenApiExample(
                    "one day",
                    value={
                        "2024-05-01": {
                            "requests": {"valid": 41, "invalid": 3},
                            "accepted": 950,
                            "duplicate": 12,
                            "rejected": {
                                "malformed_json": 1,
                                "invalid_field": 4,
                                "too_large": 0,
                                "unknown_event": 0,
                                "tenant_inactive": 0,
                                "blocked_ip": 2,
                                "blocked_user_agent": 0,
                                "rate_limited": 0,
                                "timestamp_out_of_range": 1,
                                "origin_not_allowed": 0,
                            },
                        }
                    },
                )
            ],
        ),
    )
)
class IngestionView(StatsView):
    """Ingestion quality per bucket (seed 003): requests valid and invalid, items
    accepted, duplicate, and rejected by reason, `{bucket: {...}}` zero-filled like
    event_trend. No dates: every day with data."""

    queryset = IngestionCountTotal.objects.all()
    query_serializer_class = IngestionQuerySerializer
    chart_kind = "ingestion"
    in_rollup = False  # counted per request: HourlyCount does not hold them

    def last_data_day(self, query: dict, tz: ZoneInfo) -> dt.date | None:
        last = self.get_queryset().order_by().aggregate(last=Max("hour"))["last"]
        return None if last is None else local_day(last, tz)

    def select(self, query: dict, *, tz: ZoneInfo, source: StatsSource) -> dict:
        return selectors.ingestion_counts(
            counts=self.get_queryset(), **date_range(query), tz=tz, interval=query["interval"]
        )


@extend_schema_view(
    get=extend_schema(
        parameters=[UserActivityQuerySerializer],
        responses={
            200: OpenApiResponse(
                UserActivityPeriodSerializer(many=True),
                examples=[
                    OpenApiExample(
                        "one user",
                        # One item: the schema generator wraps list examples itself.
                        value={
                            "distinct_id": "user-42",
                            "period_start": "2024-05-01T08:00:00Z",
                            "period_end": "2024-05-01T12:00:00Z",
                            "events": 17,
                        },
                    )
                ],
            ),
        },
    )
)
class UserActivityView(StatementDeadlineMixin, TenantScopedMixin, generics.ListAPIView):
    """Events per user and fixed UTC period, as computed by `manage.py compute_user_activity`
    (complete periods only; anonymous events are not counted): a paginated list of
    `{distinct_id, period_start, period_end, events}` by period_start, then distinct_id."""

    queryset = UserActivityPeriod.objects.all()
    serializer_class = UserActivityPeriodSerializer
    api_key_roles = READ_OR_ADMIN_WRITES
    filter_backends: list = []

    def filter_queryset(self, queryset):
        query = UserActivityQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.user_activity_periods(periods=queryset, **query.validated_data)
