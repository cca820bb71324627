"""Primary keys (tenant_id, id) and tenant-matched relations, for a database sharded by
tenant (core.sharding)."""

from django.db import migrations

import core.sharding


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0001_initial'),
    ]

    operations = [
        core.sharding.TenantKeys(
            tables=[
                'insights_insight',
                'insights_dashboard',
                'insights_dashboardtile',
            ],
            relations=[
                ('insights_dashboardtile', 'dashboard_id', 'insights_dashboard'),
                ('insights_dashboardtile', 'insight_id', 'insights_insight'),
            ],
        ),
    ]
