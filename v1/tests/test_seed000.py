"""Seed 000's API at its own paths: the README walk-through with user and admin keys,
401/403/404 on every route, tenant isolation, and names matched exactly."""

import io
from urllib.parse import quote

import matplotlib.colors
import matplotlib.image
import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from events.models import Event, EventLog
from stats.charts import style

V1, ADMIN = "/api/v1", "/admin/v1"


def client_with(secret: str | None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_X_API_KEY=secret)
    return client


@pytest.fixture
def keys(tenant):
    return {
        role: client_with(api_key_create(tenant=tenant, name=role, role=role)[1])
        for role in ("ingest", "read", "admin")
    }


@pytest.fixture
def other_admin(other_tenant):
    return client_with(api_key_create(tenant=other_tenant, name="x", role="admin")[1])


def test_seed_000_walkthrough(keys, tenant):
    # POST with an empty body: one occurrence, now
    empty = keys["ingest"].post(f"{V1}/events/login1")
    assert empty.status_code == 201
    assert (empty.json()["event"], empty.json()["count"]) == ("login1", 1)
    # with count and date (UTC)
    dated = keys["ingest"].post(
        f"{V1}/events/login1", {"count": 3, "date": "2024-05-01 10:30:00"}, format="json"
    )
    assert dated.status_code == 201
    assert dated.json()["date"] == "2024-05-01 10:30:00"
    keys["ingest"].post(
        f"{V1}/events/logout", {"count": 0, "date": "2024-05-02 23:59:59"}, format="json"
    )
    today = empty.json()["date"][:10]

    listed = keys["read"].get(f"{V1}/events").json()
    assert listed == [
        {"event": "login1", "count": 3, "date": "2024-05-01"},
        {"event": "logout", "count": 1, "date": "2024-05-02"},
        {"event": "login1", "count": 1, "date": today},
    ]
    ranged = keys["read"].get(
        f"{V1}/events", {"start_date": "2024-05-01", "end_date": "2024-05-01"}
    )
    assert ranged.json() == [{"event": "login1", "count": 3, "date": "2024-05-01"}]
    assert (
        keys["read"]
        .get(f"{V1}/events", {"start_date": "2030-01-01", "end_date": "2030-01-02"})
        .json()
        == []
    )

    assert keys["read"].get(f"{V1}/event_history").json() == [
        {"event": "login1", "count": 4},
        {"event": "logout", "count": 1},
    ]

    hist = keys["read"].get(f"{V1}/event_frequencies/login1/hist")
    assert hist.status_code == 200
    assert hist["Content-Type"] == "image/png"

    assert keys["admin"].get(f"{ADMIN}/events/login1").json() == [
        {"event": "login1", "count": 3, "date": "2024-05-01"},
        {"event": "login1", "count": 1, "date": today},
    ]
    one = keys["admin"].get(f"{ADMIN}/event_frequencies/login1").json()
    assert one["event"] == "login1"
    assert one["count"] == 4
    hours = [0] * 24
    hours[10] += 3  # 2024-05-01 10:30
    hours[int(empty.json()["date"][11:13])] += 1  # now: at 10:xx UTC, the same hour
    assert one["hour_count"] == hours
    everything = keys["admin"].get(f"{ADMIN}/event_frequencies").json()
    assert [(row["event"], row["count"], len(row["hour_count"])) for row in everything] == [
        ("login1", 4, 24),
        ("logout", 1, 24),
    ]
    assert everything[1]["hour_count"][23] == 1

    deleted = keys["admin"].delete(f"{ADMIN}/events/login1")
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] == 4  # occurrences, as event_frequencies counted them
    assert deleted.json()["message"] == "Deleted 4 occurrence(s) of event 'login1'."
    assert keys["admin"].get(f"{ADMIN}/events/login1").status_code == 404
    assert keys["read"].get(f"{V1}/event_history").json() == [{"event": "logout", "count": 1}]
    assert EventLog.objects.filter(tenant=tenant).count() == 1


def test_user_tokens_work_on_both_apis(api_client):
    assert api_client.post(f"{V1}/events/signup").status_code == 201
    assert api_client.get(f"{V1}/events").status_code == 200
    assert api_client.get(f"{ADMIN}/events/signup").status_code == 200
    assert api_client.delete(f"{ADMIN}/events/signup").status_code == 200


