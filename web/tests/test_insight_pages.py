"""The insight pages: query builder, funnel and retention forms answered as a table and
the API's chart; the saved dashboards with their tiles; tenancy."""

import re
from html import unescape

import pytest

from insights.tables import PAGE_ROWS

pytestmark = pytest.mark.django_db

RANGE = {"start_date": "2024-05-01", "end_date": "2024-05-31", "tz": "UTC"}
EVENTS = [
    {
        "event_name": "view",
        "distinct_id": "u1",
        "timestamp": "2024-05-02T10:00:00Z",
        "data": {"plan": "pro"},
    },
    {
        "event_name": "view",
        "distinct_id": "u2",
        "timestamp": "2024-05-02T11:00:00Z",
        "data": {"plan": "free"},
    },
    {
        "event_name": "buy",
        "distinct_id": "u1",
        "timestamp": "2024-05-03T10:00:00Z",
        "data": {"plan": "pro"},
    },
    {
        "event_name": "view",
        "distinct_id": "u1",
        "timestamp": "2024-05-10T10:00:00Z",
        "data": {"plan": "pro"},
    },
]


def cells(html: str) -> list[list[str]]:
    table = re.search(r'<table id="insight-table">(.*?)</table>', html, re.DOTALL)
    assert table, "no answer table"
    return [
        [unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.DOTALL)
        if "<td>" in row
    ]


def chart(html: str) -> str:
    return unescape(re.search(r'<img id="insight-chart" src="([^"]+)"', html).group(1))


