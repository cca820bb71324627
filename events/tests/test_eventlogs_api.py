"""`/api/eventlogs/`: ingestion of one event, idempotency, filters and tenant isolation."""

import datetime as dt

import pytest
from django.db.models import Sum

from events.models import Event, EventLog, HourlyCountTotal
from events.tests.factories import EventFactory, EventLogFactory

URL = "/api/eventlogs/"
LOG_FIELDS = {
    "id",
    "uuid",
    "event",
    "event_name",
    "timestamp",
    "received_at",
    "count",
    "distinct_id",
    "data",
}
SEED_BODY = {"event_name": "test", "data": {"amount": 50, "product_id": 2}}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# --- POST ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/eventlogs/", "/api/eventlogs"])
def test_post_seed_body_returns_201_with_all_fields(api_client, tenant, user, url):
    response = api_client.post(url, SEED_BODY)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == LOG_FIELDS
    assert body["event_name"] == "test"
    assert body["data"] == {"amount": 50, "product_id": 2}
    assert body["count"] == 1
    assert body["distinct_id"] == ""
    log = EventLog.objects.get(pk=body["id"])
    assert (log.tenant, log.event.tenant, log.created_by) == (tenant, tenant, user)
    assert body["event"] == log.event_id
    assert body["uuid"] == str(log.uuid)


def test_post_data_as_json_string_is_stored_as_object(api_client):
    # Seed 001's Python example sends `data` as a string holding a JSON object.
    body = {"event_name": "purchased", "data": '{"amount": 50, "product_id": 2}'}

    response = api_client.post(URL, body)

    assert response.status_code == 201
    assert response.json()["data"] == {"amount": 50, "product_id": 2}
    assert EventLog.objects.get().data == {"amount": 50, "product_id": 2}


def test_post_without_data_stores_empty_object(api_client):
    response = api_client.post(URL, {"event_name": "test"})

    assert response.status_code == 201
    assert EventLog.objects.get().data == {}


def test_post_without_timestamp_uses_receive_time(api_client):
    before = dt.datetime.now(dt.UTC)

    response = api_client.post(URL, {"event_name": "test"})

    log = EventLog.objects.get(pk=response.json()["id"])
    assert before <= log.timestamp == log.received_at <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        pytest.param("2024-03-01T12:30:00+02:00", utc(2024, 3, 1, 10, 30), id="offset"),
        pytest.param("2024-03-01T12:30:00Z", utc(2024, 3, 1, 12, 30), id="zulu"),
        pytest.param("2024-03-01T12:30:00", utc(2024, 3, 1, 12, 30), id="naive-is-utc"),
        pytest.param("2024-03-01 12:30:00", utc(2024, 3, 1, 12, 30), id="seed-000-format"),
        pytest.param("2024-03-01T12:30:00.250Z", utc(2024, 3, 1, 12, 30, 0, 250000), id="ms"),
        pytest.param(1709296200, utc(2024, 3, 1, 12, 30), id="unix-seconds"),
        pytest.param(1709296200.5, utc(2024, 3, 1, 12, 30, 0, 500000), id="unix-float"),
        pytest.param(None, None, id="null-means-now"),
    ],
)
def test_post_explicit_timestamp_is_stored_as_utc(api_client, sent, stored):
    response = api_client.post(URL, {"event_name": "test", "timestamp": sent})

    assert response.status_code == 201
    log = EventLog.objects.get()
    if stored is None:
        assert log.timestamp == log.received_at
    else:
        assert log.timestamp == stored
        assert response.json()["timestamp"] == stored.isoformat().replace("+00:00", "Z")


def test_post_same_uuid_twice_is_201_then_200_with_one_row(api_client):
    body = {**SEED_BODY, "uuid": "0190a4f8-0000-7000-8000-000000000001"}

    first = api_client.post(URL, body)
    second = api_client.post(URL, {**body, "data": {"amount": 999}})

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["data"] == {"amount": 50, "product_id": 2}
    assert EventLog.objects.count() == 1
    assert str(EventLog.objects.get().uuid) == body["uuid"]


def test_post_updates_hourly_count_once_per_uuid(api_client, tenant):
    body = {
        "event_name": "test",
        "count": 3,
        "timestamp": "2024-03-01T12:59:59Z",
        "uuid": "0190a4f8-0000-7000-8000-000000000002",
    }

    assert api_client.post(URL, body).status_code == 201
    assert api_client.post(URL, body).status_code == 200
    assert api_client.post(URL, {**body, "uuid": None, "count": 2}).status_code == 201

    buckets = HourlyCountTotal.objects.filter(tenant=tenant).values("hour").annotate(n=Sum("count"))
    assert [(bucket["hour"], bucket["n"]) for bucket in buckets] == [(utc(2024, 3, 1, 12), 5)]


