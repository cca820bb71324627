"""GET /api/stats/web and /api/stats/web/realtime: visits cut at gaps, bounces, durations,
entry and exit pages, sources, breakdowns, filters, comparison, zones, and tenancy."""

import datetime as dt
import json

import pytest
from django.db.models import Q
from django.utils import timezone

from accounts.tenancy import scope_to_tenant
from events.models import EventLog
from events.tests.factories import EventFactory, EventLogFactory
from events.validation import MAX_COUNT
from insights.engine import Window
from insights.spec import parse_filters
from webstats.filters import web_filters
from webstats.sessions import web_stats

pytestmark = pytest.mark.django_db
UTC = dt.UTC
URL = "/api/stats/web"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def site(tenant):
    """Two visitors over March 2026:
    - v1: /, /pricing, /signup 10:00-10:20 from Google on a desktop in DE, left /signup
      at 10:25; then /docs alone at 11:00 (a bounce: the gap is 40 minutes);
    - v2: / at 12:00 direct on a mobile in FR, a bounce, on day 2."""
    events = {name: EventFactory(tenant=tenant, name=name) for name in ("$pageview", "$pageleave")}

    def log(name, visitor, when, **data):
        EventLogFactory(event=events[name], distinct_id=visitor, timestamp=when, data=data)

    google = {
        "$source": "Google",
        "$channel": "search",
        "$country": "DE",
        "$device_type": "desktop",
        "$browser": "Chrome",
        "$os": "Windows",
    }
    log("$pageview", "v1", at(1, 10), **{"$pathname": "/", **google})
    log("$pageview", "v1", at(1, 10, 10), **{"$pathname": "/pricing", **google})
    log("$pageview", "v1", at(1, 10, 20), **{"$pathname": "/signup", **google})
    log("$pageleave", "v1", at(1, 10, 25), **{"$pathname": "/signup"})
    log("$pageview", "v1", at(1, 11, 5), **{"$pathname": "/docs", "$channel": "direct"})
    mobile = {"$channel": "direct", "$country": "FR", "$device_type": "mobile"}
    log("$pageview", "v2", at(2, 12), **{"$pathname": "/", **mobile})
    return tenant


def get(client, **params):
    query = {"start_date": "2026-03-01", "end_date": "2026-03-31", "tz": "UTC", **params}
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def test_headline_numbers(api_client, site):
    body = get(api_client)

    assert {key: body[key] for key in ("visitors", "visits", "pageviews")} == {
        "visitors": 2,
        "visits": 3,
        "pageviews": 5,
    }
    assert body["views_per_visit"] == round(5 / 3, 2)
    assert body["bounce_rate"] == round(2 / 3, 4)
    assert body["visit_duration"] == round(25 * 60 / 3, 1)  # 25 min, then two bounces of 0


def test_pages_entries_exits_and_sources(api_client, site):
    body = get(api_client)

    assert body["pages"][0] == {"page": "/", "visitors": 2, "pageviews": 2}
    assert {row["page"] for row in body["pages"]} == {"/", "/pricing", "/signup", "/docs"}
    assert body["entry_pages"] == [
        {"value": "/", "visitors": 2, "visits": 2},
        {"value": "/docs", "visitors": 1, "visits": 1},
    ]
    assert {row["value"]: row["visits"] for row in body["exit_pages"]} == {
        "/signup": 1,
        "/docs": 1,
        "/": 1,
    }
    assert body["channels"] == [
        {"value": "direct", "visitors": 2, "visits": 2},
        {"value": "search", "visitors": 1, "visits": 1},
    ]
    assert {row["value"] for row in body["sources"]} == {"Google", None}
    assert {row["value"] for row in body["countries"]} == {"DE", "FR", None}


def test_clicks_on_outbound_links_and_downloads(api_client, site, tenant):
    events = {name: EventFactory(tenant=tenant, name=name) for name in ("$outbound", "$download")}

    def click(name, visitor, when, url):
        EventLogFactory(event=events[name], distinct_id=visitor, timestamp=when, data={"url": url})

    docs = "https://docs.other.example/guide"
    click("$outbound", "v1", at(1, 10, 12), docs)  # during v1's first visit
    click("$outbound", "v1", at(1, 10, 22), docs)
    click("$download", "v2", at(2, 12, 1), "https://shop.example/price-list.pdf")
    click("$outbound", "v3", at(3, 9), docs)  # no page view: not a visit

    body = get(api_client)
    google = web_filters(parse_filters([["eq", "data.$source", "Google"]], "f"))
    from_google = web_stats_of(site, visits_with=google.visits)

    assert body["outbound_links"] == [{"value": docs, "visitors": 1, "events": 2}]
    assert body["downloads"] == [
        {"value": "https://shop.example/price-list.pdf", "visitors": 1, "events": 1}
    ]
    assert (body["visits"], body["visitors"]) == (3, 2)  # the clicks make no visit
    # A visit lasts to its last event: v2's download a minute after its page view.
    assert body["visit_duration"] == round((25 * 60 + 60) / 3, 1)
    assert from_google["outbound_links"] == body["outbound_links"]
    assert from_google["downloads"] == []  # v2's visit came directly