def test_the_query_builder_answers_with_a_table_and_the_apis_chart(web_client, api_client, ingest):
    ingest(api_client, EVENTS)

    page = web_client.get(
        "/dashboard/query/",
        {**RANGE, "event": "view", "metric": "uniques", "breakdown": "data.plan", "interval": ""},
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert cells(html) == [["free", "1"], ["pro", "1"]]
    image = web_client.get(chart(html))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"


def test_a_filter_and_a_time_breakdown(web_client, api_client, ingest):
    ingest(api_client, EVENTS)

    page = web_client.get(
        "/dashboard/query/",
        {
            **RANGE,
            "metric": "events",
            "interval": "week",
            "filter_field": "data.plan",
            "filter_op": "eq",
            "filter_value": "pro",
        },
    )

    weeks = cells(page.content.decode())
    assert ["2024-04-29", "2"] in weeks  # u1's view and buy of that week
    assert ["2024-05-06", "1"] in weeks


def test_a_long_answer_shows_its_first_rows_and_links_all_of_them(web_client, api_client, ingest):
    """README: a page shows a table's first 500 rows, and a link to the rest."""
    ingest(api_client, EVENTS)

    page = web_client.get("/dashboard/query/", {**RANGE, "metric": "events", "interval": "hour"})

    html = page.content.decode()
    assert len(cells(html)) == PAGE_ROWS
    found = re.search(r'The first 500 rows; 244 more in <a href="([^"]+)">its data</a>', html)
    assert found, "no link to the rest"
    data = web_client.get(unescape(found.group(1)))
    assert data.status_code == 200
    assert data["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(data.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 31 * 24  # the header, every hour of May
    assert lines[1:].count("2024-05-02T10:00:00+00:00,1") == 1


def test_funnel_and_retention_pages(web_client, api_client, ingest):
    ingest(api_client, EVENTS)

    funnel = web_client.get(
        "/dashboard/funnels/", {**RANGE, "steps": "view, buy", "window": "7d", "order": "ordered"}
    )
    retention = web_client.get(
        "/dashboard/retention/",
        {
            **RANGE,
            "start_date": "2024-04-29",
            "end_date": "2024-05-12",
            "cohort": "view",
            "returning": "",
            "period": "week",
            "periods": "2",
        },
    )

    assert [row[:3] for row in cells(funnel.content.decode())] == [
        ["1", "view", "2"],
        ["2", "buy", "1"],
    ]
    assert cells(retention.content.decode())[0][:4] == ["2024-04-29", "2", "2", "1"]
    for page in (funnel, retention):
        assert web_client.get(chart(page.content.decode()))["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("path", "defaults"),
    [
        ("/dashboard/query/", ['name="metric"']),
        ("/dashboard/funnels/", ['name="window" value="14d"']),
        ("/dashboard/retention/", ['name="periods" value="8"']),
    ],
)
def test_the_first_visit_shows_the_defaults_and_no_error(web_client, tenant, path, defaults):
    page = web_client.get(path)

    html = page.content.decode()
    assert page.status_code == 200
    assert "could not be shown" not in html
    assert "This field is required" not in html
    assert f'<option value="{tenant.timezone}" selected>' in html
    assert re.search(r'name="end_date" value="\d{4}-\d\d-\d\d"', html)
    for default in defaults:
        assert default in html
    assert 'id="insight-table"' not in html


def test_the_event_names_listed_to_fill_the_form_are_bounded(web_client, tenant, monkeypatch):
    """A tenant of thousands of event names had them all on every insight page."""
    monkeypatch.setattr("web.insights.EVENT_NAMES", 2)
    for name in ("c", "a", "b"):
        tenant.events.create(name=name)

    html = web_client.get("/dashboard/query/").content.decode()

    listed = re.search(r'id="event-names">(.*?)</p>', html, re.DOTALL).group(1)
    assert re.findall(r"<code>([^<]*)</code>", listed) == ["a", "b"]
    assert 'and 1 more (<a href="/api/events">all of them</a>)' in listed


def test_a_submit_missing_a_field_is_then_an_error(web_client):
    page = web_client.get("/dashboard/funnels/", {"order": "ordered"})

    assert page.status_code == 400
    assert "Steps: This field is required." in page.content.decode()


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/dashboard/query/", {"breakdown": "plan"}, "Unknown field"),
        ("/dashboard/funnels/", {"steps": "view", "window": "7d", "order": "ordered"}, "2 to 20"),
        ("/dashboard/funnels/", {"steps": "a, b", "window": "99d", "order": "ordered"}, "90d"),
        ("/dashboard/retention/", {"cohort": "a", "period": "week", "periods": "99"}, "52"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(web_client, path, query, message):
    page = web_client.get(path, {**RANGE, "metric": "events", **query})

    assert page.status_code == 400
    assert message in page.content.decode()


def test_saved_dashboards_show_their_tiles_and_nothing_of_another_tenant(
    web_client, api_client, other_client, ingest
):
    ingest(api_client, EVENTS)
    query = {
        "metrics": ["uniques"],
        "breakdown": ["event"],
        "date_range": {"start": "2024-05-01", "end": "2024-05-31"},
    }
    insight = api_client.post(
        "/api/insights/",
        {"name": "Users per event", "kind": "query", "definition": query},
        format="json",
    ).json()
    board = api_client.post(
        "/api/dashboards/", {"name": "May", "insights": [insight["id"]]}, format="json"
    ).json()
    theirs = other_client.post("/api/dashboards/", {"name": "Theirs"}, format="json").json()

    listing = web_client.get("/dashboard/boards/").content.decode()
    page = web_client.get(f"/dashboard/boards/{board['id']}/")

    assert "May" in listing
    assert "Theirs" not in listing
    html = page.content.decode()
    assert "Users per event" in html
    assert "<td>view</td><td>2</td>" in html
    image = unescape(re.search(r'<img src="([^"]+)"', html).group(1))
    assert web_client.get(image)["Content-Type"] == "image/png"
    assert web_client.get(f"/dashboard/boards/{theirs['id']}/").status_code == 404


def test_anonymous_users_are_sent_to_the_login_page(client):
    for path in ("/dashboard/query/", "/dashboard/funnels/", "/dashboard/boards/"):
        assert client.get(path).status_code == 302


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/dashboard/query/", {"event": "view"}),
        ("/dashboard/funnels/", {"steps": "view, buy"}),
        ("/dashboard/funnels/", {"steps": "view, buy", "window": ""}),  # blank: 14 days
        ("/dashboard/retention/", {"cohort": "view"}),
    ],
)
def test_an_address_of_a_few_fields_answers_with_the_others_defaults(
    web_client, api_client, ingest, path, query
):
    """`?event=view` answered 'Metric: This field is required.' (400), and a funnel's
    blank window too, though the form shows those defaults and the range's are filled in."""
    ingest(api_client, EVENTS)

    page = web_client.get(path, {**RANGE, **query})

    assert page.status_code == 200, re.findall(
        r'role="alert">(.*?)</div>', page.content.decode(), re.S
    )
    assert cells(page.content.decode())
