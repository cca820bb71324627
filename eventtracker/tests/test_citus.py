"""On Citus (`make test-citus`): what concerns one tenant runs in one shard.

Citus answers a statement from one shard ("router" plan, `Task Count: 1`) when it can
tell that all its rows are one tenant's; otherwise it sends it to every shard, or
refuses it. With `citus.multi_task_query_log_level = error` any statement that needs
more than one shard fails, so a tenant's requests below pass only if each of their
statements (the ingest statement that Django does not log included) is routed to one
shard. Elsewhere these tests are skipped: the other passes have no shards.
"""

import datetime as dt
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from core.sharding import is_citus, placement
from events import rollups
from events.models import EventLog
from events.rollups import fold_counters
from events.tests.factories import EventFactory, EventLogFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
QUERY = {"event_name": "signup", "tz": "Asia/Kolkata"}
STATS = [
    "/api/stats/event_trend",
    "/api/stats/event_frequency",
    "/api/stats/hourly_distribution",
    "/api/stats/ingestion",
    "/api/stats/event_amount",
    "/api/stats/event_avg_per_user",
    "/api/stats/store_events_amount",
    "/api/stats/unique_users",
    "/api/stats/user_activity",
    "/api/stats/active_users",
]
# What each route takes of QUERY: ingestion and the store's total name no event, user
# activity no zone either (an unknown parameter is a 400).
QUERIES = dict.fromkeys(STATS, QUERY) | {
    "/api/stats/ingestion": {"tz": "Asia/Kolkata"},
    "/api/stats/store_events_amount": {"tz": "Asia/Kolkata"},
    "/api/stats/user_activity": {},
}
INSIGHTS = {
    "/api/query": {
        "metrics": ["events", "uniques", "sum:data.amount"],
        "breakdown": ["data.plan", "time:day"],
        "filters": [["eq", "event", "signup"]],
        "date_range": "7d",
        "limit": 1,
        "compare": "previous_period",
    },
    "/api/funnels": {"steps": ["signup", "signup"], "date_range": "7d", "breakdown": "data.plan"},
    "/api/retention": {"cohort": "signup", "period": "day", "periods": 3, "date_range": "7d"},
}


@pytest.fixture(autouse=True)
def _citus_only(db):
    if not is_citus():
        pytest.skip("Citus only: make test-citus")


