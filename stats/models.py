"""Data the stats app derives from event logs, the state of the jobs that derive it, and
the annotations a tenant marks its time charts with."""

from django.conf import settings
from django.db import models

from accounts.models import Tenant
from accounts.tenancy import ShardedByTenant
from events.models import DISTINCT_ID_MAX_LENGTH


class UserActivityPeriod(ShardedByTenant):
    """Sum of `EventLog.count` of one end user (`distinct_id`) in one fixed UTC period
    `[period_start, period_end)`, written only by `manage.py compute_user_activity`
    (deleting a user's events deletes theirs at once: people.services).

    A row exists only for a complete period in which the user sent at least one event;
    anonymous events (empty distinct_id) are not counted.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    distinct_id = models.CharField(max_length=DISTINCT_ID_MAX_LENGTH)
    period_start = models.DateTimeField(help_text="Start of the period (UTC), included.")
    period_end = models.DateTimeField(help_text="End of the period (UTC), excluded.")
    events = models.PositiveBigIntegerField(help_text="Sum of the counts of the user's logs.")
    computed_at = models.DateTimeField(help_text="When the row was last recomputed.")

    class Meta:
        ordering = ["period_start", "distinct_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "distinct_id", "period_start"],
                name="useractivityperiod_unique_period",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "period_start"], name="useractivity_tenant_start"),
        ]

    def __str__(self) -> str:
        return f"{self.distinct_id}@{self.period_start:%Y-%m-%d %H:%M} = {self.events}"


class JobState(models.Model):
    """Progress and health of one periodic job (`manage.py run_jobs`), so that its
    watermark and its lag can be queried (stats.jobs.job_lags)."""

    name = models.CharField(max_length=100, unique=True)
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="Everything before this instant is computed."
    )
    received_mark = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Logs received (and deletions made) from this instant on are checked "
        "again by the next run.",
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="", help_text="Empty after a success.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Annotation(ShardedByTenant):
    """A dated note, drawn as a marker on every time chart of the tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField(help_text="When it happened.")
    text = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "at"], name="annotation_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d}: {self.text[:40]}"
