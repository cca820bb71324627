"""The stats routes under /api/stats/: each as JSON and, with `.png`, as its chart."""

from django.urls import re_path

from stats.operations import IngestionView, UserActivityView
from stats.views import (
    ActiveUsersView,
    EventAmountView,
    EventAvgPerUserView,
    FrequencyView,
    HourlyDistributionView,
    StoreEventsAmountView,
    TrendView,
    UniqueUsersView,
)


def stats_routes(route: str, view, name: str) -> list:
    """`<route>` with or without a trailing slash, and `<route>.png` for its chart.
    DRF picks the renderer from the `format` keyword; OpenAPI skips `.{format}` paths
    (the PNG answer is documented on the plain route)."""
    return [
        re_path(rf"^{route}/?$", view, name=name),
        re_path(rf"^{route}\.(?P<format>png)$", view, name=f"{name}-png"),
    ]


urlpatterns = [
    *stats_routes("event_trend", TrendView.as_view(), "stats-event-trend"),
    *stats_routes("event_frequency", FrequencyView.as_view(), "stats-event-frequency"),
    *stats_routes(
        "hourly_distribution", HourlyDistributionView.as_view(), "stats-hourly-distribution"
    ),
    *stats_routes("ingestion", IngestionView.as_view(), "stats-ingestion"),
    # Seed 002's per-day statistics.
    *stats_routes("event_amount", EventAmountView.as_view(), "stats-event-amount"),
    *stats_routes("event_avg_per_user", EventAvgPerUserView.as_view(), "stats-event-avg-per-user"),
    *stats_routes(
        "store_events_amount", StoreEventsAmountView.as_view(), "stats-store-events-amount"
    ),
    *stats_routes("unique_users", UniqueUsersView.as_view(), "stats-unique-users"),
    # DAU / WAU / MAU, rolling.
    *stats_routes("active_users", ActiveUsersView.as_view(), "stats-active-users"),
    # Computed by manage.py compute_user_activity; a paginated list, no chart.
    re_path(r"^user_activity/?$", UserActivityView.as_view(), name="stats-user-activity"),
]