def one_shard_per_statement() -> None:
    """From here to the end of the test's transaction, a multi-shard statement fails."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL citus.multi_task_query_log_level = 'error'")


def plan(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_no_join_may_move_rows_between_nodes():
    # Every join is answered inside a shard group, or Citus refuses it: none is allowed
    # to repartition (and the suite passes this way).
    with connection.cursor() as cursor:
        cursor.execute("SHOW citus.enable_repartition_joins")
        assert cursor.fetchone()[0] == "off"


def test_the_tables_are_placed_as_planned():
    reference, distributed = placement()
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name::text, citus_table_type FROM citus_tables")
        placed = dict(cursor.fetchall())

    assert {table: placed.get(table) for table in distributed} == dict.fromkeys(
        distributed, "distributed"
    )
    assert {table: placed.get(table) for table in reference} == dict.fromkeys(
        reference, "reference"
    )
    assert "events_eventlog" in distributed
    assert {"accounts_tenant", "accounts_user", "accounts_apikey"} <= set(reference)


def test_a_tenants_requests_touch_one_shard_each(api_client, tenant):
    event = EventFactory(tenant=tenant, name="signup")
    EventLogFactory(event=event, timestamp=NOW - dt.timedelta(days=1), distinct_id="u1")
    one_shard_per_statement()

    single = api_client.post("/api/eventlogs/", {"event_name": "signup", "distinct_id": "u2"})
    batch = api_client.post(
        "/api/eventlogs/batch/",
        {"events": [{"event_name": "signup", "uuid": str(uuid.uuid4())} for _ in range(3)]},
        format="json",
    )
    renamed = api_client.patch(f"/api/events/{event.pk}", {"description": "first visit"})
    reads = {url: api_client.get(url, QUERIES[url]).status_code for url in STATS}
    lists = [api_client.get(url).status_code for url in ("/api/events/", "/api/eventlogs/")]

    assert (single.status_code, batch.status_code, renamed.status_code) == (201, 200, 200)
    assert reads == dict.fromkeys(STATS, 200)
    assert lists == [200, 200]
    assert EventLog.objects.filter(tenant=tenant, event=event).count() == 5


def test_insights_touch_one_shard_each(api_client, tenant):
    event = EventFactory(tenant=tenant, name="signup")
    for day, user, plan in ((1, "u1", "pro"), (2, "u2", "free"), (2, "u1", "pro")):
        EventLogFactory(
            event=event,
            timestamp=NOW - dt.timedelta(days=day),
            distinct_id=user,
            data={"plan": plan, "amount": day},
        )
    one_shard_per_statement()

    answers = {
        route: api_client.post(route, body, format="json") for route, body in INSIGHTS.items()
    }
    insight = api_client.post(
        "/api/insights/",
        {"name": "q", "kind": "query", "definition": INSIGHTS["/api/query"]},
        format="json",
    ).json()
    board = api_client.post(
        "/api/dashboards/", {"name": "b", "insights": [insight["id"]]}, format="json"
    ).json()
    changed = api_client.patch(
        f"/api/dashboards/{board['id']}/", {"insights": [insight["id"]] * 2}, format="json"
    )
    shared = api_client.post(f"/api/dashboards/{board['id']}/share/")
    results = api_client.get(f"/api/insights/{insight['id']}/results.png?dashboard={board['id']}")
    lists = [api_client.get(f"/api/{name}/").status_code for name in ("insights", "dashboards")]
    note = api_client.post("/api/annotations/", {"at": NOW.isoformat(), "text": "x"}, format="json")

    assert {route: answer.status_code for route, answer in answers.items()} == dict.fromkeys(
        INSIGHTS, 200
    )
    assert answers["/api/query"].json()["total"]["uniques"] == 2
    assert changed.json()["insights"] == [insight["id"]] * 2
    assert (shared.status_code, results.status_code, lists, note.status_code) == (
        200,
        200,
        [200, 200],
        201,
    )


def test_web_analytics_touch_one_shard_each(api_client, tenant):
    _, secret = api_key_create(tenant=tenant, name="site", role="ingest")
    one_shard_per_statement()
    page = {"url": "https://shop.example/pricing?utm_source=news", "referrer": "https://t.co/x"}
    body = {"events": [{"event_name": "$pageview", "data": page}]}

    sent = APIClient().post(
        f"/site/e?key={secret}", body, format="json", HTTP_USER_AGENT=DESKTOP_CHROME
    )
    web = api_client.get("/api/stats/web", {"date_range": "7d", "compare": "previous_period"})
    realtime = api_client.get("/api/stats/web/realtime")

    assert (sent.status_code, web.status_code, realtime.status_code) == (200, 200, 200)
    assert (web.json()["pageviews"], web.json()["sources"][0]["value"]) == (1, "news")
    assert realtime.json()["visitors"] == 1


def test_the_fold_works_one_tenant_at_a_time(api_client, other_client):
    for client in (api_client, other_client):
        assert client.post("/api/eventlogs/", {"event_name": "signup"}).status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_hourlycountincrement")
        pending = cursor.fetchone()[0]
    assert pending == 2

    # Which tenants have increments is asked of every shard; each fold then stays in one.
    assert fold_counters() == 2 + 2  # the hourly increments and the ingestion ones


@pytest.mark.django_db(transaction=True)
def test_an_ingest_commits_on_one_node_in_one_phase(api_client, settings, monkeypatch):
    # Each request in a transaction of its own, as in a live server; Citus reports what
    # it sends to the workers. One shard group on one node: no two-phase commit, and
    # no rows carried through the coordinator as intermediate results. (The fold that
    # follows an ingest every few seconds is a job's work, across tenants: not here.)
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "FOLD_INTERVAL_SECONDS": 3600}
    monkeypatch.setattr(rollups, "_last_fold", time.monotonic())
    notices: list[str] = []
    connection.ensure_connection()
    connection.connection.add_notice_handler(lambda notice: notices.append(notice.message_primary))
    with connection.cursor() as cursor:
        cursor.execute("SET citus.log_remote_commands = on")
    try:
        single = api_client.post("/api/eventlogs/", {"event_name": "signup"})
        batch = api_client.post(
            "/api/eventlogs/batch/",
            {"events": [{"event_name": "signup", "uuid": str(uuid.uuid4())} for _ in range(3)]},
            format="json",
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET citus.log_remote_commands")
    sent = [notice for notice in notices if notice.startswith("issuing")]

    assert (single.status_code, batch.status_code) == (201, 200)
    assert any("INSERT INTO public.events_eventlog_" in command for command in sent)
    assert not [command for command in sent if "PREPARE TRANSACTION" in command]
    assert not [command for command in sent if "intermediate_result" in command]


def test_the_stats_statements_have_router_plans(api_client, tenant):
    EventLogFactory(event=EventFactory(tenant=tenant, name="signup"), timestamp=NOW)
    with CaptureQueriesContext(connection) as queries:
        for url in STATS:
            assert api_client.get(url, QUERIES[url]).status_code == 200
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith(("SELECT", "WITH")) and "events_" in query["sql"]
    ]

    assert statements
    for sql in statements:
        assert "Task Count: 1" in plan(sql), sql


@pytest.mark.django_db(transaction=True)
def test_deletes_by_id_then_a_reference_write_commit(api_client, tenant):
    # Django deletes a row by its id alone (every shard), then a signal or the service
    # writes a reference table (the tenant's versions, the user): each in a transaction
    # of its own here, as in a live server (a test's transaction hides the conflict).
    rule = api_client.post("/api/blocklist/", {"kind": "ip", "value": "10.0.0.1"}).json()
    assert api_client.post("/api/eventlogs/", {"event_name": "signup"}).status_code == 201
    event = api_client.get("/api/events/").json()[0]
    UserFactory(tenant=tenant, role="owner")  # the last owner may not delete their account

    deleted = [
        api_client.delete(f"/api/blocklist/{rule['id']}").status_code,
        api_client.delete(f"/api/events/{event['id']}").status_code,
        api_client.delete("/auth/users/me/", {"current_password": "alpine12"}).status_code,
    ]

    assert deleted == [204, 204, 204]
