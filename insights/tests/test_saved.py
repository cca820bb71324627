"""Saved insights, dashboards, share links and annotations: CRUD, results, tenancy."""

import csv
import datetime as dt
import io
import json
from urllib.parse import quote

import pytest

from events.tests.factories import EventFactory, EventLogFactory
from insights.models import Dashboard, Insight

UTC = dt.UTC
QUERY = {
    "metrics": ["events"],
    "breakdown": ["time:day"],
    "date_range": {"start": "2024-01-01", "end": "2024-01-03"},
    "tz": "UTC",
}
FUNNEL = {"steps": ["view", "buy"], "date_range": {"start": "2024-01-01", "end": "2024-01-31"}}
RETENTION = {"cohort": "view", "period": "day", "periods": 2, "date_range": QUERY["date_range"]}


@pytest.fixture
def logs(tenant):
    view = EventFactory(tenant=tenant, name="view")
    buy = EventFactory(tenant=tenant, name="buy")
    EventLogFactory(event=view, distinct_id="u1", timestamp=dt.datetime(2024, 1, 2, 9, tzinfo=UTC))
    EventLogFactory(event=buy, distinct_id="u1", timestamp=dt.datetime(2024, 1, 2, 10, tzinfo=UTC))
    EventLogFactory(event=view, distinct_id="u2", timestamp=dt.datetime(2024, 1, 3, 9, tzinfo=UTC))


def create(client, route: str, body: dict):
    response = client.post(f"/api/{route}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
class TestInsights:
    def test_create_read_results_in_every_format(self, api_client, logs):
        insight = create(
            api_client, "insights", {"name": "Daily", "kind": "query", "definition": QUERY}
        )

        assert insight["chart"] == "line"  # a time breakdown: lines
        results = api_client.get(insight["results"])
        assert results.status_code == 200
        assert [row["events"] for row in results.json()["rows"]] == [0, 2, 1]
        png = api_client.get(f"/api/insights/{insight['id']}/results.png")
        assert png.content.startswith(b"\x89PNG")
        csv = api_client.get(f"/api/insights/{insight['id']}/results.csv")
        assert b"".join(csv.streaming_content).decode().splitlines()[0] == "time:day,events"
        posted = api_client.post(f"/api/insights/{insight['id']}/results?format=csv", {})
        assert posted.status_code == 405  # a saved insight is read, not posted
        assert posted["Content-Type"] == "application/json"

    @pytest.mark.parametrize(
        ("kind", "definition", "chart"),
        [("funnel", FUNNEL, "funnel"), ("retention", RETENTION, "heatmap")],
    )
    def test_funnels_and_retention_are_saved_too(self, api_client, logs, kind, definition, chart):
        insight = create(
            api_client, "insights", {"name": kind, "kind": kind, "definition": definition}
        )

        assert insight["chart"] == chart
        results = api_client.get(insight["results"]).json()
        assert ("steps" if kind == "funnel" else "cohorts") in results

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (
                {"name": "x", "kind": "query", "definition": {"metrics": "nope"}},
                "definition.metrics[0]",
            ),
            ({"name": "x", "kind": "funnel", "definition": {"steps": ["a"]}}, "definition.steps"),
            ({"name": "x", "kind": "query", "definition": QUERY, "chart": "heatmap"}, "chart"),
            ({"name": "x", "kind": "report", "definition": QUERY}, "kind"),
            ({"name": "x", "kind": "query", "definition": QUERY, "colour": 1}, "colour"),
        ],
    )
    def test_bad_insights_are_refused(self, api_client, body, field):
        response = api_client.post("/api/insights/", body, format="json")

        assert response.status_code == 400
        assert field in response.json()

    def test_update_rechecks_the_definition(self, api_client, logs):
        insight = create(
            api_client, "insights", {"name": "Daily", "kind": "query", "definition": QUERY}
        )

        bad = api_client.patch(
            f"/api/insights/{insight['id']}/", {"definition": {"limit": 0}}, format="json"
        )
        good = api_client.patch(f"/api/insights/{insight['id']}/", {"chart": "bar"}, format="json")

        assert list(bad.json()) == ["definition.limit"]
        assert good.json()["chart"] == "bar"