def web_stats_of(tenant, **options):
    """The web stats of March 2026 in UTC, as the dashboard's page asks for them."""
    window = Window(at(1, 0), at(31, 0) + dt.timedelta(days=1))
    return web_stats(logs=scope_to_tenant(EventLog.objects.all(), tenant), window=window,
                     tz=dt.UTC, session_minutes=30, conditions=Q(), limit=10,
                     interval="day", now=at(31, 0), **options)  # fmt: skip


def test_limit_and_timeseries(api_client, site):
    body = get(api_client, limit=1)

    assert len(body["pages"]) == 1
    assert body["interval"] == "day"
    days = {row["date"]: row for row in body["timeseries"]}
    assert days["2026-03-01"] == {"date": "2026-03-01", "visitors": 1, "pageviews": 4, "visits": 2}
    assert days["2026-03-02"]["visitors"] == 1
    assert days["2026-03-03"] == {"date": "2026-03-03", "visitors": 0, "pageviews": 0, "visits": 0}


def test_the_tenants_session_length(api_client, site):
    site.session_minutes = 60
    site.save()

    body = get(api_client)

    assert body["visits"] == 2  # v1's 40-minute gap no longer ends a visit
    assert body["bounce_rate"] == 0.5


def test_a_page_read_longer_than_a_session_counts_its_time(api_client, tenant):
    """r reads /article for 45 minutes (its leave comes then, the tab visible all along),
    then views /next: one visit of two views. A leave of another page after a gap opens
    nothing. The leave opened a visit of no view, dropped: the read was a bounce of 0 s."""
    view, leave = (EventFactory(tenant=tenant, name=name) for name in ("$pageview", "$pageleave"))
    for event, when, path in (
        (view, at(1, 10), "/article"),
        (leave, at(1, 10, 45), "/article"),
        (view, at(1, 10, 50), "/next"),
        (leave, at(1, 12), "/elsewhere"),
    ):
        EventLogFactory(event=event, distinct_id="r", timestamp=when, data={"$pathname": path})

    body = get(api_client)

    assert (body["visits"], body["pageviews"], body["bounce_rate"]) == (1, 2, 0)
    assert body["visit_duration"] == 50 * 60
    assert body["exit_pages"] == [{"value": "/next", "visitors": 1, "visits": 1}]


def test_a_page_shown_again_later_is_not_read_all_along(api_client, tenant):
    """r hides the tab of /article after 5 minutes (a leave), looks at it again the next
    morning and hides it after 5 more (the tracker's second leave of the same view): the
    page was not read all along, so that leave opens nothing. It joined the visit, one
    of 23 hours 5 minutes."""
    view, leave = (EventFactory(tenant=tenant, name=name) for name in ("$pageview", "$pageleave"))
    for event, when, path in (
        (view, at(1, 10), "/article"),
        (leave, at(1, 10, 5), "/article"),
        (leave, at(2, 9, 5), "/article"),
    ):
        EventLogFactory(event=event, distinct_id="r", timestamp=when, data={"$pathname": path})

    body = get(api_client)

    assert (body["visits"], body["pageviews"], body["bounce_rate"]) == (1, 1, 1)
    assert body["visit_duration"] == 5 * 60


def test_filters_on_page_views(api_client, site):
    body = get(api_client, filters=json.dumps([["eq", "data.$country", "DE"]]))

    assert (body["visitors"], body["pageviews"]) == (1, 3)


def test_a_visit_property_filters_whole_visits(api_client, tenant):
    """The second view has an internal referrer: no $source of its own, still the visit's."""
    view = EventFactory(tenant=tenant, name="$pageview")
    google = {"$source": "Google", "$device_type": "tablet"}
    EventLogFactory(
        event=view, distinct_id="v", timestamp=at(1, 10), data={"$pathname": "/", **google}
    )
    EventLogFactory(event=view, distinct_id="v", timestamp=at(1, 10, 3), data={"$pathname": "/b"})
    EventLogFactory(event=view, distinct_id="w", timestamp=at(1, 11), data={"$pathname": "/b"})

    def numbers(*filters):
        body = get(api_client, filters=json.dumps(list(filters)))
        return body["visits"], body["pageviews"], body["bounce_rate"], body["visit_duration"]

    assert numbers(["eq", "data.$source", "Google"]) == (1, 2, 0.0, 180.0)
    assert numbers(["in", "data.$device_type", ["tablet", "mobile"]]) == (1, 2, 0.0, 180.0)
    assert numbers(["eq", "data.$entry_page", "/b"]) == (1, 1, 1.0, 0.0)  # w's visit
    assert numbers(["not", ["eq", "data.$source", "Google"]]) == (1, 1, 1.0, 0.0)
    assert numbers(["eq", "data.$pathname", "/b"])[:2] == (2, 2)  # a page: those page views


