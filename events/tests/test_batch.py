"""POST /api/eventlogs/batch/: one receipt per item, exactly-once storage, clock skew."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connections
from django.db.models import Sum
from rest_framework.test import APIClient

from events import services
from events.bulk import COPY_MIN_ROWS
from events.models import Event, EventLog, HourlyCountTotal, IngestionCountTotal
from events.validation import MAX_BATCH_EVENTS

BATCH = "/api/eventlogs/batch/"
# On PostgreSQL a batch of COPY_MIN_ROWS new uuids is stored with COPY, a smaller one
# with the statement every backend runs (events.bulk): both must answer alike.
SIZES = [5, COPY_MIN_ROWS]


def post_batch(client, events, url=BATCH, **extra):
    return client.post(url, {"events": events, **extra}, format="json")


def stored_total(tenant) -> int:
    return EventLog.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"] or 0


def rollup_total(tenant) -> int:
    return HourlyCountTotal.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"] or 0


@pytest.mark.parametrize("url", [BATCH, BATCH.rstrip("/")])
def test_mixed_batch_stores_valid_items_and_reports_each(api_client, tenant, url):
    known = str(uuid.uuid4())
    response = post_batch(
        api_client,
        [
            {"event_name": "signup", "uuid": known, "data": {"plan": "pro"}},
            {"event_name": ""},
            {"event_name": "click", "count": 3, "bogus": 1},
            {"event_name": "click", "count": 2, "distinct_id": "u1"},
        ],
        url=url,
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 0, 2)
    assert [r["status"] for r in body["receipts"]] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert [r["index"] for r in body["receipts"]] == [0, 1, 2, 3]
    assert body["receipts"][0]["uuid"] == known
    assert body["receipts"][1]["errors"] == {"event_name": ["Event name may not be blank."]}
    assert body["receipts"][2]["errors"] == {"bogus": ["Unknown field."]}
    assert "errors" not in body["receipts"][0]
    assert EventLog.objects.filter(tenant=tenant).count() == 2
    assert EventLog.objects.get(tenant=tenant, uuid=known).data == {"plan": "pro"}
    assert stored_total(tenant) == rollup_total(tenant) == 3


def test_duplicates_inside_one_batch_are_stored_once(api_client, tenant):
    same = str(uuid.uuid4())

    body = post_batch(
        api_client,
        [{"event_name": "a", "uuid": same, "count": 5}, {"event_name": "a", "uuid": same}],
    ).json()

    assert [r["status"] for r in body["receipts"]] == ["accepted", "duplicate"]
    assert EventLog.objects.filter(tenant=tenant, uuid=same).count() == 1
    assert stored_total(tenant) == rollup_total(tenant) == 5


def accounted(tenant) -> tuple[dict[str, int], int]:
    """The tenant's ingestion accounting: events per outcome, and requests."""
    totals = IngestionCountTotal.objects.filter(tenant=tenant)
    events = dict(totals.values_list("outcome").annotate(n=Sum("events")))
    return events, totals.aggregate(n=Sum("requests"))["n"]


@pytest.mark.parametrize("size", SIZES)
def test_retry_of_a_batch_is_all_duplicates(api_client, tenant, size):
    events = [{"event_name": "a", "uuid": str(uuid.uuid4())} for _ in range(size)]
    first = post_batch(api_client, events).json()

    retry = post_batch(api_client, events)

    assert first["accepted"] == size
    assert retry.status_code == 200
    assert (retry.json()["accepted"], retry.json()["duplicate"]) == (0, size)
    assert EventLog.objects.filter(tenant=tenant).count() == size
    assert rollup_total(tenant) == size
    assert accounted(tenant) == ({"accepted": size, "duplicate": size}, 2)


