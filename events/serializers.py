"""Shapes of the events app's routes; ingestion bodies are described here but validated
by events.validation, whose field table the ingest serializer is built from."""

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from core.rest import CachedFieldsMixin, ChangedColumnsMixin, StrictFieldsMixin
from events.blocklist import ScopedAddress, normalise_ip_rule
from events.models import (
    DISTINCT_ID_MAX_LENGTH,
    EVENT_NAME_MAX_LENGTH,
    BlockRule,
    DeletionReceipt,
    Event,
    EventLog,
    RejectionReason,
    event_name_problem,
)
from events.validation import EVENT_FIELDS, EventInput, FieldSpec

if TYPE_CHECKING:
    from events.bulk import LogRow


class EventSerializer(
    StrictFieldsMixin, CachedFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer
):
    """An event definition. Names are unique per tenant (checked by the database)."""

    class Meta:
        model = Event
        fields = ["id", "name", "description", "created_at", "modified_at"]
        read_only_fields = ["id", "created_at", "modified_at"]
        # Names are matched exactly everywhere (ingestion too): spaces are not trimmed.
        extra_kwargs = {"name": {"trim_whitespace": False}}
        # Uniqueness is (tenant, name); the view turns the database's refusal into a 400.
        validators = []

    def validate_name(self, value: str) -> str:
        if (problem := event_name_problem(value)) is not None:
            raise serializers.ValidationError(problem)
        return value


class EventLogSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """A stored event log, as every read route (and the single-event POST) returns it."""

    event_name = serializers.CharField(source="event.name", read_only=True)

    class Meta:
        model = EventLog
        fields = [
            "id",
            "uuid",
            "event",
            "event_name",
            "timestamp",
            "received_at",
            "count",
            "distinct_id",
            "data",
        ]
        read_only_fields = fields


_LOG_REPRESENTATION = EventLogSerializer()


def log_representation(log: EventLog) -> dict:
    """`EventLogSerializer(log).data`, without building a serializer per log: one
    instance's fields are bound once and only read (DRF's ListSerializer reuses one
    child for every item the same way)."""
    return _LOG_REPRESENTATION.to_representation(log)


def row_representation(row: "LogRow", *, pk: int, event_name: str) -> dict:
    """What `log_representation` answers for the log just stored from `row`, without
    building Event and EventLog instances for it (a sixth of a single event's own CPU).
    The times and the uuid go through the serializer's own fields; a test holds the two
    equal, key for key."""
    fields = _LOG_REPRESENTATION.fields
    return {
        "id": pk,
        "uuid": fields["uuid"].to_representation(row.uuid),
        "event": row.event_id,
        "event_name": event_name,
        "timestamp": fields["timestamp"].to_representation(row.timestamp),
        "received_at": fields["received_at"].to_representation(row.received_at),
        "count": row.count,
        "distinct_id": row.distinct_id,
        "data": row.data,
    }


_KINDS: dict[str, type[serializers.Field]] = {
    "string": serializers.CharField,
    "object": serializers.JSONField,
    "datetime": serializers.DateTimeField,
    "uuid": serializers.UUIDField,
    "integer": serializers.IntegerField,
}


def _input_field(name: str, spec: FieldSpec) -> serializers.Field:
    """The schema's view of one field of events.validation's table."""
    options: dict[str, Any] = {"required": spec.required, "help_text": spec.help, **spec.limits}
    if spec.nullable:
        options["allow_null"] = True
    if spec.kind == "string":
        options["trim_whitespace"] = False  # the validator keeps spaces
    if (default := _INPUT_DEFAULTS.get(name)) is not None:
        options["default"] = default
    return _KINDS[spec.kind](**options)


# Plain defaults of EventInput (count=1), shown in the schema.
_INPUT_DEFAULTS = {
    item.name: item.default
    for item in dataclasses.fields(EventInput)
    if item.default not in (dataclasses.MISSING, None, "")
}

