"""What each import brought, per day, dimension and number (ImportedMetric): a later import
leaves out only those, instead of every day between an earlier import's first and last.
The imports made before brought every number of the days and dimensions they stored."""

import accounts.tenancy
import core.sharding
import django.db.models.deletion
from django.db import migrations, models


METRICS = ("visitors", "visits", "pageviews", "bounces", "visit_duration")


def metrics_of_earlier_imports(apps, schema_editor):
    ImportedDay = apps.get_model("webimports", "ImportedDay")
    ImportedMetric = apps.get_model("webimports", "ImportedMetric")
    brought = (
        ImportedDay.objects.order_by()
        .values_list("tenant_id", "web_import_id", "date", "dimension")
        .distinct()
    )
    batch = []
    for tenant, web_import, date, dimension in brought.iterator(chunk_size=2000):
        batch += [
            ImportedMetric(
                tenant_id=tenant, web_import_id=web_import, date=date, dimension=dimension,
                metric=metric,
            )
            for metric in METRICS
        ]
        if len(batch) >= 2000:
            ImportedMetric.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    ImportedMetric.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0011_tenant_retention_days_max'),
        ('webimports', '0002_tenant_primary_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='ImportedMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField()),
                ('dimension', models.CharField(choices=[('visitors', "the day's totals"), ('pages', 'a page (visitors, page views)'), ('entry_pages', "a visit's first page"), ('exit_pages', "a visit's last page"), ('sources', "a visit's source"), ('channels', "a visit's channel"), ('utm_sources', "a visit's utm_source"), ('utm_mediums', "a visit's utm_medium"), ('utm_campaigns', "a visit's utm_campaign"), ('countries', "a visit's country (ISO 3166-1 alpha-2)"), ('devices', "a visit's device type"), ('browsers', "a visit's browser"), ('oses', "a visit's operating system")], max_length=16)),
                ('metric', models.CharField(max_length=16)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
                ('web_import', accounts.tenancy.TenantForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='metrics', to='webimports.webimport')),
            ],
            options={
                'indexes': [models.Index(fields=['tenant', 'web_import'], name='importedmetric_tenant_import')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'date', 'dimension', 'metric'), name='importedmetric_once')],
            },
        ),
        core.sharding.TenantKeys(
            tables=['webimports_importedmetric'],
            relations=[('webimports_importedmetric', 'web_import_id', 'webimports_webimport')],
        ),
        migrations.RunPython(metrics_of_earlier_imports, migrations.RunPython.noop),
    ]
