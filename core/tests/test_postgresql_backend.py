"""core.backends.postgresql: the connection health check without a round trip, and the
ingest write prepared on its connection (DATABASE_PREPARE_THRESHOLD)."""

import datetime as dt
import time
from contextlib import closing

import psycopg
import pytest
from django.db import connection

from core.sharding import is_sharded
from events.services import event_logs_ingest
from events.tests.factories import EventFactory
from events.validation import EventInput

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def other_connection() -> psycopg.Connection:
    """A second session on the test database, to watch or end the first one."""
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"],
        port=s["PORT"], autocommit=True,
    )  # fmt: skip


def last_statement(watcher: psycopg.Connection, pid: int) -> str:
    return watcher.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def start_of_request() -> None:
    """What Django does before a request's first query on a reused connection."""
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_quiet_connection_passes_the_health_check_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query of the previous request'")
    pid = connection.connection.info.backend_pid

    start_of_request()

    assert connection.health_check_enabled
    assert connection.connection is not None
    with closing(other_connection()) as watcher:
        # Django's own backend would have sent SELECT 1 here.
        assert last_statement(watcher, pid) == "SELECT 'the last query of the previous request'"


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it():
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    with closing(other_connection()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s::integer)", [old_pid])
    deadline = time.monotonic() + 10
    while not connection.server_spoke() and time.monotonic() < deadline:
        time.sleep(0.01)  # the termination notice is on its way

    start_of_request()

    assert connection.connection is None  # closed: the next query opens a new one
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_the_ingest_statement_is_prepared_on_its_connection(tenant):
    EventFactory(tenant=tenant, name="signup")
    now = dt.datetime.now(dt.UTC)
    for _ in range(3):
        event_logs_ingest(
            tenant=tenant, items=[EventInput("signup", timestamp=now)], created_by=None, now=now
        )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH logs AS (%%'"
        )
        # Citus: each write goes to its tenant's shard as VALUES inserts, which Django binds
        # on the client (events.bulk): nothing to prepare.
        assert cursor.fetchone()[0] == (0 if is_sharded() else 1)