def test_health_ping_needs_no_key(anon_client):
    response = anon_client.get("/health/ping")

    assert response.json() == "ping ok"


def test_admin_v1_routes_before_django_admin(keys):
    response = keys["admin"].get(f"{ADMIN}/event_frequencies")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")


ROUTES = [
    ("post", f"{V1}/events/x"),
    ("get", f"{V1}/events"),
    ("get", f"{V1}/event_history"),
    ("get", f"{V1}/event_frequencies/x/hist"),
    ("get", f"{ADMIN}/events/x"),
    ("delete", f"{ADMIN}/events/x"),
    ("get", f"{ADMIN}/event_frequencies"),
    ("get", f"{ADMIN}/event_frequencies/x"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
@pytest.mark.parametrize("secret", [None, "et_abcdefghijkl_wrong", "garbage"])
def test_every_route_is_401_without_a_valid_key(db, method, url, secret):
    response = getattr(client_with(secret), method)(url)

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("role", "method", "url"),
    [
        ("read", "post", f"{V1}/events/x"),
        ("ingest", "get", f"{V1}/events"),
        ("ingest", "get", f"{V1}/event_history"),
        ("ingest", "get", f"{V1}/event_frequencies/x/hist"),
        *[(role, m, u) for role in ("read", "ingest") for m, u in ROUTES if u.startswith(ADMIN)],
    ],
)
def test_wrong_role_is_403(keys, tenant, role, method, url):
    Event.objects.create(tenant=tenant, name="x")

    response = getattr(keys[role], method)(url)

    assert response.status_code == 403
    assert Event.objects.filter(tenant=tenant, name="x").exists()


@pytest.mark.parametrize(
    ("method", "url"), [(m, u) for m, u in ROUTES if "/x" in u and m != "post"]
)
def test_unknown_event_is_404(keys, method, url):
    response = getattr(keys["admin"], method)(url)

    assert response.status_code == 404
    assert response.json()["detail"] == "No event named 'x'."


def test_another_tenants_key_never_sees_or_deletes_our_events(keys, other_admin, tenant):
    keys["ingest"].post(f"{V1}/events/secret", {"count": 5}, format="json")

    assert other_admin.get(f"{V1}/events").json() == []
    assert other_admin.get(f"{V1}/event_history").json() == []
    assert other_admin.get(f"{ADMIN}/events/secret").status_code == 404
    assert other_admin.delete(f"{ADMIN}/events/secret").status_code == 404
    assert other_admin.get(f"{ADMIN}/event_frequencies/secret").status_code == 404
    assert other_admin.get(f"{V1}/event_frequencies/secret/hist").status_code == 404
    assert EventLog.objects.get(tenant=tenant).count == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": -1}, "count"),
        ({"count": "many"}, "count"),
        ({"date": "2024-13-01 00:00:00"}, "date"),
        ({"date": "yesterday"}, "date"),
        # Only the documented YYYY-MM-DD HH:mm:ss: no ISO 8601 "T", offset, or short form.
        ({"date": "2024-05-01T10:15"}, "date"),
        ({"date": "2024-05-01T10:15:00Z"}, "date"),
        ({"date": "2024-05-01 10:15:00+02:00"}, "date"),
        ({"date": "2024-05-01 10:15"}, "date"),
        ({"date": "2024-05-01"}, "date"),
        ({"date": "2024-05-01 10:15:00.5"}, "date"),
        ({"date": "2024-5-1 1:2:3"}, "date"),
        ({"date": "2024-05-01 10:15:0"}, "date"),
        ({"count": "3"}, "count"),
        ({"count": 3.0}, "count"),
        ({"count": True}, "count"),
        ({"when": "now"}, "when"),
    ],
)
def test_bad_post_body_is_400(keys, tenant, body, field):
    response = keys["ingest"].post(f"{V1}/events/x", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not EventLog.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"0", "a number"),
        (b"false", "a boolean"),
        (b"null", "null"),
        (b"[]", "an array"),
        (b"[1]", "an array"),
        (b'"x"', "a string"),
    ],
)
def test_a_body_that_is_not_an_object_is_400(keys, tenant, body, kind):
    """Falsy ones too: only an empty body stands for {} (one occurrence, now)."""
    response = keys["ingest"].generic(
        "POST", f"{V1}/events/x", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [f"The body must be a JSON object (or empty), not {kind}."]
    }
    assert not EventLog.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    "date", ["2024-05-01T10:15", "2024-13-01 00:00:00", "2024-02-30 10:00:00", 20240501]
)
def test_every_bad_date_names_the_documented_format(keys, date):
    """Whether the text has the wrong shape or names no date (DRF's own message would
    say hh:mm:ss for the latter), the answer is the README's."""
    response = keys["ingest"].post(f"{V1}/events/x", {"date": date}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "date": [
            "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:mm:ss."
        ]
    }


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("%ff", "Event name is not UTF-8: percent-encode its UTF-8 bytes (a literal % is %25)."),
        ("a%ffb", "Event name is not UTF-8: percent-encode its UTF-8 bytes (a literal % is %25)."),
        ("a%0Ab", "Event name may not contain control characters."),
        ("a%0A", "Event name may not contain control characters."),
    ],
)
def test_a_name_not_utf8_or_with_control_characters_is_400(keys, tenant, path, problem):
    response = keys["ingest"].post(f"{V1}/events/{path}")

    assert response.status_code == 400
    assert response.json() == {"name": [problem]}
    assert not Event.objects.filter(tenant=tenant).exists()


