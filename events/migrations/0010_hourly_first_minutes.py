"""The hourly rollup gains cumulative quarter-hour columns (first_15, first_30,
first_45), so zones with :15, :30 and :45 offsets are answered from it. Existing rows
get them by a rebuild from the raw logs (the sums stay the same; unfolded increments
are folded in), and the HourlyCountTotal view is recreated with the new columns."""

import datetime as dt

from django.db import migrations, models
from django.db.models import DateTimeField, Sum
from django.db.models.functions import ExtractMinute, Trunc
from django.db.models.lookups import LessThan

HOURLY_VIEW = """
CREATE VIEW events_hourlycounttotal AS
SELECT tenant_id, event_id, hour, count, first_15, first_30, first_45 FROM events_hourlycount
UNION ALL
SELECT tenant_id, event_id, hour, count, first_15, first_30, first_45
FROM events_hourlycountincrement
"""
OLD_HOURLY_VIEW = """
CREATE VIEW events_hourlycounttotal AS
SELECT tenant_id, event_id, hour, count FROM events_hourlycount
UNION ALL
SELECT tenant_id, event_id, hour, count FROM events_hourlycountincrement
"""
BATCH = 10_000


def rebuild_from_logs(apps, schema_editor):
    database = schema_editor.connection.alias
    EventLog = apps.get_model("events", "EventLog")
    HourlyCount = apps.get_model("events", "HourlyCount")
    HourlyCountIncrement = apps.get_model("events", "HourlyCountIncrement")
    HourlyCountIncrement.objects.using(database).all().delete()
    HourlyCount.objects.using(database).all().delete()
    minute = ExtractMinute("timestamp", tzinfo=dt.UTC)
    rows = (
        EventLog.objects.using(database)
        .order_by()
        .annotate(bucket=Trunc("timestamp", "hour", output_field=DateTimeField(), tzinfo=dt.UTC))
        .values_list("tenant_id", "event_id", "bucket")
        .annotate(
            total=Sum("count"),
            **{
                f"first_{m}": Sum("count", filter=LessThan(minute, m), default=0)
                for m in (15, 30, 45)
            },
        )
    )
    batch = []
    for tenant, event, hour, total, first_15, first_30, first_45 in rows.iterator(BATCH):
        batch.append(
            HourlyCount(
                tenant_id=tenant,
                event_id=event,
                hour=hour,
                count=total,
                first_15=first_15,
                first_30=first_30,
                first_45=first_45,
            )
        )
        if len(batch) == BATCH:
            HourlyCount.objects.using(database).bulk_create(batch)
            batch = []
    HourlyCount.objects.using(database).bulk_create(batch)


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0009_counter_increments'),
    ]

    operations = [
        migrations.RunSQL("DROP VIEW events_hourlycounttotal", OLD_HOURLY_VIEW),
        migrations.AddField(
            model_name='hourlycount',
            name='first_15',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-14.'),
        ),
        migrations.AddField(
            model_name='hourlycount',
            name='first_30',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-29.'),
        ),
        migrations.AddField(
            model_name='hourlycount',
            name='first_45',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-44.'),
        ),
        migrations.AddField(
            model_name='hourlycountincrement',
            name='first_15',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-14.'),
        ),
        migrations.AddField(
            model_name='hourlycountincrement',
            name='first_30',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-29.'),
        ),
        migrations.AddField(
            model_name='hourlycountincrement',
            name='first_45',
            field=models.BigIntegerField(default=0, db_default=0, help_text='Sum of counts in minutes 0-44.'),
        ),
        migrations.RunPython(rebuild_from_logs, migrations.RunPython.noop),
        migrations.RunSQL(HOURLY_VIEW, "DROP VIEW events_hourlycounttotal"),
    ]
