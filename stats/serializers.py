import zoneinfo

from rest_framework import serializers

from stats.selectors import INTERVALS

DATE_FORMAT = "%Y-%m-%d"


class StatsQuerySerializer(serializers.Serializer):
    """Query of every stats route: `start_date`/`end_date` as YYYY-MM-DD, both days
    included, either may be omitted; `event_name` narrows to one event; `tz` is the
    IANA zone that decides where days begin (default: the tenant's)."""

    start_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    end_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    event_name = serializers.CharField(required=False, max_length=200)
    tz = serializers.CharField(required=False, max_length=64, help_text="IANA time zone name")

    def validate_tz(self, value: str) -> zoneinfo.ZoneInfo:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(f"'{value}' is not an IANA time zone name.")
        return zoneinfo.ZoneInfo(value)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["end_date is before start_date."]})
        return attrs


class TrendQuerySerializer(StatsQuerySerializer):
    interval = serializers.ChoiceField(choices=INTERVALS, default="day")


class FrequencySerializer(serializers.Serializer):
    event_name = serializers.CharField()
    total = serializers.IntegerField()
