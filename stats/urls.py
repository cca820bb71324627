from django.urls import re_path

from stats.views import FrequencyView, TrendView

urlpatterns = [
    re_path(r"^event_trend/?$", TrendView.as_view(), name="stats-event-trend"),
    re_path(r"^event_frequency/?$", FrequencyView.as_view(), name="stats-event-frequency"),
]