def test_a_zone_moves_the_days(api_client, site):
    utc = get(api_client, start_date="2026-03-02", end_date="2026-03-02")
    kiritimati = get(
        api_client, tz="Pacific/Kiritimati", start_date="2026-03-02", end_date="2026-03-02"
    )

    assert (utc["pageviews"], utc["interval"]) == (1, "hour")
    # UTC+14: v1's 10:00-11:05 UTC on March 1st is March 2nd there, v2's noon March 3rd.
    assert (kiritimati["visitors"], kiritimati["pageviews"]) == (1, 4)
    assert kiritimati["timeseries"][0]["date"] == "2026-03-02T00:00:00+14:00"


def test_compare_with_the_previous_period(api_client, site):
    body = get(
        api_client, start_date="2026-03-02", end_date="2026-03-02", compare="previous_period"
    )

    assert body["visitors"] == 1
    assert body["previous"]["date_range"]["start"].startswith("2026-03-01")
    assert (body["previous"]["visits"], body["previous"]["pageviews"]) == (2, 4)


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "0001-01-02", "end_date": "0001-01-03"},  # before the year 1
        {"start_date": "0001-01-01", "end_date": "0001-01-03"},  # the first day: open
        {"date_range": "all"},
        {"start_date": "2026-03-01"},
        {"end_date": "2026-03-01"},
    ],
)
def test_compare_needs_a_previous_period_in_the_calendar(api_client, params):
    # As /api/query: a 400, never a comparison silently left out.
    response = api_client.get(URL, {"compare": "previous_period", "tz": "UTC", **params})

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["compare"]


def test_another_tenants_page_views_are_not_counted(other_client, site):
    body = get(other_client)

    assert (body["visitors"], body["pageviews"], body["pages"]) == (0, 0, [])


def test_a_preset_range(api_client, tenant):
    event = EventFactory(tenant=tenant, name="$pageview")
    EventLogFactory(event=event, distinct_id="v", timestamp=timezone.now(), data={"$pathname": "/"})

    body = api_client.get(URL, {"date_range": "7d"}).json()

    assert (body["visitors"], body["pages"][0]["page"]) == (1, "/")


def test_the_automatic_interval_grows_to_fit_an_open_range(api_client, tenant):
    event = EventFactory(tenant=tenant, name="$pageview")
    old = dt.datetime(1971, 1, 4, tzinfo=UTC)
    EventLogFactory(event=event, distinct_id="v", timestamp=old, data={"$pathname": "/"})
    EventLogFactory(event=event, distinct_id="v", timestamp=timezone.now(), data={})

    body = api_client.get(URL, {"date_range": "all", "tz": "UTC"}).json()
    asked = api_client.get(URL, {"date_range": "all", "interval": "day"})

    assert (body["interval"], body["pageviews"]) == ("week", 2)
    assert body["timeseries"][0] == {
        "date": "1971-01-04",
        "visitors": 1,
        "pageviews": 1,
        "visits": 1,
    }
    assert asked.status_code == 400  # an interval the client gave is not changed
    assert "interval" in asked.json()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"filters": "[not json"}, "filters"),
        ({"filters": "[" * 20000 + "]" * 20000}, "filters"),
        ({"filters": "[" * 40 + "]" * 40}, "filters"),
        ({"filters": '[["eq", "data.n", NaN]]'}, "filters"),
        ({"filters": json.dumps([["zz", "event", "a"]])}, "filters"),
        ({"date_range": "forever"}, "date_range"),
        ({"date_range": "7d", "start_date": "2026-03-01"}, "date_range"),
        ({"limit": "0"}, "limit"),
        ({"compare": "last_year"}, "compare"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"start_date": "2026-02-30"}, "start_date"),
    ],
)
def test_bad_queries_are_400s_naming_the_parameter(api_client, params, field):
    response = api_client.get(URL, params)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("value", ["forever", '{"start": "2026-03-01"}'])
def test_a_bad_date_range_is_told_what_this_endpoint_accepts(api_client, value):
    response = api_client.get(URL, {"date_range": value})

    assert response.status_code == 400
    message = response.json()["date_range"][0]
    assert "start_date and end_date" in message
    assert "{" not in message  # the query API's object form is not one of them


