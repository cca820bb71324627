"""The insights app's routes: its resources (mounted under /api/ with every app's) and
the insight routes themselves."""

from django.urls import re_path

from core.routers import OptionalSlashRouter
from insights import share
from insights.views import (
    AnnotationViewSet,
    DashboardViewSet,
    FunnelUsersView,
    FunnelView,
    InsightViewSet,
    QueryView,
    RetentionView,
    SavedInsightView,
)

router = OptionalSlashRouter()
router.register("insights", InsightViewSet, basename="insight")
router.register("dashboards", DashboardViewSet, basename="dashboard")
router.register("annotations", AnnotationViewSet, basename="annotation")


def insight_routes(route: str, view, name: str) -> list:
    """`<route>` with or without a trailing slash, and `.png` / `.csv` for its chart and rows."""
    return [
        re_path(rf"^{route}/?$", view, name=name),
        re_path(rf"^{route}\.(?P<format>png|csv)$", view, name=f"{name}-format"),
    ]


# Under /api/.
api_urlpatterns = [
    *insight_routes("query", QueryView.as_view(), "query"),
    *insight_routes("funnels", FunnelView.as_view(), "funnels"),
    re_path(r"^funnels/users/?$", FunnelUsersView.as_view(), name="funnel-users"),
    *insight_routes("retention", RetentionView.as_view(), "retention"),
    *insight_routes(
        r"insights/(?P<pk>[0-9]+)/results", SavedInsightView.as_view(), "insight-results"
    ),
]
# At the root: the read-only pages of shared dashboards. A token is what
# secrets.token_urlsafe makes: any other (a NUL, which PostgreSQL's text cannot hold) is
# no route, a 404.
SHARE_KEY = r"(?P<token>[A-Za-z0-9_-]+)"
share_urlpatterns = [
    re_path(rf"^share/{SHARE_KEY}$", share.dashboard_page, name="share"),
    re_path(
        rf"^share/{SHARE_KEY}/tiles/(?P<tile>[0-9]+)(?:\.(?P<format>png|json))?$",
        share.tile,
        name="share-tile",
    ),
]
