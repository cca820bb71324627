"""Primary keys (tenant_id, id) on every table of the events app, and the event
relations as (tenant_id, event_id) → (tenant_id, id): what a database sharded by
tenant needs (core.sharding). PostgreSQL only; SQLite keeps its keys."""

from django.db import migrations

import core.sharding


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0012_tenant_joins'),
    ]

    operations = [
        core.sharding.TenantKeys(
            tables=[
                'events_event',
                'events_eventlog',
                'events_hourlycount',
                'events_dailycount',
                'events_deletionreceipt',
                'events_ingestioncount',
                'events_hourlycountincrement',
                'events_ingestioncountincrement',
                'events_blockrule',
            ],
            relations=[
                ('events_eventlog', 'event_id', 'events_event'),
                ('events_hourlycount', 'event_id', 'events_event'),
                ('events_dailycount', 'event_id', 'events_event'),
                ('events_hourlycountincrement', 'event_id', 'events_event'),
            ],
        ),
    ]
