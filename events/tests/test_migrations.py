"""Migrations upgrade a populated database in place: every row and count survives.

These tests migrate backwards first, which Citus cannot do once tables are distributed
(core.sharding.TenantKeys), so they run on SQLite and plain PostgreSQL only."""

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from events.models import Event, EventLog, HourlyCount, HourlyCountIncrement, HourlyCountTotal

pytestmark = pytest.mark.migrates_backwards
BEFORE_FIRST_MINUTES = [("events", "0009_counter_increments")]
BEFORE_TENANT_KEYS = [("events", "0012_tenant_joins"), ("stats", "0001_initial")]
HOUR = dt.datetime(2024, 5, 1, 18, tzinfo=dt.UTC)


def migrate(targets: list[tuple[str, str]]):
    """Migrate to `targets`; the apps (historical models) of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_the_quarter_hour_columns_are_filled_from_the_raw_logs():
    apps = migrate([n for n in latest() if n[0] != "events"] + BEFORE_FIRST_MINUTES)
    tenant = apps.get_model("accounts", "Tenant").objects.create(name="shop", slug="shop-1")
    event = apps.get_model("events", "Event").objects.create(tenant=tenant, name="click")
    EventLog = apps.get_model("events", "EventLog")
    for minute, count in ((5, 1), (20, 2), (40, 4), (50, 8), (65, 16)):
        at = HOUR + dt.timedelta(minutes=minute)
        EventLog.objects.create(
            tenant=tenant, event=event, uuid=uuid.uuid4(), timestamp=at, received_at=at, count=count
        )
    # The rollup as the old schema kept it: part folded, part still an increment.
    HourlyCount_ = apps.get_model("events", "HourlyCount")
    HourlyCount_.objects.create(tenant=tenant, event=event, hour=HOUR, count=10)
    HourlyCount_.objects.create(
        tenant=tenant, event=event, hour=HOUR + dt.timedelta(hours=1), count=16
    )
    apps.get_model("events", "HourlyCountIncrement").objects.create(
        tenant=tenant, event=event, hour=HOUR, count=5
    )

    try:
        migrate(latest())

        rows = HourlyCount.objects.filter(tenant_id=tenant.pk).order_by("hour")
        assert [(r.hour, r.count, r.first_15, r.first_30, r.first_45) for r in rows] == [
            (HOUR, 15, 1, 3, 7),
            (HOUR + dt.timedelta(hours=1), 16, 16, 16, 16),
        ]
        assert not HourlyCountIncrement.objects.exists()
        view = HourlyCountTotal.objects.filter(tenant_id=tenant.pk).values_list(
            "hour", "count", "first_30"
        )
        assert sorted(view) == [(HOUR, 15, 3), (HOUR + dt.timedelta(hours=1), 16, 16)]
    finally:
        migrate(latest())


def key_columns(table: str) -> tuple[list[str], dict[str, tuple[list[str], str]]]:
    """(primary key columns, {foreign key name: (columns, referenced table)}) of `table`."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    primary = next(info["columns"] for info in found.values() if info["primary_key"])
    foreign = {
        name: (info["columns"], info["foreign_key"][0])
        for name, info in found.items()
        if info["foreign_key"]
    }
    return primary, foreign


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tenant_keys_upgrade_a_populated_database_in_place():
    others = [n for n in latest() if n[0] not in {"events", "stats"}]
    apps = migrate(others + BEFORE_TENANT_KEYS)
    tenants = [
        apps.get_model("accounts", "Tenant").objects.create(name=f"shop {n}", slug=f"shop-{n}")
        for n in range(2)
    ]
    Event_, EventLog_ = apps.get_model("events", "Event"), apps.get_model("events", "EventLog")
    for tenant in tenants:
        event = Event_.objects.create(tenant=tenant, name="click")
        for minute in range(3):
            at = HOUR + dt.timedelta(minutes=minute)
            EventLog_.objects.create(
                tenant=tenant, event=event, uuid=uuid.uuid4(), timestamp=at, received_at=at
            )
        apps.get_model("events", "HourlyCount").objects.create(
            tenant=tenant, event=event, hour=HOUR, count=3
        )
    before = list(EventLog_.objects.order_by("id").values_list("id", "tenant_id", "event_id"))

    try:
        migrate(latest())

        after = EventLog.objects.order_by("id").values_list("id", "tenant_id", "event_id")
        assert list(after) == before
        assert [r.count for r in HourlyCount.objects.order_by("tenant_id")] == [3, 3]
        for table in ("events_event", "events_eventlog", "stats_useractivityperiod"):
            assert key_columns(table)[0] == ["tenant_id", "id"]
        event_keys = [
            columns
            for columns, target in key_columns("events_eventlog")[1].values()
            if target == "events_event"
        ]
        assert event_keys == [["tenant_id", "event_id"]]
        # The composite key holds: a log cannot name another tenant's event.
        other_event = Event.objects.get(tenant_id=tenants[1].pk)
        with pytest.raises(IntegrityError), transaction.atomic():
            EventLog.objects.create(
                tenant_id=tenants[0].pk, event=other_event, timestamp=HOUR, received_at=HOUR
            )
    finally:
        migrate(latest())
