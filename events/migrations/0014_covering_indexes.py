"""The two time-range indexes of the logs carry the user (and the id) along, so that
funnels, first occurrences and active users read the index alone (PostgreSQL; SQLite has
no INCLUDE and keeps the plain indexes). Built concurrently: ingestion goes on."""

from django.db import migrations, models

from core.indexes import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('events', '0013_tenant_primary_keys'),
    ]

    # The new indexes first, so that no moment is without one.
    operations = [
        AddIndexOnline(
            model_name='eventlog',
            index=models.Index(
                fields=['tenant', 'event', 'timestamp'],
                include=('distinct_id', 'id'),
                name='eventlog_tenant_event_ts_cover',
            ),
        ),
        AddIndexOnline(
            model_name='eventlog',
            index=models.Index(
                fields=['tenant', 'timestamp'],
                include=('distinct_id',),
                name='eventlog_tenant_ts_cover',
            ),
        ),
        RemoveIndexOnline(model_name='eventlog', name='eventlog_tenant_event_ts'),
        RemoveIndexOnline(model_name='eventlog', name='eventlog_tenant_ts'),
    ]
