"""Primary key (tenant_id, id), for a database sharded by tenant (core.sharding)."""

from django.db import migrations

import core.sharding


class Migration(migrations.Migration):

    dependencies = [
        ('stats', '0003_annotation'),
    ]

    operations = [
        core.sharding.TenantKeys(tables=['stats_annotation']),
    ]
