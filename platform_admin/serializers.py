"""A tenant as the platform's staff see it: settings plus usage totals."""

from rest_framework import serializers

from accounts.models import Tenant
from core.rest import FixedFieldsMixin, StrictFieldsMixin


class TenantOverviewSerializer(FixedFieldsMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """A tenant as the platform's staff see it: its state and how much it sends."""

    fixed_fields_message = (
        "Cannot be changed here: PATCH sets ingest_rate and read_rate; POST …/block and "
        "…/unblock set is_active; the Django admin sets the rest."
    )

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
            "ingest_rate",
            "read_rate",
            "created_at",
            "events_total",
            "last_event_at",
        ]
        # Staff may set a tenant's own rate limits (empty: the server's default).
        read_only_fields = [name for name in fields if name not in {"ingest_rate", "read_rate"}]
        extra_kwargs = {name: {"allow_null": True} for name in ("ingest_rate", "read_rate")}

    def to_internal_value(self, data):
        # null is the server's default too, as "" is (JSON's way to say "none of its own").
        values = super().to_internal_value(data)
        return {name: "" if value is None else value for name, value in values.items()}