def test_a_literal_percent_name_is_still_its_text(keys, tenant):
    """`%25FF` is the name "%FF", which Django's path for `%ff` reads as too."""
    created = keys["ingest"].post(f"{V1}/events/%25FF")

    assert created.status_code == 201
    assert created.json()["event"] == "%FF"
    assert keys["admin"].get(f"{ADMIN}/events/%25FF").status_code == 200
    assert keys["admin"].get(f"{ADMIN}/events/%ff").status_code == 400
    assert keys["admin"].delete(f"{ADMIN}/events/%ff").status_code == 400
    assert Event.objects.filter(tenant=tenant, name="%FF").exists()


def test_malformed_json_is_400(keys, tenant):
    response = keys["ingest"].generic(
        "POST", f"{V1}/events/x", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["detail"]
    assert not EventLog.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(("start", "end"), [("2024-01-01", None), (None, "2024-01-01")])
def test_one_date_alone_is_400(keys, start, end):
    params = {k: v for k, v in {"start_date": start, "end_date": end}.items() if v}

    response = keys["read"].get(f"{V1}/events", params)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("2024-5-1", "2024-05-31", "start_date"), ("2024-05-01", "2024-5-31", "end_date")],
)
def test_query_dates_are_written_yyyy_mm_dd(keys, start, end, field):
    response = keys["read"].get(f"{V1}/events", {"start_date": start, "end_date": end})

    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.json()[field][0]


def test_an_unknown_query_parameter_is_400(keys):
    response = keys["read"].get(f"{V1}/events", {"day": "2024-05-01"})

    assert response.status_code == 400
    assert response.json() == {"day": ["Unknown parameter."]}


def test_a_range_over_the_limit_is_400(keys):
    response = keys["read"].get(
        f"{V1}/events", {"start_date": "2000-01-01", "end_date": "2024-01-01"}
    )

    assert response.status_code == 400
    assert "at most 3660 days" in response.json()["end_date"][0]


@pytest.mark.parametrize(
    "name", ["%", "_", "log_n", "it's", 'say "hi"', "two words", "café ☕", "🎉"]
)
def test_names_are_ordinary_characters(keys, tenant, name):
    keys["ingest"].post(f"{V1}/events/login", {"count": 7}, format="json")
    keys["ingest"].post(f"{V1}/events/{quote(name)}", {"count": 2}, format="json")

    assert Event.objects.filter(tenant=tenant, name=name).exists()
    assert keys["admin"].get(f"{ADMIN}/events/{quote(name)}").json()[0]["count"] == 2
    assert keys["admin"].delete(f"{ADMIN}/events/{quote(name)}").json()["deleted"] == 2
    assert keys["read"].get(f"{V1}/event_history").json() == [{"event": "login", "count": 7}]


