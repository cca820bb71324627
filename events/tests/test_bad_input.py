"""Hostile and malformed input: exact status codes, JSON errors, nothing stored."""

import datetime as dt
import uuid

import pytest
from django.db.models import Sum

from events.models import Event, EventLog, IngestionCountTotal
from events.tests.factories import EventFactory, EventLogFactory

URL = "/api/eventlogs/"
MIB = 1024 * 1024
INT64_MAX = 2**63 - 1
JSON_BODY = '{"event_name": "a"}'


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_raw(client, url: str, body: bytes | str, content_type: str = "application/json"):
    return client.generic("POST", url, data=body, content_type=content_type)


def assert_json_error(response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    if field is not None:
        assert field in response.json()


def assert_nothing_stored() -> None:
    assert not EventLog.objects.exists()
    assert not Event.objects.exists()


# (id, raw body, field the 400 must name or None when the parser refuses the whole body)
EVENTLOG_BAD_BODIES = [
    ("malformed", '{"event_name": "a",', None),
    ("empty-body", "", None),
    ("raw-nul-byte", b'{"event_name": "a\x00b"}', None),
    ("raw-nul-outside-string", b'{"event_name": "a"}\x00', None),
    ("invalid-utf8", b'{"event_name": "\xff"}', None),
    ("utf8-bom", b'\xef\xbb\xbf{"event_name": "a"}', None),
    ("nul-escape-in-event-name", '{"event_name": "a\\u0000b"}', "event_name"),
    ("nul-escape-in-data-value", '{"event_name": "a", "data": {"k": "v\\u0000"}}', "data.k"),
    ("nul-escape-in-data-key", '{"event_name": "a", "data": {"k\\u0000": 1}}', "data.k\x00"),
    (
        "nul-escape-in-nested-list",
        '{"event_name": "a", "data": {"k": [["\\u0000"]]}}',
        "data.k[0][0]",
    ),
    ("lone-surrogate", '{"event_name": "\\ud800"}', None),  # orjson refuses it as it reads
    (
        # A run of 19+ digits sends the body through the exact (stdlib) decoder.
        "lone-surrogate-exact-path",
        '{"event_name": "\\ud800", "distinct_id": "12345678901234567890"}',
        "event_name",
    ),
    (
        "lone-surrogate-data-key",
        '{"event_name": "a", "data": {"\\udc00": "1234567890123456789"}}',
        "data.\\udc00",  # the key's escape: the name itself cannot be written out
    ),
    ("data-array", '{"event_name": "a", "data": [1, 2]}', "data"),
    ("data-number", '{"event_name": "a", "data": 5}', "data"),
    ("data-null", '{"event_name": "a", "data": null}', "data"),
    ("data-bool", '{"event_name": "a", "data": true}', "data"),
    ("data-string-not-json", '{"event_name": "a", "data": "hello"}', "data"),
    ("data-string-array", '{"event_name": "a", "data": "[1, 2]"}', "data"),
    ("data-string-nul", '{"event_name": "a", "data": "{\\"k\\": \\"\\\\u0000\\"}"}', "data"),
    ("data-int-2**64", f'{{"event_name": "a", "data": {{"n": {2**64}}}}}', "data.n"),
    ("data-int-below-int64", f'{{"event_name": "a", "data": {{"n": {-(2**63) - 1}}}}}', "data.n"),
    ("data-huge-int", '{"event_name": "a", "data": {"n": ' + "9" * 5000 + "}}", None),  # unread
    ("data-float-overflow", '{"event_name": "a", "data": {"n": 1e400}}', None),
    ("count-2**64", f'{{"event_name": "a", "count": {2**64}}}', "count"),
    ("count-int64-max", f'{{"event_name": "a", "count": {INT64_MAX}}}', "count"),
    ("count-2**31", f'{{"event_name": "a", "count": {2**31}}}', "count"),
    ("count-0", '{"event_name": "a", "count": 0}', "count"),
    ("count-negative", '{"event_name": "a", "count": -1}', "count"),
    ("count-fraction", '{"event_name": "a", "count": 1.5}', "count"),
    ("count-whole-float", '{"event_name": "a", "count": 2.0}', "count"),
    ("count-true", '{"event_name": "a", "count": true}', "count"),
    ("count-string", '{"event_name": "a", "count": "3"}', "count"),
    ("count-null", '{"event_name": "a", "count": null}', "count"),
    ("depth-40", '{"event_name": "a", "data": {"k": ' + nested(40) + "}}", None),
    ("depth-2000", '{"event_name": "a", "data": {"k": ' + nested(2000) + "}}", None),
    ("depth-2000-exact-path", '{"n": 12345678901234567890, "d": ' + nested(2000) + "}", None),
    ("nan", '{"event_name": "a", "data": {"n": NaN}}', None),
    ("infinity", '{"event_name": "a", "data": {"n": Infinity}}', None),
    ("minus-infinity", '{"event_name": "a", "data": {"n": -Infinity}}', None),
    (
        "nan-exact-path",
        '{"event_name": "a", "data": {"n": NaN, "m": "12345678901234567890"}}',
        None,
    ),
    ("unknown-field", '{"event_name": "a", "colour": "red"}', "colour"),
    ("body-array", '[{"event_name": "a"}]', "non_field_errors"),
    ("body-string", '"event_name"', "non_field_errors"),
    ("body-number", "42", "non_field_errors"),
    ("body-null", "null", "non_field_errors"),
    ("event-name-missing", '{"data": {}}', "event_name"),
    ("event-name-null", '{"event_name": null}', "event_name"),
    ("event-name-number", '{"event_name": 5}', "event_name"),
    ("event-name-empty", '{"event_name": ""}', "event_name"),
    ("event-name-201-chars", '{"event_name": "' + "x" * 201 + '"}', "event_name"),
    ("event-name-control-char", '{"event_name": "a\\u0007"}', "event_name"),
    ("timestamp-not-a-date", '{"event_name": "a", "timestamp": "not-a-date"}', "timestamp"),
    ("timestamp-feb-30", '{"event_name": "a", "timestamp": "2024-02-30T00:00:00"}', "timestamp"),
    ("timestamp-1969", '{"event_name": "a", "timestamp": "1969-12-31T23:59:59Z"}', "timestamp"),
    (
        "timestamp-year-1",
        '{"event_name": "a", "timestamp": "0001-01-01T00:30:00+01:00"}',
        "timestamp",
    ),
    ("timestamp-negative-unix", '{"event_name": "a", "timestamp": -1}', "timestamp"),
    ("timestamp-huge-unix", '{"event_name": "a", "timestamp": 1e300}', "timestamp"),
    ("timestamp-bool", '{"event_name": "a", "timestamp": true}', "timestamp"),
    (
        "timestamp-bad-offset",
        '{"event_name": "a", "timestamp": "2024-01-01T00:00+25:00"}',
        "timestamp",
    ),
    (
        "timestamp-year-9999",
        '{"event_name": "a", "timestamp": "9999-12-31T23:59:59-01:00"}',
        "timestamp",
    ),
    ("uuid-abc", '{"event_name": "a", "uuid": "abc"}', "uuid"),
    ("uuid-number", '{"event_name": "a", "uuid": 12}', "uuid"),
    (
        "distinct-id-201-chars",
        '{"event_name": "a", "distinct_id": "' + "d" * 201 + '"}',
        "distinct_id",
    ),
    ("distinct-id-object", '{"event_name": "a", "distinct_id": {}}', "distinct_id"),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [pytest.param(body, field, id=name) for name, body, field in EVENTLOG_BAD_BODIES],
)
def test_eventlog_bad_body_is_400_and_stores_nothing(api_client, body, field):
    response = post_raw(api_client, URL, body)

    assert_json_error(response, 400, field)
    assert_nothing_stored()


@pytest.mark.parametrize("days", [2, 365])
def test_eventlog_timestamp_in_the_future_is_400(api_client, days):
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)

    response = api_client.post(URL, {"event_name": "a", "timestamp": future.isoformat()})

    assert_json_error(response, 400, "timestamp")
    assert_nothing_stored()


