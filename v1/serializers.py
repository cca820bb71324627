"""Seed 000's request and response shapes."""

import datetime as dt
import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.rest import (
    DayField,
    StrictFieldsMixin,
    StrictQueryMixin,
    WholeNumberField,
    WrittenAsField,
)
from stats.serializers import check_range_days

SEED_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"})
class SeedDateTimeField(WrittenAsField, serializers.DateTimeField):
    """Seed 000's `YYYY-MM-DD HH:mm:ss` (UTC), which is not an RFC 3339 date-time."""

    written_as = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
    shown_as = "YYYY-MM-DD HH:mm:ss"

    def __init__(self, **kwargs):
        super().__init__(format=SEED_DATETIME_FORMAT, **kwargs)


class OccurrenceSerializer(StrictFieldsMixin, serializers.Serializer):
    """`POST /api/v1/events/{name}` body; both fields optional (an empty body is fine)."""

    count = WholeNumberField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="0 or missing means 1."
    )
    # Only the documented form: a date in another form (ISO 8601 with a "T", an offset,
    # no seconds) is refused rather than read one way or another.
    date = SeedDateTimeField(
        required=False,
        input_formats=[SEED_DATETIME_FORMAT],
        default_timezone=dt.UTC,
        help_text="YYYY-MM-DD HH:mm:ss, UTC; missing means now.",
    )


class DateRangeSerializer(StrictQueryMixin, serializers.Serializer):
    """`start_date` and `end_date` (YYYY-MM-DD, inclusive): both or neither."""

    start_date = DayField(required=False)
    end_date = DayField(required=False)

    def validate(self, attrs):
        given = {name for name in ("start_date", "end_date") if name in attrs}
        if len(given) == 1:
            missing = ({"start_date", "end_date"} - given).pop()
            raise serializers.ValidationError({missing: ["Give both start_date and end_date."]})
        if given and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": ["end_date is before start_date."]})
        check_range_days(attrs.get("start_date"), attrs.get("end_date"))
        return attrs


class DailyCountSerializer(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField()
    date = serializers.DateField()


class EventTotalSerializer(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField()


class HourCountSerializer(EventTotalSerializer):
    hour_count = serializers.ListField(child=serializers.IntegerField(), min_length=24)


class OccurrenceCreatedSerializer(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField()
    date = SeedDateTimeField(help_text="YYYY-MM-DD HH:mm:ss, UTC")
    uuid = serializers.UUIDField()


class DeletedSerializer(serializers.Serializer):
    message = serializers.CharField()
    deleted = serializers.IntegerField()