@pytest.mark.django_db
class TestDashboards:
    def test_tiles_in_order_over_the_dashboards_range(self, api_client, logs):
        daily = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
        funnel = create(
            api_client, "insights", {"name": "f", "kind": "funnel", "definition": FUNNEL}
        )

        board = create(
            api_client,
            "dashboards",
            {
                "name": "Main",
                "insights": [funnel["id"], daily["id"]],
                "date_range": {"start": "2024-01-02", "end": "2024-01-02"},
            },
        )

        assert board["insights"] == [funnel["id"], daily["id"]]
        assert board["share_url"] is None
        results = api_client.get(f"/api/insights/{daily['id']}/results?dashboard={board['id']}")
        assert [row["events"] for row in results.json()["rows"]] == [2]
        reordered = api_client.patch(
            f"/api/dashboards/{board['id']}/", {"insights": [daily["id"]]}, format="json"
        )
        assert reordered.json()["insights"] == [daily["id"]]

    def test_a_share_link_shows_only_that_dashboard_until_revoked(
        self, api_client, anon_client, logs
    ):
        daily = create(
            api_client, "insights", {"name": "Daily views", "kind": "query", "definition": QUERY}
        )
        board = create(api_client, "dashboards", {"name": "Public", "insights": [daily["id"]]})

        shared = api_client.post(f"/api/dashboards/{board['id']}/share/")
        url = shared.json()["share_url"]
        page = anon_client.get(url)

        assert page.status_code == 200
        html = page.content.decode()
        assert "Daily views" in html
        assert "<td>2</td>" in html  # the table, readable without the image
        tile = Dashboard.objects.get(pk=board["id"]).tiles.get()
        png = anon_client.get(f"{url}/tiles/{tile.pk}.png")
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")
        assert anon_client.get(f"{url}/tiles/{tile.pk + 1000}.png").status_code == 404
        assert api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"] == url
        assert api_client.delete(f"/api/dashboards/{board['id']}/share/").status_code == 204
        assert anon_client.get(url).status_code == 404
        assert anon_client.get(f"{url}/tiles/{tile.pk}.png").status_code == 404

    def test_a_shared_time_chart_marks_the_tenants_annotations(
        self, api_client, other_client, anon_client, logs
    ):
        daily = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
        board = create(api_client, "dashboards", {"name": "P", "insights": [daily["id"]]})
        url = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
        tile = Dashboard.objects.get(pk=board["id"]).tiles.get()
        before = anon_client.get(f"{url}/tiles/{tile.pk}.png")["ETag"]

        note = {"at": "2024-01-02T10:00:00Z", "text": "launch"}
        create(other_client, "annotations", note)  # another tenant's: not on this chart
        unchanged = anon_client.get(f"{url}/tiles/{tile.pk}.png")["ETag"]
        create(api_client, "annotations", note)
        marked = anon_client.get(f"{url}/tiles/{tile.pk}.png")

        assert unchanged == before
        assert marked.status_code == 200
        assert marked["ETag"] != before

    def test_a_tile_whose_range_the_calendar_cannot_hold_shows_the_error(
        self, api_client, anon_client, logs
    ):
        funnel = create(
            api_client, "insights", {"name": "f", "kind": "funnel", "definition": FUNNEL}
        )
        board = create(api_client, "dashboards", {"name": "B", "insights": [funnel["id"]]})
        # A range every query can read; a funnel reads 14 days past it.
        late = {"date_range": {"start": "9999-12-01", "end": "9999-12-30"}}
        patched = api_client.patch(f"/api/dashboards/{board['id']}/", late, format="json")
        assert patched.status_code == 200
        url = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
        tile = Dashboard.objects.get(pk=board["id"]).tiles.get()

        results = api_client.get(f"/api/insights/{funnel['id']}/results?dashboard={board['id']}")
        page = anon_client.get(url)
        data = anon_client.get(f"{url}/tiles/{tile.pk}.json")
        png = anon_client.get(f"{url}/tiles/{tile.pk}.png")

        assert results.status_code == 400
        assert "out of the calendar's range" in results.json()["date_range.end"][0]
        assert page.status_code == 200
        assert "out of the calendar&#x27;s range" in page.content.decode()
        assert data.status_code == 400  # was a 200 carrying the error
        assert data.json()["error"].startswith("date_range.end: Is out of the calendar's range")
        assert png.status_code == 400

    def test_bad_dashboards(self, api_client, other_client):
        theirs = create(
            other_client, "insights", {"name": "t", "kind": "query", "definition": QUERY}
        )

        for body, field in (
            ({"name": "x", "insights": [theirs["id"]]}, "insights"),
            ({"name": "x", "date_range": "week"}, "date_range"),
            ({"name": "x", "tz": "Mars/Base"}, "tz"),
        ):
            response = api_client.post("/api/dashboards/", body, format="json")
            assert response.status_code == 400
            assert field in response.json()


