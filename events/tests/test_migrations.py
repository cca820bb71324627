"""Migrations upgrade a populated database in place: every row and count survives."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from events.models import HourlyCount, HourlyCountIncrement, HourlyCountTotal

BEFORE_FIRST_MINUTES = [("events", "0009_counter_increments")]
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
