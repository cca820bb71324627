from typing import Any

from rest_framework import serializers

from core import jsonbody
from core.rest import StrictQueryMixin
from insights.spec import MAX_RANGE_DAYS, PRESETS, QueryError, parse_date_range, parse_filters
from stats.serializers import DaysQuerySerializer

MAX_LIMIT = 1000
COMPARES = ("previous_period",)


class WebQuerySerializer(DaysQuerySerializer):
    """`date_range` (a preset: today, yesterday, 7d, 30d, month, year; default 30d) or
    `start_date`/`end_date`; `filters` as JSON in the query API's form (e.g.
    `[["eq", "data.$country", "DE"]]`: a visit's property keeps whole visits,
    webstats.filters); `limit` rows per list; `compare`;
    `imported=false` leaves imported days out."""

    date_range = serializers.CharField(required=False, help_text=f"{', '.join(PRESETS)}, or Nd")
    filters = serializers.CharField(required=False, help_text="JSON, as in POST /api/query")
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_LIMIT)
    compare = serializers.ChoiceField(choices=COMPARES, required=False)
    interval = serializers.ChoiceField(choices=("hour", "day", "week", "month"), required=False)
    imported = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Add the days imported from another product (POST /api/imports/); "
        "left out when filters are given.",
    )

    def validate_date_range(self, value: str):
        # The query API's message also offers {"start": …, "end": …}, which a query
        # string cannot hold: here the bounds are start_date and end_date.
        try:
            return parse_date_range(value)
        except QueryError:
            raise serializers.ValidationError(
                f"Use {', '.join(PRESETS)} or a number of days up to {MAX_RANGE_DAYS} "
                "('30d'); or start_date and end_date instead."
            ) from None

    def validate_filters(self, value: str):
        try:  # the request bodies' decoder: nesting capped, as `q` of the insight routes
            raw: Any = jsonbody.loads(value.encode())
        except jsonbody.JSONBodyError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return _parsed(lambda: parse_filters(raw, "filters"), "filters")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "date_range" in attrs and ("start_date" in attrs or "end_date" in attrs):
            raise serializers.ValidationError(
                {"date_range": ["Give date_range or start_date/end_date, not both."]}
            )
        if attrs.get("compare") and _open(attrs):
            # As /api/query: an open range has no previous period.
            raise serializers.ValidationError(
                {"compare": ["Needs a range with a start and an end."]}
            )
        return attrs


def _open(attrs: dict) -> bool:
    if "date_range" in attrs:
        return attrs["date_range"].preset == "all"
    return ("start_date" in attrs) != ("end_date" in attrs)


def _parsed(parse, name: str):
    try:
        return parse()
    except QueryError as exc:
        where = "" if exc.path == name else f" ({exc.path})"
        raise serializers.ValidationError(f"{exc.message}{where}") from None


class RealtimeQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """Unknown parameters are a 400 naming them, as on every other stats route."""

    minutes = serializers.IntegerField(required=False, default=5, min_value=1, max_value=60)
