"""The dashboard: login, the tenant's stats for a range and zone, form errors, tenancy."""

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import api_key_create
from web.tests.markup import parse

pytestmark = pytest.mark.django_db
DASHBOARD = "/dashboard/"
LOGIN = "/dashboard/login/"
RANGE = {"start_date": "2024-05-01", "end_date": "2024-05-31", "tz": "Europe/Warsaw"}
CHART_ROUTES = {
    "/api/stats/event_trend.png",
    "/api/stats/event_frequency.png",
    "/api/stats/hourly_distribution.png",
    "/api/stats/ingestion.png",
}


def in_may(name: str, **fields) -> dict:
    return {"event_name": name, "timestamp": "2024-05-10T12:00:00Z", **fields}


def chart_queries(response) -> dict[str, dict[str, list[str]]]:
    """Each chart <img>'s path and query."""
    srcs = [urlsplit(img["src"]) for img in parse(response).all("img")]
    return {src.path: parse_qs(src.query) for src in srcs}


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={DASHBOARD}"


def test_logging_in_lands_on_the_dashboard(client, user):
    page = client.get(LOGIN)
    response = client.post(LOGIN, {"username": user.username, "password": "alpine12"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200


def test_a_wrong_password_is_a_message_on_the_login_page(client, user):
    response = client.post(LOGIN, {"username": user.username, "password": "wrong"})

    assert response.status_code == 400  # as every refused form of the dashboard
    assert "correct username and password" in response.content.decode()


@pytest.mark.parametrize(("method", "path"), [("post", "/"), ("get", "/dashboard/keys/")])
def test_a_method_a_page_does_not_take_is_a_405_page(web_client, method, path):
    response = getattr(web_client, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"].startswith("text/html")
    assert "<title>Method not allowed" in response.content.decode()


def test_logging_out_is_a_post_that_ends_the_session(web_client):
    assert web_client.get("/dashboard/logout/").status_code == 405

    response = web_client.post("/dashboard/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert web_client.get(DASHBOARD).status_code == 302


def test_the_frequency_table_lists_the_tenants_events(web_client, api_client, ingest):
    ingest(api_client, [in_may("signup")] * 3 + [in_may("click", count=2)])

    response = web_client.get(DASHBOARD, RANGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<th scope="row">signup</th><td class="num">3</td>' in html
    assert '<th scope="row">click</th><td class="num">2</td>' in html
    assert "Occurrences per event, 2024-05-01 to 2024-05-31, Europe/Warsaw" in html


def test_the_frequency_table_shows_the_most_frequent_and_links_the_rest(
    web_client, api_client, ingest, monkeypatch
):
    """A tenant of thousands of event names had a page of thousands of rows."""
    monkeypatch.setattr("web.dashboard.FREQUENCY_ROWS", 2)
    ingest(api_client, [in_may("a")] * 3 + [in_may("b")] * 2 + [in_may("c")])

    response = web_client.get(DASHBOARD, RANGE)

    html = unescape(response.content.decode())
    rows = re.findall(r'<th scope="row">([^<]*)</th><td class="num">', html)
    assert rows[:2] == ["a", "b"]
    assert "c" not in rows
    more = re.search(r'id="frequency-more">([^<]*)<a href="([^"]*)"', html)
    assert more is not None
    assert "1 more" in more.group(1)
    link = urlsplit(more.group(2))
    assert link.path == "/api/stats/event_frequency"
    assert parse_qs(link.query) == {name: [value] for name, value in RANGE.items()}
    assert api_client.get(more.group(2)).json()[2] == {"event_name": "c", "total": 1}


def test_every_chart_shows_the_chosen_range_and_zone(web_client):
    response = web_client.get(DASHBOARD, RANGE)

    charts = chart_queries(response)
    assert set(charts) == CHART_ROUTES
    for query in charts.values():
        assert query == {name: [value] for name, value in RANGE.items()}


def test_the_default_range_is_the_last_30_days_in_the_tenants_zone(web_client, tenant):
    tenant.timezone = "Pacific/Kiritimati"  # UTC+14: its "today" is often not UTC's
    tenant.save()
    today = timezone.now().astimezone(ZoneInfo("Pacific/Kiritimati")).date()

    response = web_client.get(DASHBOARD)

    expected = {
        "start_date": [(today - dt.timedelta(days=29)).isoformat()],
        "end_date": [today.isoformat()],
        "tz": ["Pacific/Kiritimati"],
    }
    assert all(query == expected for query in chart_queries(response).values())


def test_events_sent_now_show_with_the_default_range(web_client, api_client, ingest):
    ingest(api_client, [{"event_name": "visit"}])

    html = web_client.get(DASHBOARD).content.decode()

    assert '<th scope="row">visit</th><td class="num">1</td>' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start_date": "2024-13-01"}, "Enter a valid date."),
        ({"end_date": "yesterday"}, "Enter a valid date."),
        ({"tz": "Mars/Olympus_Mons"}, "Select a valid choice."),
        ({"start_date": "2024-05-02", "end_date": "2024-05-01"}, "before the start date"),
        ({"start_date": "1970-01-01", "end_date": "2999-12-31"}, "at most 3660 days"),
        ({"start_date": "0001-01-01"}, "greater than or equal to 1970-01-01"),
        ({"end_date": "9999-12-31"}, "less than or equal to 2999-12-31"),
        ({"start_date": ""}, "This field is required."),
    ],
)
def test_a_bad_range_is_a_form_error_not_a_500(web_client, query, message):
    response = web_client.get(DASHBOARD, query)

    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert message in html
    assert not parse(response).all("img")  # no charts of a range that does not exist


def test_nothing_of_another_tenant_appears(
    web_client, api_client, other_client, other_tenant, ingest
):
    ingest(api_client, [in_may("mine")])
    ingest(other_client, [in_may("theirs-event"), in_may("theirs-too", count=0)])
    api_key_create(tenant=other_tenant, name="their-key", role="read")

    response = web_client.get(DASHBOARD, RANGE)

    html = response.content.decode()
    assert '<th scope="row">mine</th><td class="num">1</td>' in html
    for theirs in ("theirs-event", "theirs-too", "their-key", other_tenant.name):
        assert theirs not in html
    # Their rejected item is not in our ingestion quality either: 1 request, 1 accepted.
    assert "invalid_field" not in html


def test_staff_see_only_their_own_tenant_too(user, api_client, other_client, ingest):
    user.is_staff = True
    user.save()
    ingest(other_client, [in_may("theirs-event")])
    client = Client()
    client.force_login(user)

    assert "theirs-event" not in client.get(DASHBOARD, RANGE).content.decode()


def test_ingestion_quality_lists_each_day_with_its_rejections(web_client, api_client, ingest):
    ingest(api_client, [in_may("ok"), in_may("ok", count=0), in_may("ok", timestamp="1900-01-01")])

    today = timezone.now().date().isoformat()  # counted by the day of receipt

    response = web_client.get(DASHBOARD, {"start_date": today, "end_date": today, "tz": "UTC"})

    html = response.content.decode()
    row = html[html.index(f'<th scope="row" class="date">{today}</th>') :]
    row = row[: row.index("</tr>")]
    cells = [cell.split("<")[0] for cell in row.split('<td class="num">')[1:]]
    # Requests valid and invalid; items accepted, duplicate and rejected.
    assert cells == ["1", "0", "1", "0", "2"]
    assert "<code>invalid_field</code>: 1" in row
    assert "<code>timestamp_out_of_range</code>: 1" in row


def test_a_day_without_requests_is_left_out(web_client):
    response = web_client.get(DASHBOARD, RANGE)

    assert "No ingestion requests in this range." in response.content.decode()


def test_the_chart_images_load_with_the_session(web_client, api_client, ingest):
    ingest(api_client, [in_may("signup")])

    for path, query in chart_queries(web_client.get(DASHBOARD, RANGE)).items():
        chart = web_client.get(path, {name: values[0] for name, values in query.items()})
        assert chart.status_code == 200, (path, chart.content)
        assert chart["Content-Type"] == "image/png"


def test_a_blocked_tenant_sees_a_message_instead_of_data(web_client, tenant, api_client, ingest):
    ingest(api_client, [in_may("signup")])
    api_key_create(tenant=tenant, name="kept-secret", role="read")
    tenant.is_active = False
    tenant.save()

    response = web_client.get(DASHBOARD, RANGE)

    html = response.content.decode()
    assert response.status_code == 403
    assert "is blocked" in html
    assert "signup" not in html
    assert "kept-secret" not in html
    assert not parse(response).all("img")


def test_the_dashboard_takes_a_fixed_number_of_queries(
    web_client, tenant, api_client, ingest, django_assert_max_num_queries
):
    ingest(api_client, [in_may(f"event-{n}") for n in range(20)])
    for n in range(5):
        api_key_create(tenant=tenant, name=f"key-{n}", role="ingest")

    # Session, user (with tenant), keys, frequency, ingestion; savepoints and session
    # writes around them. Independent of the number of events, keys and days.
    with django_assert_max_num_queries(8):
        web_client.get(DASHBOARD, RANGE)
