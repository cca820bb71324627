from rest_framework import serializers

DATE_FORMAT = "%Y-%m-%d"


class StatsQuerySerializer(serializers.Serializer):
    """Query of every stats route: `start_date`/`end_date` as YYYY-MM-DD, both days
    included, either may be omitted; `event_name` narrows to one event."""

    start_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    end_date = serializers.DateField(required=False, input_formats=[DATE_FORMAT])
    event_name = serializers.CharField(required=False, max_length=200)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["end_date is before start_date."]})
        return attrs


class FrequencySerializer(serializers.Serializer):
    event_name = serializers.CharField()
    total = serializers.IntegerField()