def test_posting_log_n_never_touches_login(keys, tenant):
    keys["ingest"].post(f"{V1}/events/login", {"count": 7}, format="json")

    keys["ingest"].post(f"{V1}/events/log_n")
    keys["admin"].delete(f"{ADMIN}/events/log%25")

    assert sorted(Event.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "log_n",
        "login",
    ]
    assert keys["admin"].get(f"{ADMIN}/events/login").json()[0]["count"] == 7


def test_deleting_percent_deletes_only_percent(keys, tenant):
    for name in ("%", "100%", "a%b"):
        keys["ingest"].post(f"{V1}/events/{quote(name)}")

    response = keys["admin"].delete(f"{ADMIN}/events/%25")

    assert response.json()["deleted"] == 1
    assert sorted(Event.objects.filter(tenant=tenant).values_list("name", flat=True)) == [
        "100%",
        "a%b",
    ]


def test_histogram_bars_follow_the_hours(keys):
    keys["ingest"].post(
        f"{V1}/events/x", {"count": 9, "date": "2024-01-01 03:10:00"}, format="json"
    )
    keys["ingest"].post(
        f"{V1}/events/x", {"count": 1, "date": "2024-01-01 20:10:00"}, format="json"
    )

    image = matplotlib.image.imread(
        io.BytesIO(keys["read"].get(f"{V1}/event_frequencies/x/hist").content), format="png"
    )

    assert image.shape[:2] == (400, 800)
    # Columns holding bar colour: the bar for 03:00 is far taller than the one for 20:00.
    heights = _bar_heights(image)
    assert len(heights) == 2
    assert heights[0] > 5 * heights[1]


def _bar_heights(image) -> list[int]:
    """Height in pixels of each run of columns painted in the bar colour, left to right."""
    target = matplotlib.colors.to_rgb(style.BAR_COLOR)
    painted = (abs(image[:, :, :3] - target) < 0.02).all(axis=2)
    runs, current = [], 0
    for height in painted.sum(axis=0):
        if height:
            current = max(current, int(height))
        elif current:
            runs.append(current)
            current = 0
    return runs


def test_histogram_repeat_with_its_etag_is_304(keys):
    keys["ingest"].post(f"{V1}/events/x")
    url = f"{V1}/event_frequencies/x/hist"

    first = keys["read"].get(url)
    repeat = keys["read"].get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    keys["ingest"].post(f"{V1}/events/x")
    changed = keys["read"].get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert repeat.status_code == 304
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_one_trailing_slash_is_the_optional_slash_not_part_of_the_name(keys, tenant):
    assert keys["ingest"].post(f"{V1}/events/trail/").json()["event"] == "trail"
    keys["ingest"].post(f"{V1}/events/trail")

    assert set(Event.objects.filter(tenant=tenant).values_list("name", flat=True)) == {"trail"}
    assert keys["admin"].get(f"{ADMIN}/events/trail/").json()[0]["count"] == 2
    assert keys["admin"].get(f"{ADMIN}/event_frequencies/trail/").json()["count"] == 2
    assert keys["read"].get(f"{V1}/event_frequencies/trail/hist/").status_code == 200
    assert keys["admin"].delete(f"{ADMIN}/events/trail/").json()["deleted"] == 2


def test_a_name_ending_in_a_slash_is_addressed_with_a_second_slash(keys, tenant):
    assert keys["ingest"].post(f"{V1}/events/a/b//").json()["event"] == "a/b/"
    assert keys["ingest"].post(f"{V1}/events/a/b").json()["event"] == "a/b"

    assert keys["admin"].get(f"{ADMIN}/events/a/b//").json()[0]["count"] == 1
    assert keys["admin"].delete(f"{ADMIN}/events/a/b%2F/").json()["deleted"] == 1
    assert list(Event.objects.filter(tenant=tenant).values_list("name", flat=True)) == ["a/b"]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize(
    "path",
    [
        f"{V1}/events/a%00",
        f"{V1}/event_frequencies/a%00/hist",
        f"{ADMIN}/events/a%00",
        f"{ADMIN}/event_frequencies/%00",
    ],
)
def test_a_nul_in_a_name_is_no_route(keys, method, path):
    """No name holds a NUL (PostgreSQL's text cannot): a 404, not a DataError's 500."""
    response = getattr(keys["admin"], method)(path)

    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."
