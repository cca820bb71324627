from rest_framework import serializers

from accounts.models import Tenant


class TenantOverviewSerializer(serializers.ModelSerializer):
    """A tenant as the platform's staff see it: its state and how much it sends."""

    events_total = serializers.IntegerField(
        read_only=True, help_text="Occurrences stored (sum of counts, from the rollup)."
    )
    last_event_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When its latest event was received."
    )

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "is_active",
            "retention_days",
            "created_at",
            "events_total",
            "last_event_at",
        ]
        read_only_fields = fields
