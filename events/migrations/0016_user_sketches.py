"""HourlyUserSketch: HyperLogLog sketches of each closed UTC hour's distinct users, for
approximate active users over long ranges; and the `hll` extension that builds and
reads them, created when PostgreSQL has it and the migrating role may (else the
sketches stay empty and every answer is exact; `CREATE EXTENSION hll` later enables
them)."""

import django.db.models.deletion
from django.db import migrations, models

import core.sharding


def create_hll(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hll'), "
            "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hll'), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
        installed, available, superuser = cursor.fetchone()
        if available and superuser and not installed:
            cursor.execute("CREATE EXTENSION hll")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_tenant_web_settings'),
        ('events', '0015_web_pages'),
    ]

    operations = [
        migrations.CreateModel(
            name='HourlyUserSketch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField(help_text='Start of the UTC hour.')),
                ('users', models.BinaryField(help_text="hll_send() of the hour's hll_add_agg().")),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'hour'), name='hourlyusersketch_unique')],
            },
        ),
        core.sharding.TenantKeys(tables=['events_hourlyusersketch']),
        migrations.RunPython(create_hll, migrations.RunPython.noop),
    ]