def test_a_duplicate_under_a_new_name_creates_no_event(api_client, tenant):
    """A duplicate has no side effect: its event, which the tenant has not got, is not
    created (it would be an event without logs); a new name of a new uuid still is."""
    same = str(uuid.uuid4())
    first = api_client.post("/api/eventlogs/", {"event_name": "real", "uuid": same}, format="json")

    single = api_client.post("/api/eventlogs/", {"event_name": "ghost", "uuid": same}, "json")
    repeats = [{"event_name": f"ghost4_{i}", "uuid": same} for i in range(5)]
    fresh = str(uuid.uuid4())
    inside = [  # the first of equal uuids is the one stored: the second is a duplicate
        {"event_name": "born", "uuid": fresh},
        {"event_name": "twin", "uuid": fresh},
    ]
    batch = post_batch(api_client, [*repeats, *inside, {"event_name": "real"}])

    assert (first.status_code, single.status_code) == (201, 200)
    assert single.json()["event_name"] == "real"
    assert single.json()["id"] == first.json()["id"]
    body = batch.json()
    assert [r["status"] for r in body["receipts"]] == ["duplicate"] * 5 + [
        "accepted",
        "duplicate",
        "accepted",
    ]
    names = set(Event.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert names == {"real", "born"}
    listed = api_client.get("/api/events/").json()
    assert {event["name"] for event in listed} == {"real", "born"}
    # Counted as the duplicates they are, the single one's request too.
    assert accounted(tenant) == ({"accepted": 3, "duplicate": 7}, 3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", [BATCH, "/api/eventlogs/"])
def test_a_duplicate_stored_first_by_another_request_leaves_no_new_event(
    api_client, tenant, monkeypatch, route
):
    """Another request stores the uuid (under another name) after this one found it new
    and created its event, before its insert: the item is a duplicate, and the event
    created for it alone is deleted again (injected where the race happens; the other
    request's write is real)."""
    same = str(uuid.uuid4())
    resolve = services.resolve_event_ids
    raced = []

    def resolved_then_raced(**options):
        ids = resolve(**options)
        if not raced:
            monkeypatch.setattr(services, "resolve_event_ids", resolve)  # the other request
            raced.append(ingest(options["tenant"], "real", same))
        return ids

    monkeypatch.setattr(services, "resolve_event_ids", resolved_then_raced)
    item = {"event_name": "ghost", "uuid": same}
    body = {"events": [item]} if route == BATCH else item

    response = api_client.post(route, body, format="json")

    assert raced == ["accepted"]
    assert response.status_code == 200
    if route == BATCH:
        assert [r["status"] for r in response.json()["receipts"]] == ["duplicate"]
    else:  # the stored log, as for any repeat
        assert response.json()["event_name"] == "real"
    assert set(Event.objects.filter(tenant=tenant).values_list("name", flat=True)) == {"real"}
    assert {event["name"] for event in api_client.get("/api/events/").json()} == {"real"}
    assert accounted(tenant) == ({"accepted": 1, "duplicate": 1}, 2)


def ingest(tenant, name: str, uuid_text: str) -> str:
    """The status of one item stored through the service, as another request would."""
    raw = [{"event_name": name, "uuid": uuid_text}]
    now = dt.datetime.now(dt.UTC)
    [receipt] = services.event_logs_ingest(tenant=tenant, created_by=None, now=now, raw_items=raw)
    return receipt.status


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_new_uuid_under_new_names_create_one_event(api_client, tenant):
    """Six requests send one new uuid under six new names while four send new uuids of a
    seventh new name and two send the shared uuid under it, all at once: the uuid is
    stored once, and the only events are those with logs (the other five or six
    created for a duplicate are deleted again)."""
    shared = str(uuid.uuid4())
    bodies = [{"event_name": f"new{i}", "uuid": shared} for i in range(6)]
    bodies += [{"event_name": "common", "uuid": str(uuid.uuid4())} for _ in range(4)]
    bodies += [{"event_name": "common", "uuid": shared} for _ in range(2)]
    start = threading.Barrier(len(bodies))
    answers: list[int] = []

    credentials = api_client._credentials

    def send(body: dict) -> None:
        client = APIClient()
        client.credentials(**credentials)
        start.wait(timeout=10)
        answers.append(client.post("/api/eventlogs/", body, format="json").status_code)

    threads = [threading.Thread(target=_closing(send), args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [200] * 7 + [201] * 5  # the shared uuid once, four others
    stored = EventLog.objects.filter(tenant=tenant)
    assert stored.count() == 5
    winner = stored.get(uuid=shared).event.name
    names = set(Event.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert names == {"common", winner}
    assert stored.filter(event__name="common").count() == 4 + (winner == "common")
    assert accounted(tenant) == ({"accepted": 5, "duplicate": 7}, 12)


def _closing(target):
    """`target`, closing the thread's database connections when it ends."""

    def run(*args) -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    return run


@pytest.mark.parametrize("size", SIZES)
def test_a_batch_stores_each_item_as_sent(api_client, tenant, size):
    events = [
        {
            "event_name": f"e{index % 3}",
            "uuid": str(uuid.uuid4()),
            "count": index + 1,
            "distinct_id": f"user-{index}",
            "data": {"n": index, "tag": 'ü\\\t"x"', "none": None},
            "timestamp": f"2026-01-02T03:04:{index % 60:02d}.000123Z",
        }
        for index in range(size)
    ]

    body = post_batch(api_client, events).json()

    assert body["accepted"] == size
    stored = {
        str(log.uuid): log for log in EventLog.objects.filter(tenant=tenant).select_related("event")
    }
    assert len({log.pk for log in stored.values()}) == size
    for event in events:
        log = stored[event["uuid"]]
        assert (log.event.name, log.count, log.distinct_id, log.data) == (
            event["event_name"],
            event["count"],
            event["distinct_id"],
            event["data"],
        )
        assert log.timestamp == dt.datetime.fromisoformat(event["timestamp"])
    assert stored_total(tenant) == rollup_total(tenant) == size * (size + 1) // 2
    assert accounted(tenant) == ({"accepted": size}, 1)


@pytest.mark.parametrize("size", SIZES)
def test_a_batch_with_one_stored_uuid_stores_the_others_once(api_client, tenant, size):
    events = [{"event_name": "a", "uuid": str(uuid.uuid4()), "count": 2} for _ in range(size)]
    middle = size // 2
    post_batch(api_client, [events[middle]])

    body = post_batch(api_client, events).json()

    statuses = [receipt["status"] for receipt in body["receipts"]]
    assert statuses == ["accepted"] * middle + ["duplicate"] + ["accepted"] * (size - middle - 1)
    assert EventLog.objects.filter(tenant=tenant).count() == size
    assert stored_total(tenant) == rollup_total(tenant) == 2 * size
    assert accounted(tenant) == ({"accepted": size, "duplicate": 1}, 2)


def test_single_and_batch_routes_share_the_uuid_space(api_client, tenant):
    same = str(uuid.uuid4())
    api_client.post("/api/eventlogs/", {"event_name": "a", "uuid": same}, format="json")

    body = post_batch(api_client, [{"event_name": "a", "uuid": same}]).json()

    assert body["receipts"][0]["status"] == "duplicate"
    assert EventLog.objects.filter(tenant=tenant).count() == 1


def test_same_uuid_in_two_tenants_is_two_events(api_client, other_client, tenant, other_tenant):
    same = str(uuid.uuid4())
    other_client.post(BATCH, {"events": [{"event_name": "a", "uuid": same}]}, format="json")

    body = post_batch(api_client, [{"event_name": "a", "uuid": same}]).json()

    assert body["receipts"][0]["status"] == "accepted"
    assert EventLog.objects.filter(tenant=tenant, uuid=same).count() == 1
    assert EventLog.objects.filter(tenant=other_tenant, uuid=same).count() == 1


def test_batch_creates_events_in_the_callers_tenant_only(api_client, tenant, other_tenant):
    Event.objects.create(tenant=other_tenant, name="theirs")

    post_batch(api_client, [{"event_name": "theirs"}])

    assert Event.objects.filter(tenant=tenant, name="theirs").exists()
    assert not EventLog.objects.filter(tenant=other_tenant).exists()


def test_atomic_batch_with_a_bad_item_stores_nothing(api_client, tenant):
    response = post_batch(
        api_client,
        [{"event_name": "ok"}, {"event_name": "also ok"}, {"event_name": "bad", "count": 0}],
        url=BATCH + "?atomic=true",
    )

    body = response.json()
    assert response.status_code == 400
    assert body["accepted"] == 0
    assert body["rejected"] == 3
    assert body["receipts"][2]["errors"] == {"count": ["Must be between 1 and 2147483647."]}
    assert "atomic" in body["receipts"][0]["errors"]["non_field_errors"][0]
    assert not EventLog.objects.filter(tenant=tenant).exists()
    assert not HourlyCountTotal.objects.filter(tenant=tenant).exists()


def test_atomic_batch_with_unknown_event_on_strict_tenant_stores_nothing(api_client, tenant):
    tenant.auto_create_events = False
    tenant.save()
    Event.objects.create(tenant=tenant, name="known")

    response = post_batch(
        api_client, [{"event_name": "known"}, {"event_name": "unknown"}], url=BATCH + "?atomic=1"
    )

    assert response.status_code == 400
    assert [r["status"] for r in response.json()["receipts"]] == ["rejected", "rejected"]
    assert "Unknown event" in response.json()["receipts"][1]["errors"]["event_name"][0]
    assert not EventLog.objects.filter(tenant=tenant).exists()


def test_atomic_batch_of_valid_items_stores_all(api_client, tenant):
    response = post_batch(api_client, [{"event_name": "a"}] * 3, url=BATCH + "?atomic=true")

    assert response.status_code == 200
    assert response.json()["accepted"] == 3
    assert EventLog.objects.filter(tenant=tenant).count() == 3


def test_bad_atomic_flag_is_400(api_client):
    response = post_batch(api_client, [{"event_name": "a"}], url=BATCH + "?atomic=maybe")

    assert response.status_code == 400
    assert "atomic" in response.json()


def test_all_rejected_is_400_with_receipts(api_client, tenant):
    response = post_batch(api_client, [{"event_name": ""}, {"nope": 1}])

    assert response.status_code == 400
    assert response.json()["rejected"] == 2
    assert not EventLog.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({}, "events"),
        ({"events": {"event_name": "a"}}, "events"),
        ({"events": [{"event_name": "a"}], "extra": 1}, "extra"),
        ({"events": [{"event_name": "a"}], "sent_at": "yesterday"}, "sent_at"),
    ],
)
def test_malformed_batch_is_400_naming_the_field(api_client, tenant, body, field):
    response = api_client.post(BATCH, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not EventLog.objects.filter(tenant=tenant).exists()


def test_body_that_is_not_an_object_is_400(api_client):
    response = api_client.post(BATCH, [{"event_name": "a"}], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_more_than_1000_events_is_413(api_client, tenant):
    response = post_batch(api_client, [{"event_name": "a"}] * (MAX_BATCH_EVENTS + 1))

    assert response.status_code == 413
    assert "1000" in response.json()["detail"]
    assert not EventLog.objects.filter(tenant=tenant).exists()


def test_exactly_1000_events_are_accepted(api_client, tenant):
    response = post_batch(api_client, [{"event_name": "a"}] * MAX_BATCH_EVENTS)

    assert response.status_code == 200
    assert response.json()["accepted"] == MAX_BATCH_EVENTS
    assert rollup_total(tenant) == MAX_BATCH_EVENTS


def test_body_over_one_mebibyte_is_413_before_reading(api_client, tenant):
    padding = "x" * (1024 * 1024)
    body = f'{{"events": [{{"event_name": "a", "data": {{"p": "{padding}"}}}}]}}'

    response = api_client.generic("POST", BATCH, body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert not EventLog.objects.filter(tenant=tenant).exists()


def test_anonymous_batch_is_401(anon_client):
    response = post_batch(anon_client, [{"event_name": "a"}])

    assert response.status_code == 401


# --- clock skew ---------------------------------------------------------------


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def test_sent_at_corrects_client_timestamps(api_client, tenant):
    now = dt.datetime.now(dt.UTC)
    client_clock_behind = dt.timedelta(hours=2)
    happened = now - dt.timedelta(minutes=5)  # true time
    client_view = happened - client_clock_behind

    body = post_batch(
        api_client,
        [{"event_name": "a", "timestamp": _iso(client_view)}],
        sent_at=_iso(now - client_clock_behind),
    ).json()

    stored = EventLog.objects.get(tenant=tenant).timestamp
    assert body["clock_skew_seconds"] == pytest.approx(client_clock_behind.total_seconds(), abs=5)
    assert abs(stored - happened) < dt.timedelta(seconds=5)


def test_skew_correction_can_bring_a_future_timestamp_into_range(api_client, tenant):
    now = dt.datetime.now(dt.UTC)
    client_clock_ahead = dt.timedelta(days=2)

    response = post_batch(
        api_client,
        [{"event_name": "a", "timestamp": _iso(now + client_clock_ahead)}],
        sent_at=_iso(now + client_clock_ahead),
    )

    assert response.json()["accepted"] == 1
    stored = EventLog.objects.get(tenant=tenant).timestamp
    assert abs(stored - now) < dt.timedelta(seconds=5)


def test_items_without_timestamp_use_server_time(api_client, tenant):
    before = dt.datetime.now(dt.UTC)

    post_batch(
        api_client,
        [{"event_name": "a"}],
        sent_at=_iso(before - dt.timedelta(days=3)),
    )

    assert EventLog.objects.get(tenant=tenant).timestamp >= before


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (dt.timedelta(hours=2), "in the future after clock-skew correction"),
        (dt.timedelta(days=-(365 * 60)), "before 1970-01-01 after clock-skew correction"),
    ],
)
def test_timestamps_out_of_range_after_correction_are_rejected(api_client, tenant, offset, message):
    now = dt.datetime.now(dt.UTC)
    sent_at = now - dt.timedelta(minutes=1)  # client one minute behind

    body = post_batch(
        api_client,
        [{"event_name": "a", "timestamp": _iso(sent_at + offset)}, {"event_name": "b"}],
        sent_at=_iso(sent_at),
    ).json()

    assert body["receipts"][0]["status"] == "rejected"
    assert message in body["receipts"][0]["errors"]["timestamp"][0]
    assert body["receipts"][1]["status"] == "accepted"
    assert list(EventLog.objects.filter(tenant=tenant).values_list("event__name", flat=True)) == [
        "b"
    ]


def test_future_window_is_a_setting(api_client, tenant, settings):
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "MAX_FUTURE_SKEW_SECONDS": 60}
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)

    body = post_batch(api_client, [{"event_name": "a", "timestamp": _iso(soon)}]).json()

    assert body["receipts"][0]["status"] == "rejected"
    assert "0:01:00 in the future" in body["receipts"][0]["errors"]["timestamp"][0]
