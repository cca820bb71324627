"""Ingestion accounting (seed 003): every request and item counted once, by outcome and
reason, against the sender's tenant; read back from GET /api/stats/ingestion."""

import datetime as dt
import io
import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from events.accounting import record_ingestion
from events.models import EventLog, IngestionCountTotal, RejectionReason
from events.rollups import utc_hour

pytestmark = pytest.mark.django_db
REASONS = RejectionReason.values


def _today(client, **params) -> dict:
    day = timezone.now().date().isoformat()
    response = client.get(
        "/api/stats/ingestion", {"start_date": day, "end_date": day, "tz": "UTC", **params}
    )
    assert response.status_code == 200, response.content
    (bucket,) = response.json().values()
    return bucket


def _rejected_only(bucket: dict) -> dict:
    return {reason: n for reason, n in bucket["rejected"].items() if n}


def _post_raw(client, path: str, body: bytes, **extra):
    return client.generic("POST", path, body, content_type="application/json", **extra)


# --- each reason, counted exactly once ---------------------------------------------


def test_malformed_json_with_a_valid_key_counts_against_its_tenant(api_client):
    response = _post_raw(api_client, "/api/eventlogs/batch/", b'{"events": [{"event_name": ')

    assert response.status_code == 400
    bucket = _today(api_client)
    assert _rejected_only(bucket) == {"malformed_json": 1}
    assert bucket["requests"] == {"valid": 0, "invalid": 1}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"event_name": ""}, "invalid_field"),
        ({"event_name": "a", "surprise": 1}, "invalid_field"),
        ({"event_name": "a", "timestamp": "1969-12-31T23:59:59Z"}, "timestamp_out_of_range"),
        ({"event_name": "a", "timestamp": "2999-01-01T00:00:00Z"}, "timestamp_out_of_range"),
        # Unix seconds past what a datetime holds (year 10000 on): out of range too.
        ({"event_name": "a", "timestamp": 253402300800}, "timestamp_out_of_range"),
        ({"event_name": "a", "timestamp": 1e20}, "timestamp_out_of_range"),
        ({"event_name": "a", "timestamp": -1e20}, "timestamp_out_of_range"),
        # Two problems: not only the timestamp, so the item is an invalid_field.
        ({"event_name": "", "timestamp": "2999-01-01T00:00:00Z"}, "invalid_field"),
    ],
)
def test_a_rejected_single_event_is_counted_under_its_reason(api_client, body, reason):
    response = api_client.post("/api/eventlogs/", body, format="json")

    assert response.status_code == 400
    assert _rejected_only(_today(api_client)) == {reason: 1}
    assert not EventLog.objects.exists()


def test_unknown_event_of_a_strict_tenant_is_counted_once(api_client, tenant):
    tenant.auto_create_events = False
    tenant.save()

    single = api_client.post("/api/eventlogs/", {"event_name": "nope"}, format="json")
    batch = api_client.post(
        "/api/eventlogs/batch/", {"events": [{"event_name": "nope"}] * 2}, format="json"
    )

    assert single.status_code == batch.status_code == 400
    assert [r["reason"] for r in batch.json()["receipts"]] == ["unknown_event"] * 2
    bucket = _today(api_client)
    assert _rejected_only(bucket) == {"unknown_event": 3}
    assert bucket["requests"] == {"valid": 0, "invalid": 2}


def test_too_large_by_content_length_is_counted_before_the_body_is_read(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    body = json.dumps({"events": [{"event_name": "x" * 50}] * 5}).encode()

    response = _post_raw(api_client, "/api/eventlogs/batch/", body)

    assert response.status_code == 413
    assert response.json()["reason"] == "too_large"
    assert _rejected_only(_today(api_client)) == {"too_large": 1}


def test_a_batch_over_the_item_limit_counts_each_item(api_client):
    events = [{"event_name": "a"}] * 1001

    response = api_client.post("/api/eventlogs/batch/", {"events": events}, format="json")

    assert response.status_code == 413
    assert _rejected_only(_today(api_client)) == {"too_large": 1001}


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/eventlogs/batch/", {"colour": "red"}),  # an unknown field beside events
        ("/api/eventlogs/batch/", {"sent_at": "yesterday"}),
        ("/api/eventlogs/batch/?atomic=maybe", {}),  # a bad query parameter
    ],
)
def test_a_batch_refused_whole_counts_the_items_of_its_body(api_client, path, envelope):
    batch = {"events": [{"event_name": "a"}, {"event_name": "b"}, {"event_name": "c"}]}

    response = api_client.post(path, {**batch, **envelope}, format="json")

    assert response.status_code == 400
    assert _rejected_only(_today(api_client)) == {"invalid_field": 3}
    assert not EventLog.objects.exists()