@pytest.mark.django_db
class TestAnnotations:
    def test_crud(self, api_client):
        note = create(api_client, "annotations", {"at": "2024-01-02T10:00:00Z", "text": "launch"})

        assert api_client.get("/api/annotations/").json()[0]["text"] == "launch"
        changed = api_client.patch(f"/api/annotations/{note['id']}/", {"text": "v2"}, format="json")
        assert changed.json()["text"] == "v2"
        assert api_client.delete(f"/api/annotations/{note['id']}/").status_code == 204
        bad = api_client.post("/api/annotations/", {"at": "soon", "text": "x"}, format="json")
        assert list(bad.json()) == ["at"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/stats/event_trend.png?start_date=2024-01-01&end_date=2024-01-03",
        "/api/stats/unique_users.png?start_date=2024-01-01&end_date=2024-01-03",
        "/api/query.png?q=" + quote(json.dumps(QUERY)),
    ],
)
def test_annotations_in_a_charts_range_mark_it(api_client, logs, path):
    before = api_client.get(path)["ETag"]
    create(api_client, "annotations", {"at": "2023-06-01T00:00:00Z", "text": "long before"})
    assert api_client.get(path)["ETag"] == before  # outside the range: the same chart

    create(api_client, "annotations", {"at": "2024-01-02T10:00:00Z", "text": "launch"})

    marked = api_client.get(path)
    assert marked.status_code == 200
    assert marked.content.startswith(b"\x89PNG")
    assert marked["ETag"] != before


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["insights", "dashboards", "annotations"])
def test_another_tenants_objects_are_404(api_client, other_client, logs, route):
    bodies = {
        "insights": {"name": "t", "kind": "query", "definition": QUERY},
        "dashboards": {"name": "t"},
        "annotations": {"at": "2024-01-02T10:00:00Z", "text": "t"},
    }
    theirs = create(other_client, route, bodies[route])
    path = f"/api/{route}/{theirs['id']}/"

    assert api_client.get(path).status_code == 404
    assert api_client.patch(path, {"name": "mine"}, format="json").status_code == 404
    assert api_client.delete(path).status_code == 404
    assert api_client.get(f"/api/{route}/").json() == []
    if route == "insights":
        assert api_client.get(f"{path}results").status_code == 404
    if route == "dashboards":
        assert api_client.post(f"{path}share/").status_code == 404
    assert other_client.get(path).status_code == 200


@pytest.mark.django_db
def test_a_dashboard_of_another_tenant_cannot_frame_an_insight(api_client, other_client, logs):
    mine = create(api_client, "insights", {"name": "m", "kind": "query", "definition": QUERY})
    board = create(other_client, "dashboards", {"name": "theirs"})

    response = api_client.get(f"/api/insights/{mine['id']}/results?dashboard={board['id']}")

    assert response.status_code == 404
    assert Insight.objects.filter(pk=mine["id"]).exists()


