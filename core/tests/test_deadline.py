"""The stats deadline: a query past STATS_STATEMENT_TIMEOUT_MS is stopped by the database
itself (statement_timeout, or SQLite's progress handler) and the request answers 503
with Retry-After; the limit ends with the request."""

import datetime as dt

import pytest
from django.db import OperationalError, connection

from core.deadline import statement_deadline
from core.exceptions import database_unavailable
from events.models import EventLog
from events.tests.factories import EventFactory

pytestmark = pytest.mark.django_db
SLOW_SQL = {
    "postgresql": "SELECT pg_sleep(2)",
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000000) "
        "SELECT count(*) FROM c"
    ),
}


def _run(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()


def test_a_query_past_the_deadline_is_stopped_as_unavailable():
    with pytest.raises(OperationalError) as caught, statement_deadline(50):
        _run(SLOW_SQL[connection.vendor])

    assert database_unavailable(caught.value)


def _settings(*names: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setting FROM pg_settings WHERE name = ANY(%s) ORDER BY name", [list(names)]
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_limit_ends_with_the_block(settings):
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "STATS_WORK_MEM": "48MB"}
    if connection.vendor == "postgresql":
        before = _settings("jit", "statement_timeout", "work_mem")
        with statement_deadline(5000):
            # jit off; statement_timeout and work_mem as pg_settings shows them (ms, kB).
            assert _settings("jit", "statement_timeout", "work_mem") == ["off", "5000", "49152"]
        assert _settings("jit", "statement_timeout", "work_mem") == before
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
    else:
        _run(SLOW_SQL["sqlite"].replace("50000000", "300000"))  # not interrupted now


def test_a_stats_request_over_the_deadline_answers_503_with_retry_after(
    api_client, tenant, settings
):
    event = EventFactory(tenant=tenant, name="busy")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    EventLog.objects.bulk_create(
        EventLog(
            tenant=tenant,
            event=event,
            timestamp=start + dt.timedelta(minutes=i),
            received_at=start,
            distinct_id=f"u{i % 97}",
        )
        for i in range(20_000)
    )
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "STATS_STATEMENT_TIMEOUT_MS": 1}

    # Per-user averages always read the raw rows: 20,000 of them take well over 1 ms.
    slow = api_client.get("/api/stats/event_avg_per_user", {"event_name": "busy"})
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "STATS_STATEMENT_TIMEOUT_MS": 15_000}
    fine = api_client.get("/api/stats/event_avg_per_user", {"event_name": "busy"})

    assert slow.status_code == 503
    assert int(slow["Retry-After"]) > 0
    assert "unavailable" in slow.json()["detail"]
    assert fine.status_code == 200
