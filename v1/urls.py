"""Seed 000's routes. Names may hold any character but "/" is a separator in the
hist route, so `{name}` there is everything up to the final `/hist`."""

from django.urls import path, re_path

from v1 import views

api_urlpatterns = [
    re_path(r"^events/?$", views.EventListView.as_view(), name="v1-events"),
    re_path(r"^event_history/?$", views.EventHistoryView.as_view(), name="v1-event-history"),
    re_path(
        r"^event_frequencies/(?P<name>.+)/hist/?$",
        views.EventHistogramView.as_view(),
        name="v1-event-hist",
    ),
    path("events/<path:name>", views.EventOccurrenceView.as_view(), name="v1-event-occurrence"),
]

admin_urlpatterns = [
    re_path(
        r"^event_frequencies/?$", views.AdminFrequenciesView.as_view(), name="v1-admin-frequencies"
    ),
    path(
        "event_frequencies/<path:name>",
        views.AdminFrequencyView.as_view(),
        name="v1-admin-frequency",
    ),
    path("events/<path:name>", views.AdminEventView.as_view(), name="v1-admin-event"),
]
