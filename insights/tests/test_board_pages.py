"""What one dashboard page may cost: its tables show a bounded number of rows, and
once the page has taken a stats statement's time its tiles left are listed without
their tables (each is its own request: its chart, its data). Both on the shared page,
anyone's with the link, and on the dashboard's own page."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from events.tests.factories import EventFactory, EventLogFactory
from insights import boards
from insights.models import Dashboard
from insights.tables import PAGE_ROWS
from insights.tests.test_saved import QUERY, create

pytestmark = pytest.mark.django_db

LONG = {**QUERY, "date_range": {"start": "2023-01-01", "end": "2024-08-23"}}
DAYS = 601  # of LONG: a row each, more than a page shows


@pytest.fixture
def shared(api_client, tenant):
    """A dashboard of three tiles, shared: its page and its tiles."""
    view = EventFactory(tenant=tenant, name="view")
    EventLogFactory(
        event=view, distinct_id="u1", timestamp=dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)
    )
    ids = [
        create(api_client, "insights", {"name": f"Tile {n}", "kind": "query", "definition": LONG})[
            "id"
        ]
        for n in (1, 2, 3)
    ]
    board = create(api_client, "dashboards", {"name": "Board", "insights": ids})
    shared = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
    url = urlsplit(shared).path  # as the page links it
    tiles = list(Dashboard.objects.get(pk=board["id"]).tiles.order_by("position"))
    return {"board": board, "url": url, "tiles": tiles, "insights": ids}


def _rows(html: str) -> int:
    return len(re.findall(r"<tr><td>", html))


def test_a_tables_rows_are_bounded_and_the_rest_are_in_its_data(anon_client, shared):
    page = anon_client.get(shared["url"])

    html = page.content.decode()
    assert page.status_code == 200
    assert _rows(html) == 3 * PAGE_ROWS
    assert html.count(f"The first {PAGE_ROWS} rows; {DAYS - PAGE_ROWS} more") == 3
    data = f"{shared['url']}/tiles/{shared['tiles'][0].pk}.json"
    assert f'href="{data}"' in html
    assert len(anon_client.get(data).json()["rows"]) == DAYS


def test_tiles_past_the_pages_time_are_listed_without_their_tables(
    anon_client, user, shared, monkeypatch, settings
):
    """A clock that moves on by the whole budget with each tile: the first is answered,
    the two after it are left to their own requests."""
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "STATS_STATEMENT_TIMEOUT_MS": 15_000}
    budget = 15
    ticks = iter(range(0, 100))
    monkeypatch.setattr(boards, "monotonic", lambda: next(ticks) * budget * 0.75)

    html = anon_client.get(shared["url"]).content.decode()

    assert html.count("Its table was left out") == 2
    assert _rows(html) == PAGE_ROWS
    for tile in shared["tiles"][1:]:
        assert f'href="{shared["url"]}/tiles/{tile.pk}.json"' in html
        assert f'src="{shared["url"]}/tiles/{tile.pk}.png"' in html

    ticks = iter(range(0, 100))
    browser = Client()
    browser.force_login(user)
    own = browser.get(f"/dashboard/boards/{shared['board']['id']}/").content.decode()

    assert own.count("Its table was left out") == 2
    assert _rows(own) == PAGE_ROWS
    data = f"/api/insights/{shared['insights'][2]}/results?dashboard={shared['board']['id']}"
    assert f'href="{data}"' in own
