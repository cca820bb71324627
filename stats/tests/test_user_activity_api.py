"""Seed 004's reads: `GET /api/stats/user_activity` (the computed periods) and the event
logs of one user by record time (`GET /api/eventlogs/?distinct_id=&received_start=…`)."""

import datetime as dt

import pytest
from django.utils import timezone

from events.models import Event
from events.tests.factories import EventLogFactory
from stats.services import user_activity_compute

URL = "/api/stats/user_activity"
# Token lookup (with user and tenant), the total count, one page.
LIST_QUERIES = 3


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 5, day, hour, tzinfo=dt.UTC)


def iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def log(tenant, when: dt.datetime, user: str, *, count: int = 1, received=None):
    event, _ = Event.objects.get_or_create(tenant=tenant, name="e")
    return EventLogFactory(
        event=event, timestamp=when, distinct_id=user, count=count, received_at=received or when
    )


def period(user: str, start: dt.datetime, events: int) -> dict:
    return {
        "distinct_id": user,
        "period_start": iso(start),
        "period_end": iso(start + dt.timedelta(hours=4)),
        "events": events,
    }


@pytest.fixture
def activity(tenant, other_tenant):
    """alice and bob on May 1st and 2nd; the other tenant has an alice too."""
    log(tenant, at(1, 1), "bob")
    log(tenant, at(1, 2), "alice", count=3)
    log(tenant, at(1, 9), "alice")
    log(tenant, at(2, 1), "alice", count=2)
    log(tenant, at(1, 2), "")  # anonymous: not a user
    log(other_tenant, at(1, 2), "alice", count=50)
    log(other_tenant, at(1, 5), "carol")
    user_activity_compute(now=at(3))


# --- the list ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, f"{URL}/"])
@pytest.mark.usefixtures("activity")
def test_lists_the_periods_of_the_tenant_in_order(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Total-Count"] == "4"
    assert response.json() == [
        period("alice", at(1, 0), 3),
        period("bob", at(1, 0), 1),
        period("alice", at(1, 8), 1),
        period("alice", at(2, 0), 2),
    ]


@pytest.mark.usefixtures("activity")
def test_the_other_tenant_sees_only_its_own_periods(other_client):
    response = other_client.get(URL, {"distinct_id": "alice"})

    assert response.json() == [period("alice", at(1, 0), 50)]
    assert other_client.get(URL, {"distinct_id": "bob"}).json() == []


@pytest.mark.usefixtures("activity")
def test_filters_by_user_and_by_period_start_half_open(api_client):
    one_user = {"distinct_id": "alice"}
    first_day = {"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T08:00:00Z"}

    assert api_client.get(URL, one_user).json() == [
        period("alice", at(1, 0), 3),
        period("alice", at(1, 8), 1),
        period("alice", at(2, 0), 2),
    ]
    assert api_client.get(URL, {**one_user, **first_day}).json() == [period("alice", at(1, 0), 3)]
    # start is a period's start: included; end too: excluded. Naive means UTC.
    assert api_client.get(URL, {"start": "2024-05-01T08:00:00", "end": "2024-05-02"}).json() == [
        period("alice", at(1, 8), 1)
    ]
    assert api_client.get(URL, {"start": "2024-05-01T10:00:00+02:00"}).json() == [
        period("alice", at(1, 8), 1),
        period("alice", at(2, 0), 2),
    ]
    assert api_client.get(URL, {"distinct_id": "nobody"}).json() == []


@pytest.mark.usefixtures("activity")
def test_pages_with_link_and_total_count(api_client):
    response = api_client.get(URL, {"limit": 3})

    assert len(response.json()) == 3
    assert response["X-Total-Count"] == "4"
    assert 'rel="next"' in response["Link"]
    rest = api_client.get(URL, {"limit": 3, "offset": 3})
    assert rest.json() == [period("alice", at(2, 0), 2)]


def test_a_late_event_shows_after_the_next_run(api_client, tenant):
    log(tenant, at(1, 1), "alice")
    user_activity_compute(now=at(3))
    log(tenant, at(1, 2), "alice", count=4, received=at(3, 1))

    before = api_client.get(URL).json()
    user_activity_compute(now=at(3, 2))

    assert before == [period("alice", at(1, 0), 1)]
    assert api_client.get(URL).json() == [period("alice", at(1, 0), 5)]


def test_from_ingestion_to_the_list(api_client):
    day = (timezone.now() - dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    def send(*events: tuple[str, int, int]) -> None:
        items = [
            {
                "event_name": "click",
                "distinct_id": user,
                "timestamp": iso(day + dt.timedelta(hours=hour)),
                "count": count,
            }
            for user, hour, count in events
        ]
        response = api_client.post("/api/eventlogs/batch/", {"events": items})
        assert response.json()["accepted"] == len(items), response.content

    send(("user-6", 1, 2), ("user-6", 5, 1), ("", 1, 9))
    user_activity_compute(now=timezone.now())
    first = api_client.get(URL).json()
    send(("user-6", 3, 4))  # late: its period is already computed
    user_activity_compute(now=timezone.now())

    assert first == [period("user-6", day, 2), period("user-6", day + dt.timedelta(hours=4), 1)]
    assert api_client.get(URL).json() == [
        period("user-6", day, 6),
        period("user-6", day + dt.timedelta(hours=4), 1),
    ]


# --- bad parameters ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["start", "end"])
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",
        # Python 3.11's fromisoformat, which Django's parse_datetime tries first, takes
        # a trailing NUL.
        "2026-11-10T00:00:00Z\x00",
        "2026-11-10T00:00:00\x00",
        "2026-11-10 00:00+01:00\x00",
    ],
)
def test_a_bad_datetime_is_400_naming_it(api_client, name, value):
    response = api_client.get(URL, {name: value})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert name in response.json()