# The body of `POST /api/eventlogs/` (and of each batch item), built from the table that
# `events.validation.validate_event` checks with, so the two cannot disagree. For the
# schema and the browsable form only: the validator alone validates.
EventLogCreateSerializer = type(
    "EventLogCreateSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "An event log to store: the fields events.validation accepts.",
        **{name: _input_field(name, spec) for name, spec in EVENT_FIELDS.items()},
    },
)


class BatchQuerySerializer(serializers.Serializer):
    atomic = serializers.BooleanField(
        default=False, help_text="Store nothing unless every item is valid."
    )


class BatchRequestSerializer(serializers.Serializer):
    """`POST /api/eventlogs/batch/` body (documentation; validated by events.validation)."""

    events = EventLogCreateSerializer(many=True, help_text="1 to 1000 events.")
    sent_at = serializers.DateTimeField(
        required=False,
        help_text="Client clock when sending; timestamps are shifted by (received - sent_at).",
    )


class ReceiptSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    uuid = serializers.UUIDField(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    reason = serializers.ChoiceField(
        choices=RejectionReason.choices,
        required=False,
        help_text="Why a rejected item was refused (the ingestion statistics count it so).",
    )


class BatchResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    clock_skew_seconds = serializers.FloatField()
    receipts = ReceiptSerializer(many=True)


def batch_response(receipts, *, skew) -> dict:
    """The batch answer: totals, the clock-skew correction applied, and the receipts."""
    totals = Counter(receipt.status for receipt in receipts)
    return {
        "accepted": totals["accepted"],
        "duplicate": totals["duplicate"],
        "rejected": totals["rejected"],
        "clock_skew_seconds": skew.total_seconds(),
        "receipts": [_receipt(receipt) for receipt in receipts],
    }


def _receipt(receipt) -> dict:
    body = {
        "index": receipt.index,
        "status": receipt.status,
        "uuid": str(receipt.uuid) if receipt.uuid else None,
    }
    if receipt.errors:
        body["errors"] = receipt.errors
    if receipt.reason:
        body["reason"] = receipt.reason
    return body


class DeletionRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """`POST /api/deletions/`: which logs to delete; at least one filter, all combined."""

    event_name = serializers.CharField(
        required=False, max_length=EVENT_NAME_MAX_LENGTH, trim_whitespace=False
    )
    distinct_id = serializers.CharField(
        required=False, max_length=DISTINCT_ID_MAX_LENGTH, trim_whitespace=False
    )
    start = serializers.DateTimeField(
        required=False, help_text="Logs whose event time is at or after this (naive = UTC)."
    )
    end = serializers.DateTimeField(
        required=False, help_text="Logs whose event time is before this (naive = UTC)."
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give at least one of event_name, distinct_id, start, end."]}
            )
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        return attrs


class DeletionReceiptSerializer(serializers.ModelSerializer):
    """What a deletion did: which filter matched how many logs, who asked, when."""

    actor = serializers.CharField(read_only=True, help_text='"user", "api_key" or "system".')

    class Meta:
        model = DeletionReceipt
        fields = [
            "id",
            "reason",
            "filter",
            "events_deleted",
            "actor",
            "created_by",
            "api_key",
            "created_at",
        ]
        read_only_fields = fields


class BlockRuleSerializer(StrictFieldsMixin, ChangedColumnsMixin, serializers.ModelSerializer):
    """A blocklist rule. `ip` values are stored normalised (`10.1.2.3` → `10.1.2.3/32`,
    `10.1.2.3/8` → `10.0.0.0/8`); `user_agent` values match case-insensitively anywhere
    in the header. (tenant, kind, value) is unique; the view turns a repeat into a 400."""

    class Meta:
        model = BlockRule
        fields = ["id", "kind", "value", "note", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        value = attrs.get("value", getattr(self.instance, "value", None))
        if kind == BlockRule.Kind.IP and value is not None:
            try:
                attrs["value"] = normalise_ip_rule(value)
            except ScopedAddress as exc:
                raise serializers.ValidationError({"value": [str(exc)]}) from None
            except ValueError:
                message = "Not an IP address or CIDR network (e.g. 203.0.113.7, 10.0.0.0/8)."
                raise serializers.ValidationError({"value": [message]}) from None
        return attrs
