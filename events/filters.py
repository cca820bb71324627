import django_filters

from events.models import EventLog


class EventLogFilter(django_filters.FilterSet):
    """Event-time range `[start, end)` and record-time range `[received_start, received_end)`;
    naive datetimes mean UTC."""

    event_name = django_filters.CharFilter(field_name="event__name")
    distinct_id = django_filters.CharFilter()
    start = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    end = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")
    received_start = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_end = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = EventLog
        fields = ["event_name", "distinct_id", "start", "end", "received_start", "received_end"]
