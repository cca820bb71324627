"""Query filters of GET /api/eventlogs/ (django-filter): event, user, time ranges."""

import datetime as dt

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django_filters.fields import IsoDateTimeField

from events.models import EventLog


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, naive = UTC. An instant with no UTC equivalent (year 1 at +01:00,
    year 9999 at -01:00) is a 400, not an OverflowError in SQLite's adapter (a 500); so
    is a NUL, which Python 3.11's datetime.fromisoformat reads past."""

    def to_python(self, value):
        if isinstance(value, str) and "\x00" in value:
            raise forms.ValidationError(ProhibitNullCharactersValidator.message, code="null")
        result = super().to_python(value)
        if result is not None:
            try:
                result.astimezone(dt.UTC)
            except OverflowError:
                raise forms.ValidationError("Date/time is out of range.", code="invalid") from None
        return result


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class EventLogFilter(django_filters.FilterSet):
    """Event-time range `[start, end)` and record-time range `[received_start, received_end)`;
    naive datetimes mean UTC."""

    event_name = django_filters.CharFilter(field_name="event__name")
    distinct_id = django_filters.CharFilter()
    start = UTCIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    end = UTCIsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")
    received_start = UTCIsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_end = UTCIsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = EventLog
        fields = ["event_name", "distinct_id", "start", "end", "received_start", "received_end"]