def test_end_before_start_is_400(api_client):
    response = api_client.get(URL, {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01"})

    assert response.status_code == 400
    assert "end" in response.json()


@pytest.mark.usefixtures("activity")
def test_empty_parameters_are_no_filter(api_client):
    # As in every list's filters (and an HTML form's empty fields); nobody's id is "".
    response = api_client.get(URL, {"distinct_id": "", "start": "", "end": ""})

    assert response.status_code == 200
    assert response["X-Total-Count"] == "4"


# --- credentials ---------------------------------------------------------------------


def test_without_credentials_is_401(anon_client):
    response = anon_client.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"]
    assert "detail" in response.json()


@pytest.mark.parametrize(("role", "status"), [("read", 200), ("admin", 200), ("ingest", 403)])
@pytest.mark.usefixtures("activity")
def test_api_key_roles(key_client, role, status):
    response = key_client(role).get(URL)

    assert response.status_code == status, response.content
    if status == 200:
        assert len(response.json()) == 4


def test_it_is_read_only(api_client):
    assert api_client.post(URL, {}).status_code == 405


@pytest.mark.usefixtures("activity")
def test_query_count_is_pinned(api_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(LIST_QUERIES):
        response = api_client.get(URL, {"distinct_id": "alice", "start": "2024-05-01"})

    assert len(response.json()) == 3


# --- seed 004's event list: one user, by record time --------------------------------------


def test_event_logs_of_one_user_by_received_time(api_client, tenant, other_tenant):
    inside = log(tenant, at(1, 3), "user-6", received=at(10, 12))
    log(tenant, at(1, 3), "user-6", received=at(9, 23))  # received before the range
    log(tenant, at(1, 3), "user-6", received=at(11, 0))  # at its end: excluded
    log(tenant, at(10, 1), "user-7", received=at(10, 12))  # another user
    log(other_tenant, at(1, 3), "user-6", received=at(10, 12))  # another tenant

    response = api_client.get(
        "/api/eventlogs/",
        {"distinct_id": "user-6", "received_start": iso(at(10)), "received_end": iso(at(11))},
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [inside.pk]
