"""The web analytics page: headline numbers beside the previous period, the chart, the
panels whose rows filter the page, the realtime count; tenancy; accessibility."""

import datetime as dt
import io
import re
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from events.tests.factories import EventFactory, EventLogFactory
from web.tests.markup import parse
from web.tests.test_accessibility import assert_accessible
from webimports.importer import run_import
from webimports.uploads import Upload

pytestmark = pytest.mark.django_db
URL = "/dashboard/web/"


@pytest.fixture
def visits(tenant):
    """Today: v1 views / from Google in DE, then /pricing (a single-page app's second view:
    no referrer, no source of its own); v2 views / directly from FR.
    Five days ago: v3 views /, so the 7-day period has a period before it to compare."""
    views = EventFactory(tenant=tenant, name="$pageview")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    google = {"$source": "Google", "$channel": "search", "$country": "DE"}
    for visitor, minutes, data in (
        ("v1", 0, {"$pathname": "/", **google}),
        ("v1", 5, {"$pathname": "/pricing", "$channel": "direct"}),
        ("v2", 10, {"$pathname": "/", "$channel": "direct", "$country": "FR"}),
    ):
        when = min(now + dt.timedelta(minutes=minutes), timezone.now())
        EventLogFactory(event=views, distinct_id=visitor, timestamp=when, data=data)
    EventLogFactory(
        event=views,
        distinct_id="v3",
        timestamp=timezone.now() - dt.timedelta(days=9),
        data={"$pathname": "/"},
    )


def card(html: str, key: str) -> str:
    found = re.search(rf'data-key="{key}">.*?card-value">([^<]*)<', html, re.DOTALL)
    return unescape(found.group(1))


def test_the_page_counts_todays_visits(web_client, visits):
    html = web_client.get(URL, {"period": "today"}).content.decode()

    counts = [card(html, key) for key in ("visitors", "visits", "pageviews")]
    assert counts == ["2", "2", "3"]
    assert card(html, "bounce_rate") == "50%"
    assert '<a href="?period=today&amp;f=%24source%3AGoogle">Google</a>' in html
    assert "Direct / none" in html  # v2's visit has no source
    assert re.search(r'id="realtime"><strong>\d+</strong>', html)
    assert html.count("<rect ") == timezone.now().hour + 1  # a bar per hour of today so far


def test_a_rows_link_filters_the_whole_page_by_visit(web_client, visits):
    html = web_client.get(URL, {"period": "today", "f": "$source:Google"}).content.decode()

    # The visits from Google, with all their pages (/pricing has no source of its own).
    assert (card(html, "visitors"), card(html, "pageviews")) == ("1", "2")
    assert 'id="filters"' in html
    assert "FR" not in re.search(r'id="panel-countries".*?</section>', html, re.DOTALL).group(0)
    assert "/pricing" in re.search(r'id="panel-pages".*?</section>', html, re.DOTALL).group(0)


def test_an_entry_page_row_filters_the_visits_that_began_there(web_client, visits):
    html = web_client.get(URL, {"period": "today"}).content.decode()
    entries = re.search(r'id="panel-entry_pages".*?</section>', html, re.DOTALL).group(0)
    filtered = web_client.get(URL, {"period": "today", "f": "$entry_page:/"}).content.decode()

    assert "f=%24entry_page%3A%2F" in entries
    assert (card(filtered, "visits"), card(filtered, "pageviews")) == ("2", "3")


def test_a_page_filter_keeps_those_page_views(web_client, visits):
    html = web_client.get(URL, {"period": "today", "f": "$pathname:/pricing"}).content.decode()

    assert (card(html, "visits"), card(html, "pageviews")) == ("1", "1")


def test_a_property_filters_on_one_value_the_last_given(web_client, visits):
    # Page views of /pricing and of / could never both hold: the last value given wins.
    both = web_client.get(URL, {"period": "today", "f": ["$pathname:/pricing", "$pathname:/"]})
    html = both.content.decode()
    pages = re.search(r'id="panel-pages".*?</section>', html, re.DOTALL).group(0)

    assert card(html, "pageviews") == "2"  # the two views of /
    # The / row's link filters on / alone: a row's value replaces its property's filter.
    assert '<a href="?period=today&amp;f=%24pathname%3A%2F">/</a>' in pages


