"""Events a tenant defines and the logs of their occurrences."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from accounts.models import ApiKey, Tenant
from accounts.tenancy import ShardedByTenant, TenantForeignKey
from core.ranges import half_open
from core.storedjson import StoredJSONField
from events.uuid7 import uuid7

EVENT_NAME_MAX_LENGTH = 200
DISTINCT_ID_MAX_LENGTH = 200
# Unicode's category Cc, exactly: C0 controls, DEL and C1 controls (one regex search
# instead of a category lookup per character of every ingested name).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


def event_name_problem(name: str) -> str | None:
    """Why `name` is not a valid event name, or None. Shared by the model,
    the serializers and the ingestion validator so all give the same message."""
    if not name:
        return "Event name may not be blank."
    if len(name) > EVENT_NAME_MAX_LENGTH:
        return f"Event name may have at most {EVENT_NAME_MAX_LENGTH} characters."
    if _CONTROL_CHARACTER.search(name):
        return "Event name may not contain control characters."
    return None


def validate_event_name(name: str) -> None:
    if (problem := event_name_problem(name)) is not None:
        raise ValidationError(problem)


class Event(ShardedByTenant):
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
        return self.filter(half_open(field, start, end))


class EventLog(ShardedByTenant):
    """One occurrence (or `count` occurrences) of an Event, sent by a tenant's client.

    Append-only. `uuid` is the idempotency key: a retry with the same uuid is
    stored once. No other table points at this one (it may be partitioned or
    distributed by tenant later).
    """

    # No single-column index on tenant (every composite index leads with it), created_by
    # or api_key (users and keys are deactivated/revoked, not deleted): fewer indexes to
    # maintain on the hottest insert path. event keeps its own, for cascading deletes.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="logs")
    uuid = models.UUIDField(default=uuid7, editable=False)
    timestamp = models.DateTimeField(help_text="When it happened (client time, UTC).")
    received_at = models.DateTimeField(help_text="When the server stored it.")
    count = models.PositiveIntegerField(default=1)
    distinct_id = models.CharField(max_length=DISTINCT_ID_MAX_LENGTH, blank=True, default="")
    data = StoredJSONField(default=dict, blank=True)  # floats past 64 bits read as floats
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
            # Covering (PostgreSQL): the insights read users and instants from the index
            # alone (funnels, first occurrences, active users), not from the table.
            models.Index(
                fields=["tenant", "event", "timestamp"],
                include=["distinct_id", "id"],
                name="eventlog_tenant_event_ts_cover",
            ),
            models.Index(
                fields=["tenant", "timestamp"],
                include=["distinct_id"],
                name="eventlog_tenant_ts_cover",
            ),
            models.Index(
                fields=["tenant", "distinct_id", "timestamp"], name="eventlog_tenant_user_ts"
            ),
            models.Index(fields=["tenant", "received_at"], name="eventlog_tenant_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}@{self.timestamp:%Y-%m-%d %H:%M:%S}"


class FirstMinutes(models.Model):
    """The rollup's cumulative quarter-hour columns: the sum of counts of the logs in the
    first 15, 30 and 45 minutes of the hour. With them an hour splits where a zone with a
    :15, :30 or :45 offset (India, Nepal, Newfoundland) starts its local hours, so the
    rollup answers those zones too."""

    # db_default: a process of the previous release, which does not write them, can
    # still append increments while this one's migration runs (a rolling deploy).
    first_15 = models.BigIntegerField(
        default=0, db_default=0, help_text="Sum of counts in minutes 0-14."
    )
    first_30 = models.BigIntegerField(
        default=0, db_default=0, help_text="Sum of counts in minutes 0-29."
    )
    first_45 = models.BigIntegerField(
        default=0, db_default=0, help_text="Sum of counts in minutes 0-44."
    )

    class Meta:
        abstract = True


class HourlyCount(ShardedByTenant, FirstMinutes):
    """Sum of `EventLog.count` per tenant, event and UTC hour: the folded part.

    Writers never touch it: each transaction that inserts or deletes logs appends its
    increments to HourlyCountIncrement, and `events.rollups.fold_counters` moves them
    here. Readers read HourlyCountTotal (both tables), exact at every instant;
    `manage.py rebuild_hourly_counts` recomputes it from raw rows and reports drift.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="hourly_counts")
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