def test_post_generates_distinct_uuids(api_client):
    first = api_client.post(URL, SEED_BODY).json()
    second = api_client.post(URL, SEED_BODY).json()

    assert first["uuid"] != second["uuid"]
    assert EventLog.objects.count() == 2


def test_post_count_and_distinct_id(api_client):
    response = api_client.post(URL, {"event_name": "test", "count": 7, "distinct_id": 42})

    assert response.status_code == 201
    log = EventLog.objects.get()
    assert (log.count, log.distinct_id) == (7, "42")


def test_post_unknown_event_creates_it(api_client, tenant):
    response = api_client.post(URL, {"event_name": "brand-new"})

    assert response.status_code == 201
    event = Event.objects.get(tenant=tenant, name="brand-new")
    assert response.json()["event"] == event.pk


def test_post_known_event_reuses_it(api_client, tenant):
    event = EventFactory(tenant=tenant, name="test")

    response = api_client.post(URL, SEED_BODY)

    assert response.json()["event"] == event.pk
    assert Event.objects.filter(tenant=tenant).count() == 1


def test_post_unknown_event_with_auto_create_off_is_400(api_client, tenant):
    tenant.auto_create_events = False
    tenant.save()

    response = api_client.post(URL, {"event_name": "brand-new"})

    assert response.status_code == 400
    assert "event_name" in response.json()
    assert not EventLog.objects.exists()
    assert not Event.objects.exists()


def test_post_known_event_with_auto_create_off_is_201(api_client, tenant):
    tenant.auto_create_events = False
    tenant.save()
    EventFactory(tenant=tenant, name="test")

    assert api_client.post(URL, SEED_BODY).status_code == 201


def test_post_query_count(api_client, tenant, django_assert_max_num_queries):
    EventFactory(tenant=tenant, name="test")

    # Token (with user and tenant), resolve event, write; SQLite adds a savepoint, its
    # release, the increments as separate inserts and the tenant re-read in the write's
    # transaction (the check PostgreSQL's one statement holds).
    with django_assert_max_num_queries(8):
        response = api_client.post(URL, SEED_BODY)

    assert response.status_code == 201


def test_post_new_event_query_count(api_client, django_assert_max_num_queries):
    # + create the event and read its id back.
    with django_assert_max_num_queries(10):
        response = api_client.post(URL, SEED_BODY)

    assert response.status_code == 201


# --- tenant isolation on POST -------------------------------------------------------


def test_post_name_of_other_tenants_event_creates_own_event(api_client, tenant, other_tenant):
    theirs = EventFactory(tenant=other_tenant, name="test", description="theirs")
    their_log = EventLogFactory(event=theirs, data={"x": 1})

    response = api_client.post(URL, SEED_BODY)

    assert response.status_code == 201
    mine = Event.objects.get(tenant=tenant, name="test")
    assert mine.pk != theirs.pk
    assert response.json()["event"] == mine.pk
    theirs.refresh_from_db()
    assert theirs.description == "theirs"
    assert list(EventLog.objects.filter(tenant=other_tenant)) == [their_log]
    assert list(theirs.logs.all()) == [their_log]


def test_post_uuid_used_by_other_tenant_is_accepted(api_client, tenant, other_tenant):
    their_log = EventLogFactory(event__tenant=other_tenant)

    response = api_client.post(URL, {"event_name": "test", "uuid": str(their_log.uuid)})

    assert response.status_code == 201
    assert response.json()["id"] != their_log.pk
    assert EventLog.objects.filter(uuid=their_log.uuid).count() == 2
    assert EventLog.objects.get(pk=their_log.pk).tenant == other_tenant


# --- GET list and filters -----------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()}


def test_list_is_empty_json_array(api_client):
    response = api_client.get(URL)

    assert response.json() == []
    assert response["X-Total-Count"] == "0"


def test_list_excludes_other_tenants_logs(api_client, tenant, other_tenant):
    mine = EventLogFactory(event__tenant=tenant)
    EventLogFactory(event__tenant=other_tenant)

    response = api_client.get(URL)

    assert _ids(response) == {mine.pk}
    assert set(response.json()[0]) == LOG_FIELDS


def test_list_paginates_with_link_header(api_client, tenant):
    EventLogFactory.create_batch(3, event__tenant=tenant)

    response = api_client.get("/api/eventlogs?limit=2")

    assert len(response.json()) == 2
    assert response["X-Total-Count"] == "3"
    assert 'rel="next"' in response["Link"]