# A naive bound is read in the query's zone: with an aware one beside it, both are ordered
# once the zone is known (Kolkata: 05:30 local is 00:00 UTC).
MIXED = {"start": "2024-01-02T05:30:00", "end": "2024-01-03T00:00:00Z"}
BACKWARDS = {"start": "2024-01-03T05:30:01", "end": "2024-01-03T00:00:00Z"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("query", {**QUERY, "breakdown": [], "tz": "Asia/Kolkata"}),
        ("funnels", {**FUNNEL, "tz": "Asia/Kolkata"}),
        ("retention", {**RETENTION, "tz": "Asia/Kolkata"}),
    ],
)
def test_a_naive_and_an_aware_bound_make_one_range(api_client, logs, route, body):
    response = api_client.post(f"/api/{route}", {**body, "date_range": MIXED}, format="json")
    got = api_client.get(f"/api/{route}", {"q": json.dumps({**body, "date_range": MIXED})})
    backwards = api_client.post(f"/api/{route}", {**body, "date_range": BACKWARDS}, format="json")

    assert response.status_code == 200, response.json()
    assert got.status_code == 200, got.json()
    assert response.json()["date_range"] == {
        "start": "2024-01-02T05:30:00+05:30",
        "end": "2024-01-03T05:30:00+05:30",
    }
    assert backwards.status_code == 400
    assert backwards.json()["date_range.end"] == ["Is before start."]


@pytest.mark.django_db
def test_saved_insights_and_dashboards_take_a_naive_and_an_aware_bound(api_client, logs):
    definition = {**QUERY, "breakdown": [], "date_range": MIXED}
    insight = create(
        api_client, "insights", {"name": "m", "kind": "query", "definition": definition}
    )
    board = create(
        api_client,
        "dashboards",
        {"name": "m", "insights": [insight["id"]], "date_range": MIXED, "tz": "UTC"},
    )

    results = api_client.get(f"/api/insights/{insight['id']}/results?dashboard={board['id']}")

    assert results.status_code == 200, results.json()
    # In UTC: from 05:30 on the 2nd to midnight, the buy at 10:00 (the view at 09:00 too).
    assert results.json()["total"] == {"events": 2}


FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.mark.django_db
def test_csv_cells_never_run_as_formulas_and_numbers_stay_numbers(api_client, tenant):
    attack = EventFactory(tenant=tenant, name="@SUM(A1)")
    for user, plan, amount in (("u1", FORMULA, -5), ("u2", "-1+1", 2.5), ("u3", "pro", 1)):
        EventLogFactory(
            event=attack,
            distinct_id=user,
            timestamp=dt.datetime(2024, 1, 2, 9, tzinfo=UTC),
            data={"plan": plan, "amount": amount},
        )
    query = {
        "metrics": ["events", "sum:data.amount"],
        "breakdown": ["event", "data.plan"],
        "date_range": QUERY["date_range"],
        "order_by": ["data.plan"],
    }
    funnel = {**FUNNEL, "steps": ["@SUM(A1)", "@SUM(A1)"], "breakdown": "data.plan"}
    insight = create(api_client, "insights", {"name": "q", "kind": "query", "definition": query})

    def lines(response) -> list[list[str]]:
        assert response.status_code == 200
        return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    posted = lines(api_client.post("/api/query?format=csv", query, format="json"))
    saved = lines(api_client.get(f"/api/insights/{insight['id']}/results.csv"))
    funnel_lines = lines(api_client.post("/api/funnels.csv", funnel, format="json"))

    assert (
        posted
        == saved
        == [
            ["event", "data.plan", "events", "sum:data.amount"],
            ["'@SUM(A1)", "'-1+1", "1", "2.5"],
            ["'@SUM(A1)", f"'{FORMULA}", "1", "-5"],
            ["'@SUM(A1)", "pro", "1", "1"],
        ]
    )
    assert {line[0] for line in funnel_lines[1:]} == {"'-1+1", f"'{FORMULA}", "pro"}
    assert {line[2] for line in funnel_lines[1:]} == {"'@SUM(A1)"}


@pytest.mark.django_db
def test_a_nul_in_a_share_path_is_a_404(api_client, anon_client, logs):
    daily = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
    board = create(api_client, "dashboards", {"name": "P", "insights": [daily["id"]]})
    url = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
    tile = Dashboard.objects.get(pk=board["id"]).tiles.get()

    for path in ("/share/%00", f"{url}%00", f"{url}%00/tiles/{tile.pk}.json"):
        assert anon_client.get(path).status_code == 404, path
    assert anon_client.get(url).status_code == 200