class HoursBefore(models.Model):
    """The daily rollup's cumulative hour columns: before_<h> is the sum of counts of the
    day before h:00 UTC (h = 1 … 23). A local day that begins at 05:00 UTC (New York) is
    then the UTC day less its before_5 plus the next day's before_5: one row per event
    and day answers any zone, the hour a :30 or :45 zone cuts coming from HourlyCount."""

    class Meta:
        abstract = True


HOURS_BEFORE = tuple(f"before_{hour}" for hour in range(1, 24))
for _hour, _name in enumerate(HOURS_BEFORE, start=1):
    HoursBefore.add_to_class(
        _name,
        models.BigIntegerField(default=0, help_text=f"Sum of counts before {_hour:02d}:00 UTC."),
    )
del _hour, _name


class DailyCount(ShardedByTenant, HoursBefore):
    """Sum of `EventLog.count` per tenant, event and UTC day, and its hours before each
    hour of the day: the hourly rollup's folded rows by day, so a long range reads one
    row per event and day instead of 24.

    Nothing writes it but the fold, in the transaction that moves hourly increments into
    HourlyCount: both take the same increments at once. Readers read DailyCountTotal
    (the folded days plus the hourly increments not folded yet, by their UTC day)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="The UTC day.")
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event", "day"], name="dailycount_unique_day"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="dailycount_tenant_day")]

    def __str__(self) -> str:
        return f"{self.event_id}@{self.day:%Y-%m-%d} = {self.count}"


class DeletionReceipt(ShardedByTenant):
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
        EVENT = "event", "deletion of an event type and all its logs"

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
    # A deletion's rows commit long after created_at (a purge in chunks, a large atomic
    # erasure), so the per-user activity job cannot follow receipts by time: it follows
    # this count instead, recomputing the periods of receipts that deleted more since.
    activity_seen = models.BigIntegerField(
        default=0,
        help_text="events_deleted when the per-user activity job last recomputed its periods.",
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="deletionreceipt_tenant_created"),
            models.Index(
                fields=["tenant"],
                condition=Q(events_deleted__gt=F("activity_seen")),
                name="deletionreceipt_tenant_unseen",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.events_deleted} log(s) at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def actor(self) -> str:
        """ "user", "api_key" or "system" (a management command)."""
        if self.created_by_id is not None:
            return "user"
        return "api_key" if self.api_key_id is not None else "system"


class VisitorSalt(models.Model):
    """A random salt per UTC day for cookieless visitor ids (events.visitors). Only
    today's and yesterday's are kept: once a day's salt is gone, nobody (the operator
    included) can recompute which address and browser an id of that day stood for."""

    day = models.DateField(primary_key=True)
    salt = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return self.day.isoformat()


class RejectionReason(models.TextChoices):
    """Why an ingestion request or item was refused (receipts, accounting, metrics)."""

    MALFORMED_JSON = "malformed_json", "the body is not readable JSON"
    INVALID_FIELD = "invalid_field", "a field is missing, unknown or of the wrong type"
    TOO_LARGE = "too_large", "the body or the batch is over its size limit"
    UNKNOWN_EVENT = "unknown_event", "an event the tenant has not defined (strict tenants)"
    TENANT_INACTIVE = "tenant_inactive", "the tenant is blocked"
    BLOCKED_IP = "blocked_ip", "the client address is on the tenant's blocklist"
    BLOCKED_USER_AGENT = "blocked_user_agent", "the User-Agent is on the tenant's blocklist"
    RATE_LIMITED = "rate_limited", "over the ingestion rate"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range", "before 1970 or too far in the future"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed", "a browser origin the ingest key does not allow"
    BOT = "bot", "a web page's events sent by a known bot or crawler"
    DO_NOT_TRACK = "do_not_track", "the browser asks not to be tracked (Do-Not-Track, GPC)"


class IngestionCount(ShardedByTenant):
    """Ingestion requests and items per tenant and UTC hour (of receipt), by outcome.

    `events` counts items: accepted, duplicate, or rejected with a reason (a request
    refused whole before its items could be read counts as one). `requests` counts
    requests by their answer: a request that stored or found anything counts on its
    `accepted` row, one refused as a whole on the row of its reason. Incremented with
    increments appended in the ingest transaction (or right after a refusal) and
    folded here, like HourlyCount; readers read IngestionCountTotal.
    """

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"
        DUPLICATE = "duplicate"
        REJECTED = "rejected"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField(help_text="Start of the UTC hour the requests arrived in.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=30, choices=RejectionReason.choices, blank=True)
    events = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["hour", "outcome", "reason"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "hour", "outcome", "reason"], name="ingestioncount_unique_bucket"
            ),
        ]

    def __str__(self) -> str:
        label = f"{self.outcome}:{self.reason}" if self.reason else self.outcome
        return f"{self.hour:%Y-%m-%d %H}:00 {label} = {self.events}"


class HourlyCountIncrement(ShardedByTenant, FirstMinutes):
    """A change of one HourlyCount bucket, appended by the transaction that inserted or
    deleted the logs, not folded yet. Appending locks nothing that another request
    needs, so concurrent ingestion of one tenant never waits on a counter row."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    count = models.BigIntegerField(help_text="Negative for deleted logs.")

    def __str__(self) -> str:
        return f"{self.event_id}@{self.hour:%Y-%m-%d %H}:00 {self.count:+}"


