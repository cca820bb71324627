import zoneinfo

from rest_framework import serializers

from stats import charts
from stats.buckets import INTERVALS

DATE_FORMAT = "%Y-%m-%d"


class StatsQuerySerializer(serializers.Serializer):
    """Query of every stats route: `start_date`/`end_date` as YYYY-MM-DD, both days
    included, either may be omitted; `event_name` narrows to one event; `tz` is the
    IANA zone that decides where days begin (default: the tenant's); `width` and
    `height` size a PNG chart."""

    start_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    end_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    event_name = serializers.CharField(required=False, max_length=200)
    tz = serializers.CharField(required=False, max_length=64, help_text="IANA time zone name")
    width = serializers.IntegerField(
        default=charts.DEFAULT_WIDTH,
        min_value=charts.MIN_WIDTH,
        max_value=charts.MAX_WIDTH,
        help_text="Chart width in pixels (PNG answers only)",
    )
    height = serializers.IntegerField(
        default=charts.DEFAULT_HEIGHT,
        min_value=charts.MIN_HEIGHT,
        max_value=charts.MAX_HEIGHT,
        help_text="Chart height in pixels (PNG answers only)",
    )

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


class HourlyDistributionSerializer(serializers.Serializer):
    event = serializers.CharField()
    count = serializers.IntegerField()
    hour_count = serializers.ListField(
        child=serializers.IntegerField(), min_length=24, max_length=24
    )
    percent = serializers.ListField(child=serializers.FloatField(), min_length=24, max_length=24)


class EventAmountQuerySerializer(StatsQuerySerializer):
    """Seed 002's per-type stats: `event_name` is required."""

    event_name = serializers.CharField(max_length=200)


class StoreEventsAmountQuerySerializer(StatsQuerySerializer):
    """Every event of the tenant: no `event_name`."""

    event_name = None


class DailyAmountSerializer(serializers.Serializer):
    date = serializers.DateField()
    event_amount = serializers.IntegerField()


class DailyAveragePerUserSerializer(serializers.Serializer):
    date = serializers.DateField()
    event_avg_per_user = serializers.FloatField()


class DailyUniqueUsersSerializer(serializers.Serializer):
    date = serializers.DateField()
    unique_users = serializers.IntegerField()
