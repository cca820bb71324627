"""BRIN index on EventLog.timestamp, PostgreSQL only.

Logs arrive roughly in time order, so a BRIN index (a few pages for millions of
rows) lets range scans over a tenant-less time window skip most of the table.
SQLite has no BRIN; the B-tree indexes that lead with tenant_id serve it there.
"""

from django.db import migrations

INDEX = "eventlog_timestamp_brin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_eventlog USING brin (timestamp)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("events", "0002_hourlycount")]

    operations = [migrations.RunPython(create, drop)]
