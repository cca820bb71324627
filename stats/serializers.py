"""Query serializers of the stats routes (validated parameters, never parsed by hand) and
the shapes of their answers, for the OpenAPI."""

import datetime as dt
import zoneinfo

from django.conf import settings
from rest_framework import serializers

from core.rest import DayField, NulFreeDateTimeField, StrictQueryMixin
from core.zones import is_zone_name
from events.models import DISTINCT_ID_MAX_LENGTH
from stats.buckets import INTERVALS, MAX_BUCKETS, Interval
from stats.charts.spec import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_HEIGHT,
    MAX_WIDTH,
    MIN_HEIGHT,
    MIN_WIDTH,
)


class ChartSizeSerializer(serializers.Serializer):
    """`width` and `height` of a PNG chart, in pixels."""

    width = serializers.IntegerField(
        default=DEFAULT_WIDTH,
        min_value=MIN_WIDTH,
        max_value=MAX_WIDTH,
        help_text="Chart width in pixels (PNG answers only)",
    )
    height = serializers.IntegerField(
        default=DEFAULT_HEIGHT,
        min_value=MIN_HEIGHT,
        max_value=MAX_HEIGHT,
        help_text="Chart height in pixels (PNG answers only)",
    )


class DaysQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """`start_date`/`end_date` as YYYY-MM-DD, both days included, either may be omitted;
    `tz` is the IANA zone that decides where days begin (default: the tenant's)."""

    start_date = DayField(required=False)
    end_date = DayField(required=False)
    tz = serializers.CharField(required=False, max_length=64, help_text="IANA time zone name")

    def validate_tz(self, value: str) -> zoneinfo.ZoneInfo:
        if not is_zone_name(value):
            raise serializers.ValidationError(f"'{value}' is not an IANA time zone name.")
        return zoneinfo.ZoneInfo(value)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["end_date is before start_date."]})
        self.check_range(attrs)
        return attrs

    def check_range(self, attrs) -> None:
        check_range_days(attrs.get("start_date"), attrs.get("end_date"))


class StatsQuerySerializer(DaysQuerySerializer, ChartSizeSerializer):
    """Query of every stats route: the days and zone; `event_name` narrows to one
    event; `width` and `height` size a PNG chart."""

    event_name = serializers.CharField(required=False, max_length=200)
    # Whether the answer has a bucket per interval of the range (a trend, a row per day),
    # capped at MAX_BUCKETS, or one answer for the whole range (frequency, distribution).
    bucketed = False

    def check_range(self, attrs) -> None:
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if self.bucketed and start and end:
            check_range_buckets(start, end, attrs.get("interval", "day"))


class DailyQuerySerializer(StatsQuerySerializer):
    """A row per day of the range."""

    bucketed = True


def count_buckets(start: dt.date, end: dt.date, interval: Interval) -> int:
    """How many `interval` buckets the days [start, end] hold (hours: 24 a day, give or
    take a daylight-saving hour, which the selectors count exactly)."""
    days = (end - start).days + 1
    if interval == "hour":
        return 24 * days
    if interval == "week":
        return (end - start + dt.timedelta(days=start.weekday() - end.weekday())).days // 7 + 1
    if interval == "month":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    return days


def check_range_buckets(start: dt.date, end: dt.date, interval: Interval) -> None:
    """A 400 when [start, end] holds more than MAX_BUCKETS buckets of `interval`, the same
    cap as a range left open meets: on `interval` when a larger one would do, else on
    end_date."""
    if count_buckets(start, end, interval) > MAX_BUCKETS:
        message = (
            f"A range may hold at most {MAX_BUCKETS} {interval} buckets; narrow it or use a "
            "larger interval."
        )
        field = "end_date" if interval == "day" else "interval"
        raise serializers.ValidationError({field: [message]})


def max_range_days() -> int:
    return settings.EVENTTRACKER["STATS_MAX_RANGE_DAYS"]


def check_range_days(start: dt.date | None, end: dt.date | None) -> None:
    """A 400 on end_date when [start, end] (both days included) spans more days than
    STATS_MAX_RANGE_DAYS (ten years by default)."""
    if start and end and (end - start).days + 1 > max_range_days():
        message = f"A range may span at most {max_range_days()} days; narrow it."
        raise serializers.ValidationError({"end_date": [message]})


class TrendQuerySerializer(DailyQuerySerializer):
    interval = serializers.ChoiceField(choices=INTERVALS, default="day")


class IngestionQuerySerializer(TrendQuerySerializer):
    """`/api/stats/ingestion`: the range, zone and interval; no event filter (a
    rejected request may name no event at all)."""

    event_name = None


class ActiveUsersQuerySerializer(DailyQuerySerializer):
    """`/api/stats/active_users`: users active in the `window` days ending on each day."""

    interval = serializers.ChoiceField(choices=["day"], default="day")
    window = serializers.IntegerField(
        default=1, min_value=1, max_value=90, help_text="Days: 1 (DAU), 7 (WAU), 30 (MAU)…"
    )
    approximate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Allow an approximate answer (HyperLogLog sketches, PostgreSQL with the "
        "hll extension, any event): each row then says `approximate` and its "
        "`relative_error`.",
    )


class ActiveUsersSerializer(serializers.Serializer):
    date = serializers.DateField()
    active_users = serializers.IntegerField(help_text="Active in the `window` days to date.")
    dau = serializers.IntegerField()
    wau = serializers.IntegerField(help_text="Active in the 7 days to date.")
    mau = serializers.IntegerField(help_text="Active in the 30 days to date.")
    stickiness = serializers.FloatField(allow_null=True, help_text="dau / mau")
    approximate = serializers.BooleanField(
        required=False, help_text="With ?approximate=true: whether this row is approximate."
    )
    relative_error = serializers.FloatField(
        required=False, help_text="One standard error, relative (0.023: ±2.3 %); 0: exact."
    )


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


class EventAmountQuerySerializer(DailyQuerySerializer):
    """Seed 002's per-type stats: `event_name` is required."""

    event_name = serializers.CharField(max_length=200)


class StoreEventsAmountQuerySerializer(DailyQuerySerializer):
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


class UserActivityQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """`/api/stats/user_activity`: one user (`distinct_id`, exact) or all; periods whose
    start lies in `[start, end)`, ISO 8601 datetimes where naive means UTC."""

    _FORM_KEYS = StrictQueryMixin._FORM_KEYS | {"limit", "offset"}  # the pagination's
    blank_is_absent = True  # a paged list: its filters are every list's

    distinct_id = serializers.CharField(
        required=False, max_length=DISTINCT_ID_MAX_LENGTH, trim_whitespace=False
    )
    start = NulFreeDateTimeField(
        required=False, default_timezone=dt.UTC, help_text="Periods starting at or after this."
    )
    end = NulFreeDateTimeField(
        required=False, default_timezone=dt.UTC, help_text="Periods starting before this."
    )

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError({"end": ["end is before start."]})
        return attrs


class UserActivityPeriodSerializer(serializers.Serializer):
    """One user's events in one complete period `[period_start, period_end)` (UTC)."""

    distinct_id = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    events = serializers.IntegerField(help_text="Sum of the counts of the user's event logs.")