class HourlyUserSketch(ShardedByTenant):
    """The distinct users (non-empty distinct_ids) of a tenant's events in one closed UTC
    hour, as a HyperLogLog sketch (the `hll` PostgreSQL extension's binary form), for
    approximate active users over long ranges (stats.active_users). Built by
    `manage.py build_user_sketches` (events.sketches) for hours an hour past; the fold
    deletes the sketch of every hour it moves an increment of (a late event, a deletion,
    an erasure), and readers take a sketch only while its hour has no increment
    pending, so a sketch never answers for rows it has not seen."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    users = models.BinaryField(help_text="hll_send() of the hour's hll_add_agg().")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "hour"], name="hourlyusersketch_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}@{self.hour:%Y-%m-%d %H}:00"


class UserNumber(ShardedByTenant):
    """A number for one distinct_id of a tenant: the hourly user sets (HourlyUserSet)
    hold users as these numbers, in roaring bitmaps (events.usersets). It names a
    person, so erasing the person deletes it (people.services.person_erase)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    distinct_id = models.CharField(max_length=DISTINCT_ID_MAX_LENGTH)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "distinct_id"], name="usernumber_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.pk}"


class UserSetColumns(models.Model):
    """What a set of a closed UTC hour's logs holds (events.usersets): the sum of their
    counts, the sum of the counts of those with a distinct_id, and the distinct users
    (numbers of UserNumber, a serialized 64-bit roaring bitmap)."""

    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    events = models.BigIntegerField(help_text="Sum of the logs' counts.")
    user_events = models.BigIntegerField(help_text="Sum of the counts of logs with a user.")
    users = models.BinaryField(help_text="The distinct users: a serialized BitMap64.")

    class Meta:
        abstract = True


