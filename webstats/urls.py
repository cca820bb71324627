"""/api/stats/web and /api/stats/web/realtime (included under api/stats/)."""

from django.urls import re_path

from webstats.views import RealtimeView, WebStatsView

urlpatterns = [
    re_path(r"^web/?$", WebStatsView.as_view(), name="stats-web"),
    re_path(r"^web/realtime/?$", RealtimeView.as_view(), name="stats-web-realtime"),
]
