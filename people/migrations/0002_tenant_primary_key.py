"""Primary key (tenant_id, id), for a database sharded by tenant (core.sharding)."""

from django.db import migrations

import core.sharding


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0001_initial'),
    ]

    operations = [
        core.sharding.TenantKeys(tables=['people_person']),
    ]
