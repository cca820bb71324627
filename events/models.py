"""Events a tenant defines and the logs of their occurrences."""

import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from accounts.models import ApiKey, Tenant
from events.uuid7 import uuid7

EVENT_NAME_MAX_LENGTH = 200
DISTINCT_ID_MAX_LENGTH = 200


def event_name_problem(name: str) -> str | None:
    """Why `name` is not a valid event name, or None. Shared by the model,
    the serializers and the ingestion validator so all give the same message."""
    if not name:
        return "Event name may not be blank."
    if len(name) > EVENT_NAME_MAX_LENGTH:
        return f"Event name may have at most {EVENT_NAME_MAX_LENGTH} characters."
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "Event name may not contain control characters."
    return None


def validate_event_name(name: str) -> None:
    if (problem := event_name_problem(name)) is not None:
        raise ValidationError(problem)


class Event(models.Model):
    """A kind of occurrence a tenant tracks ("purchased", "signup")."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=EVENT_NAME_MAX_LENGTH, validators=[validate_event_name])
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="event_unique_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class EventLogQuerySet(models.QuerySet):
    def between(self, start=None, end=None, *, field: str = "timestamp") -> "EventLogQuerySet":
        """Half-open range [start, end) on `timestamp` (or `received_at`); None is open."""
        queryset = self
        if start is not None:
            queryset = queryset.filter(**{f"{field}__gte": start})
        if end is not None:
            queryset = queryset.filter(**{f"{field}__lt": end})
        return queryset


class EventLog(models.Model):
    """One occurrence (or `count` occurrences) of an Event, sent by a tenant's client.

    Append-only. `uuid` is the idempotency key: a retry with the same uuid is
    stored once. No other table points at this one (it may be partitioned or
    distributed by tenant later).
    """

    # No single-column index on tenant (every composite index leads with it), created_by
    # or api_key (users and keys are deactivated/revoked, not deleted): fewer indexes to
    # maintain on the hottest insert path. event keeps its own, for cascading deletes.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="logs")
    uuid = models.UUIDField(default=uuid7, editable=False)
    timestamp = models.DateTimeField(help_text="When it happened (client time, UTC).")
    received_at = models.DateTimeField(help_text="When the server stored it.")
    count = models.PositiveIntegerField(default=1)
    distinct_id = models.CharField(max_length=DISTINCT_ID_MAX_LENGTH, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    objects = EventLogQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "uuid"], name="eventlog_unique_uuid_per_tenant"
            ),
            models.CheckConstraint(
                condition=models.Q(count__gte=1), name="eventlog_count_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "event", "timestamp"], name="eventlog_tenant_event_ts"),
            models.Index(fields=["tenant", "timestamp"], name="eventlog_tenant_ts"),
            models.Index(
                fields=["tenant", "distinct_id", "timestamp"], name="eventlog_tenant_user_ts"
            ),
            models.Index(fields=["tenant", "received_at"], name="eventlog_tenant_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}@{self.timestamp:%Y-%m-%d %H:%M:%S}"


class HourlyCount(models.Model):
    """Sum of `EventLog.count` per tenant, event and UTC hour.

    Kept exact in the same transaction as every insert and delete of logs
    (see events.rollups); `manage.py rebuild_hourly_counts` recomputes it from
    raw rows and reports drift. Stats read it whenever the range allows.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="hourly_counts")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event", "hour"], name="hourlycount_unique_bucket"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "hour"], name="hourlycount_tenant_hour")]

    def __str__(self) -> str:
        return f"{self.event_id}@{self.hour:%Y-%m-%d %H}:00 = {self.count}"


class DeletionReceipt(models.Model):
    """The record of one deletion of event logs: who, which filter, how many, when.

    Written in the same transaction as the deleted rows (per chunk for the
    retention purge), so `events_deleted` never counts rows that still exist.
    Holds no personal data: the filter names a person by `distinct_id` only.
    """

    class Reason(models.TextChoices):
        FILTER = "filter", "deletion by filter (POST /api/deletions/)"
        USER_EVENTS = "user_events", "all events of one distinct_id"
        ERASE = "erase", "erasure of a person (profile and events)"
        RETENTION = "retention", "retention purge (manage.py purge_expired)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    filter = models.JSONField(default=dict, blank=True, help_text="What was matched.")
    events_deleted = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="deletionreceipt_tenant_created")
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.events_deleted} log(s) at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def actor(self) -> str:
        """ "user", "api_key" or "system" (a management command)."""
        if self.created_by_id is not None:
            return "user"
        return "api_key" if self.api_key_id is not None else "system"
