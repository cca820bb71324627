"""Primary keys (tenant_id, id) and tenant-matched relations, for a database sharded by
tenant (core.sharding)."""

from django.db import migrations

import core.sharding


class Migration(migrations.Migration):

    dependencies = [
        ('webimports', '0001_initial'),
    ]

    operations = [
        core.sharding.TenantKeys(
            tables=['webimports_webimport', 'webimports_importedday'],
            relations=[('webimports_importedday', 'web_import_id', 'webimports_webimport')],
        ),
    ]