def test_eventlog_bad_fields_are_reported_together(api_client):
    body = {"event_name": "", "count": 0, "uuid": "abc", "timestamp": "x", "extra": 1}

    response = api_client.post(URL, body)

    assert_json_error(response, 400)
    assert_nothing_stored()
    assert set(response.json()) == {"event_name", "count", "uuid", "timestamp", "extra"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param('{"name": "a",', None, id="malformed"),
        pytest.param('{"name": "a\\u0000"}', None, id="nul-escape"),
        pytest.param(b'{"name": "a\x00"}', None, id="raw-nul"),
        pytest.param(
            '{"name": "\\ud800", "description": "12345678901234567890"}', None, id="surrogate"
        ),
        pytest.param('[{"name": "a"}]', "non_field_errors", id="array"),
        pytest.param('{"name": null}', "name", id="name-null"),
        pytest.param('{"description": "no name"}', "name", id="name-missing"),
    ],
)
def test_event_bad_body_is_400_and_stores_nothing(api_client, body, field):
    response = post_raw(api_client, "/api/events/", body)

    assert_json_error(response, 400, field)
    assert not Event.objects.exists()


def test_event_patch_with_malformed_json_changes_nothing(api_client, tenant):
    event = EventFactory(tenant=tenant, name="keep")

    response = api_client.generic(
        "PATCH", f"/api/events/{event.pk}", data='{"name": ', content_type="application/json"
    )

    assert_json_error(response, 400)
    event.refresh_from_db()
    assert event.name == "keep"


