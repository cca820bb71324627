"""DailyCount: the hourly rollup by UTC day, with the counts before each hour of the
day, kept by the fold; its view adds the hourly increments not folded yet. Filled here
from the folded hourly rows."""

import django.db.models.deletion
from django.db import migrations, models


def day_columns(vendor: str) -> str:
    """SQL of DailyCount's day, count and before_<h> from the rows of an hourly table."""
    if vendor == "postgresql":
        day, hour = "(hour AT TIME ZONE 'UTC')::date", "extract(hour FROM hour AT TIME ZONE 'UTC')"
    else:
        day, hour = "date(hour)", "CAST(strftime('%H', hour) AS INTEGER)"
    before = [f"CASE WHEN {hour} < {h} THEN count ELSE 0 END" for h in range(1, 24)]
    return day, before


def create_view_and_fill(apps, schema_editor):
    day, before = day_columns(schema_editor.connection.vendor)
    names = ", ".join(f"before_{h}" for h in range(1, 24))
    schema_editor.execute(
        "CREATE VIEW events_dailycounttotal AS "
        f"SELECT tenant_id, event_id, day, count, {names} FROM events_dailycount UNION ALL "
        f"SELECT tenant_id, event_id, {day} AS day, count, "
        + ", ".join(f"{sql} AS before_{h}" for h, sql in enumerate(before, start=1))
        + " FROM events_hourlycountincrement"
    )
    schema_editor.execute(
        f"INSERT INTO events_dailycount (tenant_id, event_id, day, count, {names}) "
        f"SELECT tenant_id, event_id, {day}, SUM(count), "
        + ", ".join(f"SUM({sql})" for sql in before)
        + f" FROM events_hourlycount GROUP BY tenant_id, event_id, {day}"
    )


def drop_view(apps, schema_editor):
    schema_editor.execute("DROP VIEW events_dailycounttotal")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0009_user_role'),
        ('events', '0010_hourly_first_minutes'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyCountTotal',
            fields=[
                ('before_1', models.BigIntegerField(default=0, help_text='Sum of counts before 01:00 UTC.')),
                ('before_2', models.BigIntegerField(default=0, help_text='Sum of counts before 02:00 UTC.')),
                ('before_3', models.BigIntegerField(default=0, help_text='Sum of counts before 03:00 UTC.')),
                ('before_4', models.BigIntegerField(default=0, help_text='Sum of counts before 04:00 UTC.')),
                ('before_5', models.BigIntegerField(default=0, help_text='Sum of counts before 05:00 UTC.')),
                ('before_6', models.BigIntegerField(default=0, help_text='Sum of counts before 06:00 UTC.')),
                ('before_7', models.BigIntegerField(default=0, help_text='Sum of counts before 07:00 UTC.')),
                ('before_8', models.BigIntegerField(default=0, help_text='Sum of counts before 08:00 UTC.')),
                ('before_9', models.BigIntegerField(default=0, help_text='Sum of counts before 09:00 UTC.')),
                ('before_10', models.BigIntegerField(default=0, help_text='Sum of counts before 10:00 UTC.')),
                ('before_11', models.BigIntegerField(default=0, help_text='Sum of counts before 11:00 UTC.')),
                ('before_12', models.BigIntegerField(default=0, help_text='Sum of counts before 12:00 UTC.')),
                ('before_13', models.BigIntegerField(default=0, help_text='Sum of counts before 13:00 UTC.')),
                ('before_14', models.BigIntegerField(default=0, help_text='Sum of counts before 14:00 UTC.')),
                ('before_15', models.BigIntegerField(default=0, help_text='Sum of counts before 15:00 UTC.')),
                ('before_16', models.BigIntegerField(default=0, help_text='Sum of counts before 16:00 UTC.')),
                ('before_17', models.BigIntegerField(default=0, help_text='Sum of counts before 17:00 UTC.')),
                ('before_18', models.BigIntegerField(default=0, help_text='Sum of counts before 18:00 UTC.')),
                ('before_19', models.BigIntegerField(default=0, help_text='Sum of counts before 19:00 UTC.')),
                ('before_20', models.BigIntegerField(default=0, help_text='Sum of counts before 20:00 UTC.')),
                ('before_21', models.BigIntegerField(default=0, help_text='Sum of counts before 21:00 UTC.')),
                ('before_22', models.BigIntegerField(default=0, help_text='Sum of counts before 22:00 UTC.')),
                ('before_23', models.BigIntegerField(default=0, help_text='Sum of counts before 23:00 UTC.')),
                ('day', models.DateField(primary_key=True, serialize=False)),
                ('count', models.BigIntegerField()),
            ],
            options={
                'db_table': 'events_dailycounttotal',
                'managed': False,
            },
        ),
        migrations.CreateModel(
            name='DailyCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('before_1', models.BigIntegerField(default=0, help_text='Sum of counts before 01:00 UTC.')),
                ('before_2', models.BigIntegerField(default=0, help_text='Sum of counts before 02:00 UTC.')),
                ('before_3', models.BigIntegerField(default=0, help_text='Sum of counts before 03:00 UTC.')),
                ('before_4', models.BigIntegerField(default=0, help_text='Sum of counts before 04:00 UTC.')),
                ('before_5', models.BigIntegerField(default=0, help_text='Sum of counts before 05:00 UTC.')),
                ('before_6', models.BigIntegerField(default=0, help_text='Sum of counts before 06:00 UTC.')),
                ('before_7', models.BigIntegerField(default=0, help_text='Sum of counts before 07:00 UTC.')),
                ('before_8', models.BigIntegerField(default=0, help_text='Sum of counts before 08:00 UTC.')),
                ('before_9', models.BigIntegerField(default=0, help_text='Sum of counts before 09:00 UTC.')),
                ('before_10', models.BigIntegerField(default=0, help_text='Sum of counts before 10:00 UTC.')),
                ('before_11', models.BigIntegerField(default=0, help_text='Sum of counts before 11:00 UTC.')),
                ('before_12', models.BigIntegerField(default=0, help_text='Sum of counts before 12:00 UTC.')),
                ('before_13', models.BigIntegerField(default=0, help_text='Sum of counts before 13:00 UTC.')),
                ('before_14', models.BigIntegerField(default=0, help_text='Sum of counts before 14:00 UTC.')),
                ('before_15', models.BigIntegerField(default=0, help_text='Sum of counts before 15:00 UTC.')),
                ('before_16', models.BigIntegerField(default=0, help_text='Sum of counts before 16:00 UTC.')),
                ('before_17', models.BigIntegerField(default=0, help_text='Sum of counts before 17:00 UTC.')),
                ('before_18', models.BigIntegerField(default=0, help_text='Sum of counts before 18:00 UTC.')),
                ('before_19', models.BigIntegerField(default=0, help_text='Sum of counts before 19:00 UTC.')),
                ('before_20', models.BigIntegerField(default=0, help_text='Sum of counts before 20:00 UTC.')),
                ('before_21', models.BigIntegerField(default=0, help_text='Sum of counts before 21:00 UTC.')),
                ('before_22', models.BigIntegerField(default=0, help_text='Sum of counts before 22:00 UTC.')),
                ('before_23', models.BigIntegerField(default=0, help_text='Sum of counts before 23:00 UTC.')),
                ('day', models.DateField(help_text='The UTC day.')),
                ('count', models.BigIntegerField(default=0)),
                ('event', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.event')),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['tenant', 'day'], name='dailycount_tenant_day')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'event', 'day'), name='dailycount_unique_day')],
            },
        ),
        migrations.RunPython(create_view_and_fill, drop_view),
    ]