@pytest.mark.django_db
def test_a_missing_shared_tile_is_a_json_404_even_under_debug(
    api_client, anon_client, logs, settings
):
    settings.DEBUG = True  # Django's own 404 page would answer an Http404
    daily = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
    board = create(api_client, "dashboards", {"name": "P", "insights": [daily["id"]]})
    url = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
    tile = Dashboard.objects.get(pk=board["id"]).tiles.get()
    unknown = [f"{url}/tiles/{tile.pk + 1000}{end}" for end in (".json", ".png", "")]
    api_client.delete(f"/api/dashboards/{board['id']}/share/")
    revoked = [f"{url}/tiles/{tile.pk}{end}" for end in (".json", ".png", "")]

    for path in unknown + revoked:
        response = anon_client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
        assert response.json()["detail"] == "Not found.", path


@pytest.mark.django_db
def test_a_dashboard_holds_at_most_50_tiles(api_client, django_assert_max_num_queries):
    insight = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
    fifty = create(api_client, "dashboards", {"name": "B", "insights": [insight["id"]] * 50})

    with django_assert_max_num_queries(10):  # refused before the ids are looked up
        created = api_client.post(
            "/api/dashboards/", {"name": "C", "insights": [insight["id"]] * 5000}, format="json"
        )
    patched = api_client.patch(
        f"/api/dashboards/{fifty['id']}/", {"insights": [insight["id"]] * 51}, format="json"
    )

    assert len(fifty["insights"]) == 50
    message = {"insights": ["At most 50 tiles on a dashboard."]}
    assert created.status_code == patched.status_code == 400
    assert created.json() == patched.json() == message
    assert api_client.get(f"/api/dashboards/{fifty['id']}/").json()["insights"] == fifty["insights"]


@pytest.mark.django_db
def test_insight_routes_refuse_repeated_and_unknown_parameters(api_client, logs):
    insight = create(api_client, "insights", {"name": "d", "kind": "query", "definition": QUERY})
    board = create(api_client, "dashboards", {"name": "B", "insights": [insight["id"]]})
    q = json.dumps(QUERY)
    results = f"/api/insights/{insight['id']}/results"
    twice = ["Given more than once."]
    unknown = ["Unknown parameter."]
    funnel = quote(json.dumps(FUNNEL))

    for path, error in (
        (f"/api/query?q={quote(q)}&q={quote(q)}", {"q": twice}),
        (f"/api/query?q={quote(q)}&format=csv&format=png", {"format": twice}),
        (f"/api/query?q={quote(q)}&width=400&width=500", {"width": twice}),
        (f"/api/query?q={quote(q)}&limit=5", {"limit": unknown}),
        (f"/api/funnels?q={funnel}&dashboard=1", {"dashboard": unknown}),
        (f"{results}?dashboard={board['id']}&dashboard={board['id']}", {"dashboard": twice}),
        (f"{results}?q={quote(q)}", {"q": unknown}),
        (f"{results}.png?colour=red", {"colour": unknown}),
        (f"/api/funnels/users?q={funnel}&step=2&step=2", {"step": twice}),
        (f"/api/funnels/users?q={funnel}&step=2&stauts=converted", {"stauts": unknown}),
    ):
        response = api_client.get(path)
        assert response.status_code == 400, path
        assert response["Content-Type"] == "application/json", path
        assert response.json() == error, path
    posted = api_client.post(f"/api/query?q={quote(q)}", QUERY, format="json")
    assert posted.json() == {"q": unknown}  # a POST's query is its body
    assert api_client.get(f"{results}?dashboard={board['id']}&width=400").status_code == 200
    assert api_client.get(f"/api/query.csv?q={quote(q)}").status_code == 200
    paged = api_client.get(f"/api/funnels/users?q={funnel}&step=2&limit=5&offset=0")
    assert paged.status_code == 200
