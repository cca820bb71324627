"""Retention: `manage.py purge_expired` deletes old logs in batches, exactly, with receipts."""

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone

from accounts.models import MAX_RETENTION_DAYS, Tenant
from accounts.tests.factories import TenantFactory
from events import services
from events.management.commands import purge_expired
from events.models import DeletionReceipt, Event, EventLog
from events.services import deletion_create
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup


def _purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_expired", *args, stdout=out)
    return out.getvalue()


def _logs_aged(tenant, *days: float) -> None:
    """One log per age (in days), two events, spread over the hour so buckets are shared."""
    now = timezone.now()
    events = [EventFactory(tenant=tenant, name="a"), EventFactory(tenant=tenant, name="b")]
    for index, age in enumerate(days):
        when = now - dt.timedelta(days=age)
        EventLogFactory(event=events[index % 2], timestamp=when, count=index + 1)


@pytest.fixture
def kept_30_days(tenant):
    tenant.retention_days = 30
    tenant.save()
    _logs_aged(tenant, 400, 90, 31, 30.5, 29, 1, 0)
    return tenant


def test_purge_deletes_logs_older_than_the_retention_and_keeps_the_rollup_exact(
    kept_30_days, other_tenant
):
    _logs_aged(other_tenant, 400, 90)  # no retention period: kept forever
    theirs = rollup(other_tenant)

    output = _purge("--batch-size", "2")

    ages = EventLog.objects.filter(tenant=kept_30_days).values_list("timestamp", flat=True)
    assert all(timezone.now() - when < dt.timedelta(days=30) for when in ages)
    assert len(ages) == 3
    assert rollup(kept_30_days) == recount(kept_30_days)
    assert EventLog.objects.filter(tenant=other_tenant).count() == 2
    assert rollup(other_tenant) == theirs
    receipt = DeletionReceipt.objects.get()
    assert receipt.tenant == kept_30_days
    assert receipt.reason == "retention"
    assert receipt.actor == "system"
    assert receipt.events_deleted == 4
    assert receipt.filter["retention_days"] == 30
    # Batches of 2: progress after each, then the total.
    assert f"{kept_30_days.slug}: logs before" in output
    assert "2/4 deleted" in output
    assert "4/4 deleted" in output
    assert "4 expired log(s) deleted." in output


def test_progress_counts_expired_logs_that_came_in_during_the_purge(kept_30_days, monkeypatch):
    """4 expired at the start, 2 more sent (timed before the cutoff) while it ran: the
    progress said 6/4."""
    delete = purge_expired.expired_logs_delete

    def sent_meanwhile(**kwargs):
        event = Event.objects.get(tenant=kept_30_days, name="a")
        for age in (200, 100):
            EventLogFactory(event=event, timestamp=timezone.now() - dt.timedelta(days=age))
        return delete(**kwargs)

    monkeypatch.setattr(purge_expired, "expired_logs_delete", sent_meanwhile)

    output = _purge("--batch-size", "2")

    assert "4/4 deleted" in output
    assert "6 (4 at the start; more came in since) deleted" in output
    assert "6 expired log(s) deleted." in output


def test_purge_is_idempotent(kept_30_days):
    _purge()

    output = _purge()

    assert "none" in output
    assert "0 expired log(s) deleted." in output
    assert DeletionReceipt.objects.count() == 1
    assert EventLog.objects.filter(tenant=kept_30_days).count() == 3


def test_dry_run_counts_and_deletes_nothing(kept_30_days):
    output = _purge("--dry-run")

    assert "4 would be deleted" in output
    assert "4 expired log(s) would be deleted." in output
    assert EventLog.objects.filter(tenant=kept_30_days).count() == 7
    assert not DeletionReceipt.objects.exists()


@pytest.mark.django_db
def test_one_receipt_per_tenant_with_deletions():
    tenants = [TenantFactory(retention_days=days) for days in (7, 7, 7)]
    _logs_aged(tenants[0], 10, 20)
    _logs_aged(tenants[1], 1)
    _logs_aged(tenants[2], 8)

    _purge()

    receipts = DeletionReceipt.objects.order_by("tenant_id")
    assert [(r.tenant_id, r.events_deleted) for r in receipts] == [
        (tenants[0].pk, 2),
        (tenants[2].pk, 1),
    ]
    assert all(rollup(tenant) == recount(tenant) for tenant in tenants)


