"""DailyCount: the hourly rollup by UTC day, kept by the fold, and its view with the
hourly increments not folded yet. Filled here from the folded hourly rows."""

import django.db.models.deletion
from django.db import migrations, models


def utc_day(vendor: str) -> str:
    """SQL for the UTC day of the `hour` column."""
    return "(hour AT TIME ZONE 'UTC')::date" if vendor == "postgresql" else "date(hour)"


def create_view_and_fill(apps, schema_editor):
    day = utc_day(schema_editor.connection.vendor)
    schema_editor.execute(
        "CREATE VIEW events_dailycounttotal AS "
        "SELECT tenant_id, event_id, day, count FROM events_dailycount UNION ALL "
        f"SELECT tenant_id, event_id, {day} AS day, count FROM events_hourlycountincrement"
    )
    schema_editor.execute(
        "INSERT INTO events_dailycount (tenant_id, event_id, day, count) "
        f"SELECT tenant_id, event_id, {day}, SUM(count) FROM events_hourlycount "
        f"GROUP BY tenant_id, event_id, {day}"
    )


def drop_view(apps, schema_editor):
    schema_editor.execute("DROP VIEW events_dailycounttotal")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_user_role"),
        ("events", "0010_hourly_first_minutes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyCountTotal",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
                ("count", models.BigIntegerField()),
            ],
            options={
                "db_table": "events_dailycounttotal",
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="DailyCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(help_text="The UTC day.")),
                ("count", models.BigIntegerField(default=0)),
                (
                    "event",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="events.event",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.tenant",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["tenant", "day"], name="dailycount_tenant_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "event", "day"), name="dailycount_unique_day"
                    )
                ],
            },
        ),
        migrations.RunPython(create_view_and_fill, drop_view),
    ]
