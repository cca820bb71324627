"""A rate of 0 is no longer a rate (core.rates): one stored before answered 429 to every
request for ever, and would now fail to parse on every request. It becomes 1/day, the
nearest rate that still parses, so no tenant stopped that way starts sending again
unseen: staff then block it (POST /api/admin/tenants/<id>/block) or lift the limit."""

import re

from django.db import migrations

ZERO = re.compile(r"^\s*0+\s*/")


def zero_rates_to_one_a_day(apps, schema_editor):
    Tenant = apps.get_model("accounts", "Tenant")
    for tenant in Tenant.objects.exclude(ingest_rate="", read_rate="").iterator():
        changed = [
            name for name in ("ingest_rate", "read_rate") if ZERO.match(getattr(tenant, name))
        ]
        for name in changed:
            setattr(tenant, name, "1/day")
        if changed:
            tenant.save(update_fields=changed)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0012_token_created_with_its_first_use")]

    operations = [migrations.RunPython(zero_rates_to_one_a_day, migrations.RunPython.noop)]