def test_unknown_filters_and_periods_are_ignored(web_client, visits):
    html = web_client.get(URL, {"period": "decade", "f": ["$password:x", "nocolon"]})

    assert html.status_code == 200
    assert 'aria-current="page">30 days' in html.content.decode()
    assert 'id="filters"' not in html.content.decode()


@pytest.mark.parametrize("value", ["a" * 1001, "a\x00b"])
def test_a_page_filter_the_query_language_refuses_is_a_400_naming_it(web_client, value):
    response = web_client.get(URL, {"f": f"$pathname:{value}"})

    html = unescape(response.content.decode())
    assert response.status_code == 400
    assert "<title>Bad filter" in html
    assert "f=$pathname:… is not valid: A string of at most 1000 characters, without NUL." in html


def test_the_chart_names_local_days_and_hours_as_people_read_them(web_client, tenant, visits):
    tenant.timezone = "Pacific/Kiritimati"  # +14:00: today there is rarely today in UTC
    tenant.save()
    today = timezone.now().astimezone(ZoneInfo(tenant.timezone))
    day = f"{today:%a} {today.day} {today:%b %Y}"

    hourly = unescape(web_client.get(URL, {"period": "today"}).content.decode())
    daily = unescape(web_client.get(URL, {"period": "7d"}).content.decode())

    caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", hourly).group(1)
    assert re.fullmatch(rf"Visitors per hour, {day}, 00:00 to \d\d:00", caption)
    assert f"<title>{day}, 00:00: " in hourly
    week_ago = today - dt.timedelta(days=6)
    first = f"{week_ago:%a} {week_ago.day} {week_ago:%b %Y}"
    assert f"Visitors per day, {first} to {day}</figcaption>" in daily
    assert f"<title>{day}: " in daily
    assert "T00:00:00" not in hourly + daily


def test_the_change_against_the_period_before(web_client, visits):
    html = web_client.get(URL, {"period": "7d"}).content.decode()

    # 7 days: v1 and v2 (3 views); the 7 days before: v3 (1 view).
    assert card(html, "visitors") == "2"
    assert re.search(r'data-key="pageviews">.*?\+200% vs the period before', html, re.DOTALL)


def test_the_bounce_rate_changes_in_percentage_points(web_client, tenant, visits):
    """7 days: v1 (2 views) and v2 (1): 50 %. The 7 days before: v3 (1 view), v4 and v5
    (2 views each): 33 %, so +17 points (its relative change would be +50 %)."""
    views = tenant.events.get(name="$pageview")
    nine_days_ago = timezone.now() - dt.timedelta(days=9)
    for visitor in ("v4", "v5"):
        for minutes in (0, 1):
            EventLogFactory(
                event=views,
                distinct_id=visitor,
                timestamp=nine_days_ago + dt.timedelta(minutes=minutes),
                data={"$pathname": f"/{minutes}"},
            )

    html = web_client.get(URL, {"period": "7d"}).content.decode()

    assert card(html, "bounce_rate") == "50%"
    assert re.search(r'data-key="bounce_rate">.*?\+17 pp vs the period before', html, re.DOTALL)
    assert re.search(r'data-key="visitors">.*?-33% vs the period before', html, re.DOTALL)


def test_another_tenants_visits_are_not_shown(other_web_client, visits):
    html = other_web_client.get(URL, {"period": "today"}).content.decode()

    assert card(html, "visitors") == "0"
    assert "Google" not in html


def test_logged_out_is_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")


def test_the_page_is_accessible(web_client, visits):
    assert_accessible(parse(web_client.get(URL, {"period": "today"})))


def test_the_page_adds_imported_days_and_says_so(web_client, tenant):
    yesterday = timezone.now().astimezone(ZoneInfo(tenant.timezone)).date() - dt.timedelta(days=1)
    export = f"date,visitors,pageviews,bounces,visits,visit_duration\n{yesterday},7,9,1,8,80\n"
    data = export.encode()
    run_import(tenant, "plausible", [Upload("visitors.csv", len(data), lambda: io.BytesIO(data))])

    html = web_client.get(URL, {"period": "7d"}).content.decode()
    filtered = web_client.get(URL, {"period": "7d", "f": "$country:DE"}).content.decode()

    assert card(html, "visitors") == "7"
    assert card(html, "pageviews") == "9"
    assert "Includes 1 day imported from another product" in html
    assert card(filtered, "visitors") == "0"  # imported days have no countries to filter
    assert 'id="imported"' not in filtered