def test_anonymous_is_401(anon_client):
    assert anon_client.get(URL).status_code == 401


def test_realtime_counts_the_last_minutes(api_client, tenant, other_tenant):
    now = timezone.now()
    views = EventFactory(tenant=tenant, name="$pageview")
    EventLogFactory(event=views, distinct_id="a", timestamp=now - dt.timedelta(minutes=1))
    EventLogFactory(event=views, distinct_id="a", timestamp=now - dt.timedelta(minutes=2))
    EventLogFactory(event=views, distinct_id="b", timestamp=now - dt.timedelta(minutes=9))
    theirs = EventFactory(tenant=other_tenant, name="$pageview")
    EventLogFactory(event=theirs, distinct_id="c", timestamp=now)

    body = api_client.get(f"{URL}/realtime").json()
    wider = api_client.get(f"{URL}/realtime", {"minutes": 10}).json()

    assert body == {"minutes": 5, "visitors": 1, "pageviews": 2}
    assert (wider["visitors"], wider["pageviews"]) == (2, 3)
    assert api_client.get(f"{URL}/realtime", {"minutes": 0}).status_code == 400


@pytest.mark.parametrize(
    ("query", "named"), [({"bogus": 1}, "bogus"), ({"minutes": ""}, "minutes")]
)
def test_realtime_names_a_parameter_it_does_not_take(api_client, query, named):
    response = api_client.get(f"{URL}/realtime", query)

    assert response.status_code == 400  # an unknown one was ignored
    assert list(response.json()) == [named]


def test_ratios_round_a_half_up_from_the_counts(api_client, tenant):
    """9 page views in 8 visits are 1.125 views per visit: 1.13 (Python's round of the
    float gave 1.12); one visit of 2 s among 8 lasts 0.25 s on average: 0.3, not 0.2."""
    view = EventFactory(tenant=tenant, name="$pageview")
    for visitor in range(8):
        EventLogFactory(event=view, distinct_id=f"v{visitor}", timestamp=at(3, 9))
    two_seconds_later = at(3, 9) + dt.timedelta(seconds=2)
    EventLogFactory(event=view, distinct_id="v0", timestamp=two_seconds_later)

    body = get(api_client)

    assert (body["visits"], body["pageviews"]) == (8, 9)
    assert body["views_per_visit"] == 1.13
    assert body["bounce_rate"] == 0.875
    assert body["visit_duration"] == 0.3


def test_a_log_counts_as_the_page_views_it_stands_for(api_client, tenant):
    # A log's `count` is the occurrences it stands for, as /api/query and every stats
    # route read it: a server sending {"count": 3} sent three page views, not one bounce.
    events = {name: EventFactory(tenant=tenant, name=name) for name in ("$pageview", "$outbound")}
    page = {"$pathname": "/", "$source": "Google"}
    EventLogFactory(
        event=events["$pageview"], distinct_id="v", timestamp=at(1, 10), data=page, count=3
    )
    url = {"url": "https://docs.example/"}
    EventLogFactory(
        event=events["$outbound"], distinct_id="v", timestamp=at(1, 10, 5), data=url, count=2
    )
    now = timezone.now()
    EventLogFactory(event=events["$pageview"], distinct_id="w", timestamp=now, count=4)

    body = get(api_client)
    frequency = api_client.get(
        "/api/stats/event_frequency",
        {"event_name": "$pageview", "start_date": "2026-03-01", "end_date": "2026-03-31"},
    ).json()
    realtime = api_client.get(f"{URL}/realtime").json()

    assert (body["visits"], body["pageviews"], frequency["total"]) == (1, 3, 3)
    assert (body["bounce_rate"], body["views_per_visit"]) == (0.0, 3.0)
    assert body["pages"] == [{"page": "/", "visitors": 1, "pageviews": 3}]
    assert sum(row["pageviews"] for row in body["timeseries"]) == 3
    assert body["outbound_links"] == [{"value": url["url"], "visitors": 1, "events": 2}]
    assert (realtime["visitors"], realtime["pageviews"]) == (1, 4)


def test_a_log_of_the_largest_count_is_weighed_not_repeated(api_client, tenant):
    """A log's count reaches 2**31 - 1: it weighs its page view, never repeats it (a list
    of two billion page views would take the worker's memory)."""
    pageview = EventFactory(tenant=tenant, name="$pageview")
    page = {"$pathname": "/", "$source": "Google"}
    EventLogFactory(
        event=pageview, distinct_id="v", timestamp=at(1, 10), data=page, count=MAX_COUNT
    )

    body = get(api_client)

    assert (body["visits"], body["pageviews"], body["bounce_rate"]) == (1, MAX_COUNT, 0.0)
    assert body["pages"] == [{"page": "/", "visitors": 1, "pageviews": MAX_COUNT}]