def test_filter_by_event_name(api_client, tenant, other_tenant):
    click = EventLogFactory(event__tenant=tenant, event__name="click")
    EventLogFactory(event__tenant=tenant, event__name="view")
    EventLogFactory(event__tenant=other_tenant, event__name="click")

    assert _ids(api_client.get(URL, {"event_name": "click"})) == {click.pk}


def test_filter_by_distinct_id(api_client, tenant):
    event = EventFactory(tenant=tenant)
    alice = EventLogFactory(event=event, distinct_id="alice")
    EventLogFactory(event=event, distinct_id="bob")

    assert _ids(api_client.get(URL, {"distinct_id": "alice"})) == {alice.pk}


def test_filter_timestamp_range_is_half_open(api_client, tenant):
    event = EventFactory(tenant=tenant)
    before = EventLogFactory(event=event, timestamp=utc(2024, 1, 1, 9, 59, 59))
    at_start = EventLogFactory(event=event, timestamp=utc(2024, 1, 1, 10))
    inside = EventLogFactory(event=event, timestamp=utc(2024, 1, 1, 10, 30))
    at_end = EventLogFactory(event=event, timestamp=utc(2024, 1, 1, 11))

    params = {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T11:00:00Z"}

    assert _ids(api_client.get(URL, params)) == {at_start.pk, inside.pk}
    assert _ids(api_client.get(URL, {"end": params["end"]})) == {before.pk, at_start.pk, inside.pk}
    assert _ids(api_client.get(URL, {"start": params["start"]})) == {
        at_start.pk,
        inside.pk,
        at_end.pk,
    }


def test_filter_naive_datetime_means_utc(api_client, tenant):
    event = EventFactory(tenant=tenant)
    log = EventLogFactory(event=event, timestamp=utc(2024, 1, 1, 10))

    assert _ids(api_client.get(URL, {"start": "2024-01-01T10:00:00"})) == {log.pk}
    assert _ids(api_client.get(URL, {"start": "2024-01-01T10:00:01"})) == set()
    assert _ids(api_client.get(URL, {"start": "2024-01-01T11:00:00+01:00"})) == {log.pk}


def test_filter_received_range_is_half_open(api_client, tenant):
    event = EventFactory(tenant=tenant)
    early = EventLogFactory(event=event, received_at=utc(2024, 5, 1))
    at_start = EventLogFactory(event=event, received_at=utc(2024, 5, 2))
    EventLogFactory(event=event, received_at=utc(2024, 5, 3))

    params = {"received_start": "2024-05-02T00:00:00Z", "received_end": "2024-05-03T00:00:00Z"}

    assert _ids(api_client.get(URL, params)) == {at_start.pk}
    assert _ids(api_client.get(URL, {"received_end": "2024-05-02T00:00:00Z"})) == {early.pk}


@pytest.mark.parametrize("name", ["start", "end", "received_start", "received_end"])
def test_filter_bad_datetime_is_400_naming_it(api_client, name):
    response = api_client.get(URL, {name: "not-a-date"})

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Valid ISO 8601, but outside the UTC calendar: SQLite's adapter used to 500.
        ("start", "9999-12-31T23:59:59-01:00"),
        ("end", "0001-01-01T00:00:00+01:00"),
        ("received_start", "0001-01-01T00:00:00+14:00"),
        ("received_end", "9999-12-31T23:00:00-14:00"),
    ],
)
def test_filter_datetime_outside_utc_range_is_400_naming_it(api_client, tenant, name, value):
    EventLogFactory(event__tenant=tenant)

    response = api_client.get(URL, {name: value})

    assert response.status_code == 400
    assert name in response.json()


def test_filter_extreme_but_valid_datetimes(api_client, tenant):
    log = EventLogFactory(event__tenant=tenant)

    assert _ids(api_client.get(URL, {"start": "0001-01-01T00:00:00Z"})) == {log.pk}
    assert _ids(api_client.get(URL, {"end": "9999-12-31T23:59:59Z"})) == {log.pk}


def test_list_query_count_does_not_grow_with_logs(
    api_client, tenant, django_assert_max_num_queries
):
    for index in range(4):
        EventLogFactory.create_batch(3, event=EventFactory(tenant=tenant, name=f"e{index}"))

    # auth, count, page (events joined, no query per log).
    with django_assert_max_num_queries(3):
        response = api_client.get(URL)

    assert len(response.json()) == 12
    assert {row["event_name"] for row in response.json()} == {"e0", "e1", "e2", "e3"}