@pytest.mark.parametrize("name", ["event_name", "distinct_id", "start"])
def test_eventlog_filter_with_nul_character_is_400(api_client, name):
    response = api_client.get(URL, {name: "a\x00b"})

    assert_json_error(response, 400, name)


@pytest.mark.parametrize("name", ["start", "end", "received_start", "received_end"])
def test_a_valid_instant_followed_by_a_nul_is_400(api_client, name):
    """Python 3.11's datetime.fromisoformat reads past a trailing NUL."""
    response = api_client.get(URL, {name: "2026-11-10T00:00:00Z\x00"})

    assert_json_error(response, 400, name)


# --- body size, content type, methods ------------------------------------------------


@pytest.mark.parametrize("url", [URL, "/api/events/"])
def test_body_over_one_mib_is_413_json(api_client, url):
    body = '{"event_name": "a", "data": {"k": "' + "x" * MIB + '"}}'

    response = post_raw(api_client, url, body)

    assert_json_error(response, 413)
    assert_nothing_stored()


CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}


@pytest.mark.parametrize(
    "url",
    [
        URL,
        f"{URL}batch/",
        "/api/events/",
        "/api/v1/events/chunky",
        "/api/members/",
        "/api/imports/",
    ],
)
def test_a_body_without_a_content_length_is_411_json(api_client, url):
    """Django reads no body without a Content-Length: a chunked one passed as empty (v1
    stored an occurrence of count 1, the others complained of missing fields)."""
    body = '{"event_name": "a", "events": [{"event_name": "a"}], "count": 3, "name": "x"}'

    response = api_client.generic("POST", url, body, content_type="application/json", **CHUNKED)

    assert_json_error(response, 411)
    assert "Content-Length" in response.json()["detail"]
    assert_nothing_stored()


@pytest.mark.parametrize("length", ["abc", "1e3"])
def test_non_numeric_content_length_is_400_json(api_client, length):
    response = api_client.generic(
        "POST", URL, data=JSON_BODY, content_type="application/json", CONTENT_LENGTH=length
    )

    assert_json_error(response, 400)
    assert_nothing_stored()


def test_body_of_exactly_one_mib_is_accepted(api_client):
    # 42 events of about 25 KiB of data each (under the 32 KiB cap per event), the last
    # one padded so that the whole body is exactly the 1 MiB limit.
    event = '{"event_name": "a", "data": {"k": "' + "x" * 25_000 + '"}}'
    head, tail = (
        '{"events": [' + ", ".join([event] * 41) + ', {"event_name": "a", "data": {"k": "',
        '"}}]}',
    )
    body = head + "x" * (MIB - len(head) - len(tail)) + tail
    assert len(body.encode()) == MIB

    response = post_raw(api_client, "/api/eventlogs/batch/", body)

    assert response.status_code == 200, response.content[:300]
    assert EventLog.objects.count() == 42


