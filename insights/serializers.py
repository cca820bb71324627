"""Parameters and answers of the insight routes that are not insights themselves."""

from rest_framework import serializers


class FunnelUsersQuerySerializer(serializers.Serializer):
    q = serializers.CharField(help_text="The funnel as JSON (what POST /api/funnels takes).")
    step = serializers.IntegerField(min_value=2, max_value=20, help_text="A step, from 2.")
    status = serializers.ChoiceField(
        choices=["dropped", "converted"],
        default="dropped",
        help_text="dropped: reached the step before, not this one; converted: reached it.",
    )


class FunnelUserSerializer(serializers.Serializer):
    distinct_id = serializers.CharField()


class InsightBodySerializer(serializers.Serializer):
    """An insight's JSON body, free-form: insights.spec and insights.funnels read it and
    name its bad parts. (The browsable API's form starts from this empty object.)"""
