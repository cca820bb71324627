"""Seed 000's routes. Names may hold any character but "/" is a separator in the
hist route, so `{name}` there is everything up to the final `/hist`. Like every route,
these match with and without one trailing slash, which is never part of the name: a
name that itself ends in "/" is addressed with a second one (`/events/a/b//` is "a/b/")."""

from django.urls import re_path

from v1 import views

# Everything after the prefix but one optional trailing slash (non-greedy); any
# character but a NUL, which no name holds (PostgreSQL's text cannot): such a path is no
# route, a 404. A line break does match (`[^\x00]`, unlike `.`), so that a name holding
# one reaches the view and is refused as one with control characters (a 400).
NAME = r"(?P<name>[^\x00]+?)/?$"

api_urlpatterns = [
    re_path(r"^events/?$", views.EventListView.as_view(), name="v1-events"),
    re_path(r"^event_history/?$", views.EventHistoryView.as_view(), name="v1-event-history"),
    re_path(
        r"^event_frequencies/(?P<name>[^\x00]+)/hist/?$",
        views.EventHistogramView.as_view(),
        name="v1-event-hist",
    ),
    re_path(rf"^events/{NAME}", views.EventOccurrenceView.as_view(), name="v1-event-occurrence"),
]

admin_urlpatterns = [
    re_path(
        r"^event_frequencies/?$", views.AdminFrequenciesView.as_view(), name="v1-admin-frequencies"
    ),
    re_path(
        rf"^event_frequencies/{NAME}",
        views.AdminFrequencyView.as_view(),
        name="v1-admin-frequency",
    ),
    re_path(rf"^events/{NAME}", views.AdminEventView.as_view(), name="v1-admin-event"),
]