def test_tenant_inactive_counts_the_items_of_the_refused_batch(tenant, key_client, api_client):
    client = key_client("ingest")
    tenant.is_active = False
    tenant.save()

    response = client.post("/api/eventlogs/batch/", {"events": [{"event_name": "a"}] * 3})

    assert response.status_code == 403
    counts = IngestionCountTotal.objects.get(tenant=tenant)
    assert (counts.outcome, counts.reason, counts.events, counts.requests) == (
        "rejected",
        "tenant_inactive",
        3,
        1,
    )


def test_rate_limited_requests_are_429_and_counted(api_client, settings):
    cache.clear()  # throttle history of earlier tests with the same user id
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "INGEST_RATE": "2/min"}
    statuses = [
        api_client.post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code
        for _ in range(3)
    ]

    assert statuses == [201, 201, 429]
    bucket = _today(api_client)
    assert bucket["accepted"] == 2
    assert _rejected_only(bucket) == {"rate_limited": 1}
    # Reads are not ingestion: never throttled by the ingest rate.
    assert api_client.get("/api/eventlogs/").status_code == 200


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [("ip", "127.0.0.1", "blocked_ip"), ("user_agent", "BadBot", "blocked_user_agent")],
)
def test_blocked_sources_are_refused_and_counted_with_their_items(
    api_client, tenant, kind, value, reason
):
    api_client.post("/api/blocklist/", {"kind": kind, "value": value}, format="json")
    events = {"events": [{"event_name": "a"}, {"event_name": "b"}]}

    response = api_client.post(
        "/api/eventlogs/batch/", events, format="json", HTTP_USER_AGENT="Mozilla/5.0 badbot/2"
    )

    assert response.status_code == 403
    assert response.json()["reason"] == reason
    assert not EventLog.objects.exists()
    assert _rejected_only(_today(api_client)) == {reason: 2}


def test_every_reason_has_a_bucket_entry_even_at_zero(api_client):
    api_client.post("/api/eventlogs/", {"event_name": "a"}, format="json")

    bucket = _today(api_client)

    assert list(bucket["rejected"]) == REASONS
    assert set(bucket["rejected"].values()) == {0}


# --- accepted, duplicate and mixed requests ----------------------------------------


def test_a_mixed_batch_counts_each_item_and_one_valid_request(api_client):
    uuid = "0190f0a0-0000-7000-8000-000000000001"
    api_client.post("/api/eventlogs/", {"event_name": "a", "uuid": uuid}, format="json")
    batch = {
        "events": [
            {"event_name": "a", "uuid": uuid},  # duplicate
            {"event_name": "b"},
            {"event_name": "c"},
            {"event_name": 5},  # invalid_field
            {"event_name": "d", "timestamp": "1900-01-01T00:00:00Z"},  # out of range
        ]
    }

    response = api_client.post("/api/eventlogs/batch/", batch, format="json")

    body = response.json()
    assert response.status_code == 200
    assert [r.get("reason") for r in body["receipts"]] == [
        None,
        None,
        None,
        "invalid_field",
        "timestamp_out_of_range",
    ]
    bucket = _today(api_client)
    assert (bucket["accepted"], bucket["duplicate"]) == (3, 1)
    assert _rejected_only(bucket) == {"invalid_field": 1, "timestamp_out_of_range": 1}
    assert bucket["requests"] == {"valid": 2, "invalid": 0}


def test_an_atomic_batch_with_a_bad_item_counts_every_item_under_its_reason(api_client):
    batch = {"events": [{"event_name": "a"}, {"event_name": ""}, {"event_name": "b"}]}

    response = api_client.post("/api/eventlogs/batch/?atomic=true", batch, format="json")

    assert response.status_code == 400
    assert {r["reason"] for r in response.json()["receipts"]} == {"invalid_field"}
    bucket = _today(api_client)
    assert bucket["accepted"] == 0
    assert _rejected_only(bucket) == {"invalid_field": 3}
    assert bucket["requests"] == {"valid": 0, "invalid": 1}


def test_seed_000_posts_are_counted_too(tenant, key_client):
    client = key_client("admin")

    created = client.post("/api/v1/events/signup", {"count": 2}, format="json")
    refused = client.post("/api/v1/events/signup", {"count": "many"}, format="json")

    assert (created.status_code, refused.status_code) == (201, 400)
    bucket = _today(client)
    assert bucket["accepted"] == 1
    assert _rejected_only(bucket) == {"invalid_field": 1}


def test_unauthenticated_and_wrong_role_requests_count_for_no_tenant(anon_client, key_client):
    anon_client.post("/api/eventlogs/", {"event_name": "a"}, format="json")
    _post_raw(anon_client, "/api/eventlogs/", b"{")
    key_client("read").post("/api/eventlogs/", {"event_name": "a"}, format="json")

    assert not IngestionCountTotal.objects.exists()


# --- the statistics route ----------------------------------------------------------