# --- retrieve -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/"])
def test_retrieve_log(api_client, tenant, suffix):
    log = EventLogFactory(event__tenant=tenant, event__name="click", data={"a": 1})

    response = api_client.get(f"/api/eventlogs/{log.pk}{suffix}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LOG_FIELDS
    assert (body["id"], body["event_name"], body["data"]) == (log.pk, "click", {"a": 1})
    assert body["uuid"] == str(log.uuid)


@pytest.mark.parametrize("suffix", ["", "/"])
def test_retrieve_other_tenants_log_is_404(api_client, other_tenant, suffix):
    theirs = EventLogFactory(event__tenant=other_tenant)

    assert api_client.get(f"/api/eventlogs/{theirs.pk}{suffix}").status_code == 404


@pytest.mark.parametrize("pk", ["999999", "abc", str(10**30)])
def test_retrieve_missing_log_is_404(api_client, pk):
    assert api_client.get(f"/api/eventlogs/{pk}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"event_name": "a"},
        {
            "event_name": "b",
            "timestamp": "2024-03-10T07:30:00.123456+02:00",
            "distinct_id": 42,
            "count": 3,
            "data": {"nested": {"list": [1, 2.5, None, "x"]}},
        },
    ],
)
def test_created_answer_equals_what_is_stored(api_client, body):
    # The 201 body is built from the inserted row, not read back: it must not differ.
    created = api_client.post("/api/eventlogs/", body, format="json")

    stored = api_client.get(f"/api/eventlogs/{created.json()['id']}")
    assert created.status_code == 201
    assert created.json() == stored.json()


def test_a_list_longer_than_the_count_cap_says_at_least(api_client, tenant, settings):
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "LIST_COUNT_CAP": 2}
    event = EventFactory(tenant=tenant)
    for _ in range(6):
        EventLogFactory(event=event)

    short = api_client.get("/api/eventlogs/?limit=5")  # counts up to 5 + 2 = 7 rows: all 6
    page = api_client.get("/api/eventlogs/?limit=2")  # counts up to 2 + 2 = 4 rows

    assert short["X-Total-Count"] == "6"
    assert (page["X-Total-Count-At-Least"], page.has_header("X-Total-Count")) == ("4", False)
    assert 'rel="next"' in page["Link"]
    assert len(page.json()) == 2


# Floats that PostgreSQL's jsonb (numeric) keeps as whole numbers past 64 bits.
BIG_FLOATS = {"x": 1.7976931348623157e308, "y": 1e21, "z": 1e19, "n": -1e19, "i": 2**63 - 1}
REPEATED_UUID = "6f1c1d0e-9a4c-4f7e-8a39-0c6f6a1d2b3c"


def test_big_floats_read_back_as_the_201_answered(api_client):
    """On every read the floats stay floats (an integer past 64 bits is refused on input,
    so the log could not be sent again); integers within 64 bits stay integers."""
    body = {"event_name": "bf", "data": BIG_FLOATS, "uuid": REPEATED_UUID}
    created = api_client.post(URL, body, format="json")
    repeated = api_client.post(URL, body, format="json")
    listed = api_client.get(URL)
    retrieved = api_client.get(f"{URL}{created.json()['id']}/")

    assert (created.status_code, repeated.status_code) == (201, 200)
    datas = [answer.json()["data"] for answer in (created, repeated, retrieved)]
    datas.append(listed.json()[0]["data"])
    datas.append(EventLog.objects.values_list("data", flat=True).get())  # as the export reads
    for data in datas:
        assert data == BIG_FLOATS
        assert {key: type(value) for key, value in data.items()} == {
            key: type(value) for key, value in BIG_FLOATS.items()
        }
    assert EventLog.objects.values_list("data__y", flat=True).get() == 1e21
    resent = api_client.post(URL, {"event_name": "bf", "data": datas[3]}, format="json")
    assert resent.status_code == 201, resent.content


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/eventlogs/", b'{"event_name": '),
        ("/api/eventlogs/", b'{"event_name": ""}'),
        ("/api/eventlogs/batch/", b'{"events": 3}'),
        ("/api/v1/events/signup", b"[1"),
    ],
)
@pytest.mark.parametrize(
    ("suffix", "accept"), [("", "text/html"), ("?format=api", "*/*"), ("", "text/html, */*")]
)
def test_an_ingestion_post_answers_json_even_to_a_browser(api_client, path, body, suffix, accept):
    """Machine endpoints: a browser's Accept or ?format=api gets the JSON error README
    documents, not the browsable API's HTML page."""
    response = api_client.generic(
        "POST", path + suffix, body, content_type="application/json", HTTP_ACCEPT=accept
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), dict)


def test_an_ingestion_post_stores_and_answers_json_to_a_browser(api_client):
    response = api_client.post(
        "/api/eventlogs/", {"event_name": "signup"}, format="json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 201
    assert response.json()["event_name"] == "signup"
    # The browsable API still shows the list.
    page = api_client.get("/api/eventlogs/", HTTP_ACCEPT="text/html")
    assert page["Content-Type"].startswith("text/html")