@pytest.mark.parametrize(
    ("data", "message", "reason"),
    [
        ({"k": "x" * (32 * 1024)}, "at most 32768 are accepted", "too_large"),
        ({"k": [[[[[[[[[[1]]]]]]]]]]}, "deeper than 10 levels", "invalid_field"),  # 11 levels
        ({"p" * 201: 1}, "longer than 200 characters", "invalid_field"),
        ({"outer": {"p" * 201: 1}}, "longer than 200 characters", "invalid_field"),
    ],
)
def test_data_caps_per_event(api_client, data, message, reason):
    response = api_client.post(
        "/api/eventlogs/batch/", {"events": [{"event_name": "a", "data": data}]}, format="json"
    )

    (receipt,) = response.json()["receipts"]
    assert response.status_code == 400
    assert message in receipt["errors"]["data"][0]
    assert receipt["reason"] == reason
    assert_nothing_stored()


def test_data_at_the_caps_is_accepted(api_client):
    ten_deep = {"k": [[[[[[[[1]]]]]]]]}  # data is level 1, this object 2, its lists 3-10
    data = {"p" * 200: "x" * 30_000, "nested": ten_deep}

    response = api_client.post(URL, {"event_name": "a", "data": data}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("url", "content_type"),
    [(URL, "text/xml"), ("/api/events/", "text/xml"), ("/api/events/", "text/plain")],
)
def test_unsupported_content_type_is_415(api_client, url, content_type):
    response = post_raw(api_client, url, "<event name='a'/>", content_type=content_type)

    assert_json_error(response, 415)
    assert "Send Content-Type: application/json" in response.json()["detail"]
    assert_nothing_stored()


def test_a_v1_body_sent_as_a_form_is_415_saying_what_to_send(key_client):
    # curl -d without -H 'Content-Type: application/json' sends a form's type.
    response = key_client("ingest").post(
        "/api/v1/events/a", '{"count": 3}', content_type="application/x-www-form-urlencoded"
    )

    assert_json_error(response, 415)
    assert response.json()["detail"] == (
        'Unsupported media type "application/x-www-form-urlencoded" in request. '
        "Send Content-Type: application/json, text/plain."  # text/plain: a page's beacon
    )
    assert_nothing_stored()


def test_text_plain_on_ingestion_routes_is_json_and_held_to_the_same_rules(api_client):
    # The browser tracker sends text/plain (no CORS preflight): parsed as strict JSON.
    response = post_raw(api_client, URL, "<event name='a'/>", content_type="text/plain")

    assert_json_error(response, 400)
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/eventlogs/{log}"),
        ("PATCH", "/api/eventlogs/{log}/"),
        ("DELETE", "/api/eventlogs/{log}"),
        ("PUT", "/api/eventlogs/"),
        ("DELETE", "/api/eventlogs"),
        ("DELETE", "/api/events/"),
        ("POST", "/api/events/{event}"),
        ("GET", "/api/eventlogs/batch/"),
        ("GET", "/api/eventlogs/batch"),
        ("GET", "/auth/token/login/"),
    ],
)
def test_wrong_method_is_405(api_client, tenant, method, path):
    log = EventLogFactory(event__tenant=tenant)
    url = path.format(log=log.pk, event=log.event_id)

    response = api_client.generic(method, url, data="{}", content_type="application/json")

    assert_json_error(response, 405)
    assert EventLog.objects.filter(pk=log.pk).exists()


@pytest.mark.parametrize("role", ["ingest", "read", "admin"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/eventlogs/"),
        ("DELETE", "/api/eventlogs/{log}"),
        ("POST", "/api/events/{event}"),
    ],
)
def test_a_method_the_route_lacks_is_405_for_every_key_role(key_client, tenant, role, method, path):
    # A route's methods are the same for every credential: a key whose role could not
    # use the method anyway is not told it lacks a role (403) for a method nobody has.
    log = EventLogFactory(event__tenant=tenant)
    url = path.format(log=log.pk, event=log.event_id)

    response = key_client(role).generic(method, url, data="{}", content_type="application/json")

    assert_json_error(response, 405)
    assert EventLog.objects.filter(pk=log.pk).exists()