def test_a_blocked_tenants_logs_expire_too(kept_30_days):
    kept_30_days.is_active = False
    kept_30_days.save()

    _purge()

    assert EventLog.objects.filter(tenant=kept_30_days).count() == 3


def test_only_one_tenant_with_tenant_option(kept_30_days):
    elsewhere = TenantFactory(retention_days=1)
    _logs_aged(elsewhere, 5)

    _purge("--tenant", kept_30_days.slug)

    assert EventLog.objects.filter(tenant=kept_30_days).count() == 3
    assert EventLog.objects.filter(tenant=elsewhere).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--tenant", "nope"]])
def test_bad_options_are_errors(args):
    with pytest.raises(CommandError):
        _purge(*args)


@pytest.mark.django_db
def test_retention_days_must_be_positive_when_set():
    tenant = TenantFactory(retention_days=0)

    with pytest.raises(ValidationError, match="retention_days"):
        tenant.full_clean()


@pytest.mark.django_db
def test_retention_days_are_at_most_a_hundred_years():
    assert TenantFactory(retention_days=MAX_RETENTION_DAYS).full_clean() is None

    with pytest.raises(ValidationError, match="retention_days"):
        TenantFactory(retention_days=MAX_RETENTION_DAYS + 1).full_clean()


def test_a_retention_before_the_calendars_start_purges_nothing_and_stops_no_one(kept_30_days):
    """A row stored before the cap: its cutoff would be before year 1 (OverflowError)."""
    huge = TenantFactory()
    Tenant.objects.filter(pk=huge.pk).update(retention_days=1_000_000)
    _logs_aged(huge, 4000)

    out = _purge()

    assert f"{huge.slug}: retention before the calendar's start: none" in out
    assert EventLog.objects.filter(tenant=huge).count() == 1
    assert EventLog.objects.filter(tenant=kept_30_days).count() == 3


def test_logs_another_deletion_took_first_leave_no_receipt(kept_30_days, monkeypatch):
    """Counted, then deleted by a concurrent purge before this one's first chunk: the
    purge deleted nothing, and says so without an empty receipt."""
    real = purge_expired.expired_logs_delete

    def after_another_deletion(**kwargs):
        kwargs["logs"].delete()  # what the other process did meanwhile
        return real(**kwargs)

    monkeypatch.setattr(purge_expired, "expired_logs_delete", after_another_deletion)

    output = _purge()

    assert "none left to delete, no receipt" in output
    assert "0 expired log(s) deleted." in output
    assert not DeletionReceipt.objects.exists()


@pytest.mark.parametrize(("failing_chunk", "receipts"), [(1, []), (3, [2])])
def test_a_purge_that_fails_leaves_a_receipt_only_for_what_it_deleted(
    kept_30_days, monkeypatch, failing_chunk, receipts
):
    """A chunk that fails (a lock timeout) rolls back with its share of the receipt; the
    receipt is written with the first chunk that deletes, so none if that one failed."""
    real, chunks = services.hourly_counts_apply, []

    def failing(*args, **kwargs):
        chunks.append(1)
        if len(chunks) == failing_chunk:
            raise OperationalError("canceling statement due to lock timeout")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "hourly_counts_apply", failing)

    with pytest.raises(CommandError, match="The purge failed"):
        _purge("--batch-size", "1")

    assert list(DeletionReceipt.objects.values_list("events_deleted", flat=True)) == receipts
    assert EventLog.objects.filter(tenant=kept_30_days).count() == 7 - sum(receipts)
    assert rollup(kept_30_days) == recount(kept_30_days)


def test_a_deletion_a_user_asks_for_keeps_its_receipt_of_none(kept_30_days):
    """Only the retention job skips empty receipts: a request is answered with one."""
    receipt = deletion_create(
        tenant=kept_30_days,
        logs=EventLog.objects.filter(tenant=kept_30_days, distinct_id="nobody"),
        reason=DeletionReceipt.Reason.FILTER,
        filters={"distinct_id": "nobody"},
    )

    assert DeletionReceipt.objects.get().pk == receipt.pk
    assert receipt.events_deleted == 0