class HourlyUserSet(ShardedByTenant, UserSetColumns):
    """The logs of one event (or, with no event, of every event) in one closed UTC hour:
    built by a job for hours an hour past, deleted by the fold when an increment of its
    hour moves (a late event, a deletion, an erasure), and read only while its hour has
    none pending; so a set never answers for rows it has not seen. The row without an
    event says the hour is built."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="+", null=True)
    crowded_keys = models.JSONField(
        default=list, help_text="Top-level `data` keys with too many values for their sets."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event", "hour"],
                condition=models.Q(event__isnull=False),
                name="hourlyuserset_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "hour"],
                condition=models.Q(event__isnull=True),
                name="hourlyuserset_unique_all",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id or '*'}@{self.hour:%Y-%m-%d %H}:00"


class HourlyPropertyUserSet(ShardedByTenant, UserSetColumns):
    """HourlyUserSet's logs of one event and hour parted by the value of one top-level
    `data` key: `value` is its JSON text (insights.expressions.JsonRepr), "" where the
    key is missing or null. A key with more values in the hour than the builder keeps
    has none (it is among the hour's `crowded_keys`): that hour is read from its logs;
    a key without either is missing from every log of the hour."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = TenantForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    value = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "key", "event", "hour", "value"],
                name="hourlypropertyuserset_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}@{self.hour:%Y-%m-%d %H}:00 {self.key}={self.value}"


class IngestionCountIncrement(ShardedByTenant):
    """A change of one IngestionCount row, appended by one request, not folded yet."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=IngestionCount.Outcome.choices)
    reason = models.CharField(max_length=30, choices=RejectionReason.choices, blank=True)
    events = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.outcome} {self.events:+}"


class EventRollupView(models.Model):
    """A read-only view over one of an event's rollups: its tenant and event, without
    constraints (a view has none)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    event = TenantForeignKey(
        Event, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )

    class Meta:
        abstract = True


class HourlyCountTotal(FirstMinutes, EventRollupView):
    """Read-only: a database view, HourlyCount UNION ALL HourlyCountIncrement. Summed by
    (tenant, event, hour) it is the exact rollup at every instant: one statement sees
    an increment either not yet folded or folded, never both, never neither.
    Rows are not unique per bucket; always aggregate (`hour` is a stand-in primary key
    the ORM needs and no query may rely on)."""

    hour = models.DateTimeField(primary_key=True)
    count = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "events_hourlycounttotal"

    def __str__(self) -> str:
        return f"{self.event_id}@{self.hour:%Y-%m-%d %H}:00 {self.count:+}"


class DailyCountTotal(HoursBefore, EventRollupView):
    """Read-only: a database view, DailyCount UNION ALL HourlyCountIncrement by UTC day
    (see HourlyCountTotal); always aggregate."""

    day = models.DateField(primary_key=True)
    count = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "events_dailycounttotal"

    def __str__(self) -> str:
        return f"{self.event_id}@{self.day:%Y-%m-%d} {self.count:+}"


class IngestionCountTotal(models.Model):
    """Read-only: a database view, IngestionCount UNION ALL IngestionCountIncrement
    (see HourlyCountTotal); always aggregate."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    hour = models.DateTimeField(primary_key=True)
    outcome = models.CharField(max_length=10, choices=IngestionCount.Outcome.choices)
    reason = models.CharField(max_length=30, choices=RejectionReason.choices, blank=True)
    events = models.BigIntegerField()
    requests = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "events_ingestioncounttotal"

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.outcome} {self.events:+}"


class BlockRule(ShardedByTenant):
    """A tenant's blocklist entry: events from matching sources are refused and counted.

    `ip`: one address or a CIDR network (IPv4 or IPv6), stored normalised
    (`10.0.0.0/8`, `2001:db8::/32`, a single address as a /32 or /128).
    `user_agent`: a case-insensitive substring of the `User-Agent` header.
    """

    class Kind(models.TextChoices):
        IP = "ip", "client address or network (CIDR)"
        USER_AGENT = "user_agent", "User-Agent substring (case-insensitive)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=200)
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "value"], name="blockrule_unique_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"