def test_a_method_the_route_lacks_is_405_for_a_viewer(api_client, user, tenant):
    user.role = "viewer"
    user.save(update_fields=["role"])
    log = EventLogFactory(event__tenant=tenant)

    response = api_client.generic("DELETE", f"/api/eventlogs/{log.pk}")

    assert_json_error(response, 405)
    # A method the route has, and the viewer's role may not use, is still a 403.
    assert_json_error(api_client.post("/api/events/", {"name": "a"}, format="json"), 403)
    assert EventLog.objects.filter(pk=log.pk).exists()


# --- authentication ------------------------------------------------------------------

PROTECTED = [
    ("GET", "/api/events/"),
    ("POST", "/api/events/"),
    ("GET", "/api/events/1"),
    ("PATCH", "/api/events/1/"),
    ("DELETE", "/api/events/1"),
    ("GET", "/api/eventlogs/"),
    ("POST", "/api/eventlogs/"),
    ("POST", "/api/eventlogs"),
    ("GET", "/api/eventlogs/1"),
]


@pytest.mark.parametrize(("method", "url"), PROTECTED)
def test_no_token_is_401_with_www_authenticate(anon_client, db, method, url):
    response = anon_client.generic(
        method, url, data='{"event_name": "a"}', content_type="application/json"
    )

    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"
    assert_nothing_stored()


@pytest.mark.parametrize(("method", "url"), PROTECTED)
@pytest.mark.parametrize("header", ["Token not-a-real-token", "Token ", "Bearer abc", "Token a b"])
def test_bad_token_is_401(anon_client, db, method, url, header):
    anon_client.credentials(HTTP_AUTHORIZATION=header)

    response = anon_client.generic(
        method, url, data='{"event_name": "a"}', content_type="application/json"
    )

    assert_json_error(response, 401)
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ('{"event_name": "a\\u0000b"}', "event_name"),
        ('{"event_name": "a", "distinct_id": "u\\u0000"}', "distinct_id"),
        ('{"event_name": "a", "data": {"k": ["v", "\\u0000"]}}', "data.k[1]"),
        (f'{{"event_name": "a", "data": {{"n": {2**64}}}}}', "data.n"),
        ('{"event_name": "a", "count": 99999999999999999999}', "count"),
    ],
)
def test_an_unstorable_value_rejects_only_its_item_of_a_batch(api_client, tenant, item, named):
    """A NUL or an integer past 64 bits is a value like any other wrong one: its item is
    rejected with a receipt naming where it is, and the rest of the batch is stored."""
    kept = str(uuid.uuid4())
    item = item[:-1] + f', "uuid": "{uuid.uuid4()}"}}'
    body = f'{{"events": [{{"event_name": "ok", "uuid": "{kept}"}}, {item}]}}'

    response = post_raw(api_client, "/api/eventlogs/batch/", body)

    assert response.status_code == 200, response.content
    accepted, rejected = response.json()["receipts"]
    assert accepted["status"] == "accepted"
    assert rejected["status"] == "rejected"
    assert rejected["uuid"] is not None  # the item's own, for the client's retry queue
    assert list(rejected["errors"]) == [named]
    assert [str(log.uuid) for log in EventLog.objects.all()] == [kept]
    assert accounted(tenant) == {("accepted", ""): 1, ("rejected", "invalid_field"): 1}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('{"events": [{"event_name": "a"}], "sent_at": "2026-01-01\\u0000"}', "sent_at"),
        ('{"events": [{"event_name": "a"}], "x\\u0000": 1}', "x\x00"),
    ],
)
def test_an_unstorable_value_outside_the_items_refuses_the_batch(api_client, body, named):
    response = post_raw(api_client, "/api/eventlogs/batch/", body)

    assert_json_error(response, 400, named)
    assert_nothing_stored()


def accounted(tenant) -> dict[tuple[str, str], int]:
    totals = IngestionCountTotal.objects.filter(tenant=tenant).values("outcome", "reason")
    return {(row["outcome"], row["reason"]): row["n"] for row in totals.annotate(n=Sum("events"))}