def test_hourly_buckets_and_all_days_without_dates(api_client, tenant):
    morning = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
    for received, items in [
        (morning, {("accepted", ""): 4}),
        (morning + dt.timedelta(hours=2), {("rejected", "malformed_json"): 1}),
        (morning + dt.timedelta(days=2), {("duplicate", ""): 1, ("accepted", ""): 1}),
    ]:
        record_ingestion(tenant_id=tenant.pk, received=received, items=items)

    hours = api_client.get(
        "/api/stats/ingestion",
        {"start_date": "2024-05-01", "end_date": "2024-05-01", "interval": "hour", "tz": "UTC"},
    ).json()
    every_day = api_client.get("/api/stats/ingestion", {"tz": "UTC"}).json()

    assert len(hours) == 24
    assert hours["2024-05-01T09:00:00+00:00"]["accepted"] == 4
    assert hours["2024-05-01T11:00:00+00:00"]["rejected"]["malformed_json"] == 1
    assert hours["2024-05-01T11:00:00+00:00"]["requests"] == {"valid": 0, "invalid": 1}
    assert list(every_day) == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert every_day["2024-05-02"]["accepted"] == 0
    assert every_day["2024-05-03"]["duplicate"] == 1


def test_days_follow_the_requested_time_zone(api_client, tenant):
    late = dt.datetime(2024, 5, 1, 23, 0, tzinfo=dt.UTC)  # 2024-05-02 01:00 in Berlin
    record_ingestion(tenant_id=tenant.pk, received=late, items={("accepted", ""): 1})

    berlin = api_client.get(
        "/api/stats/ingestion",
        {"start_date": "2024-05-02", "end_date": "2024-05-02", "tz": "Europe/Berlin"},
    )

    assert berlin.json()["2024-05-02"]["accepted"] == 1
    assert berlin["X-Timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2024-13-01"},
        {"start_date": "2024-05-02", "end_date": "2024-05-01"},
        {"interval": "fortnight"},
        {"tz": "Mars/Olympus"},
        {"start_date": "2000-01-01", "end_date": "2024-01-01", "interval": "hour"},
    ],
)
def test_bad_parameters_are_a_400_naming_them(api_client, params):
    response = api_client.get("/api/stats/ingestion", params)

    assert response.status_code == 400
    assert set(response.json()) & {*params, "end_date"}


def test_the_chart_is_a_png(api_client):
    api_client.post("/api/eventlogs/", {"event_name": "a"}, format="json")

    response = api_client.get("/api/stats/ingestion.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_read_keys_read_the_statistics_and_ingest_keys_do_not(key_client):
    assert key_client("read").get("/api/stats/ingestion").status_code == 200
    assert key_client("ingest").get("/api/stats/ingestion").status_code == 403


def test_tenants_see_only_their_own_counts(api_client, other_client, other_tenant):
    _post_raw(other_client, "/api/eventlogs/", b"{")
    other_client.post("/api/eventlogs/", {"event_name": "theirs"}, format="json")
    api_client.post("/api/eventlogs/", {"event_name": "mine"}, format="json")

    mine, theirs = _today(api_client), _today(other_client)

    assert (mine["accepted"], _rejected_only(mine)) == (1, {})
    assert (theirs["accepted"], _rejected_only(theirs)) == (1, {"malformed_json": 1})
    assert IngestionCountTotal.objects.filter(tenant=other_tenant).count() == 2


def test_counters_are_per_utc_hour_of_receipt(tenant):
    received = dt.datetime(2024, 5, 1, 10, 59, 59, tzinfo=dt.UTC)

    record_ingestion(tenant_id=tenant.pk, received=received, items={("accepted", ""): 2})
    record_ingestion(
        tenant_id=tenant.pk,
        received=received + dt.timedelta(seconds=1),
        items={("accepted", ""): 1},
    )

    hours = dict(IngestionCountTotal.objects.values_list("hour", "events"))
    assert hours == {utc_hour(received): 2, utc_hour(received) + dt.timedelta(hours=1): 1}


# --- a body shorter than its Content-Length --------------------------------------

SHORT = b'{"events": [{"event_name": "trunc"}]}'


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/eventlogs/batch/", SHORT),
        ("/api/eventlogs/", b'{"event_name": "trunc"}'),
        ("/api/v1/events/trunc", b'{"count": 1}'),
        ("/stats-4f2a/e", SHORT),
    ],
    ids=["batch", "single", "v1", "collect"],
)
def test_a_body_shorter_than_its_content_length_is_a_counted_400(key_client, path, body):
    """The client (or the connection) stopped before the declared length: what arrived
    may parse, but it is a prefix, never stored."""
    client = key_client("ingest")
    extra = {"CONTENT_LENGTH": "1000", "wsgi.input": io.BytesIO(body)}

    response = _post_raw(client, path, body, **extra)

    assert response.status_code == 400, response.content
    assert response.json()["detail"] == (
        f"The body is shorter than its Content-Length ({len(body)} of 1000 bytes)."
    )
    assert not EventLog.objects.exists()
    (counts,) = IngestionCountTotal.objects.filter(outcome="rejected")
    assert (counts.reason, counts.requests, counts.events) == ("malformed_json", 1, 1)
