"""A log stored at the calendar's edge (before the ingestion range check, or by an
import) never makes a read answer 500: the open side of a range stops at the calendar."""

import datetime as dt

import pytest

from events.tests.factories import EventFactory, EventLogFactory

EDGES = {
    "last instant": dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    "first instant": dt.datetime(1, 1, 1, tzinfo=dt.UTC),
}
READS = [
    "/api/stats/event_trend",
    "/api/stats/event_trend.png",
    "/api/stats/event_trend?tz=Asia/Tokyo",
    "/api/stats/event_trend?tz=America/Los_Angeles",
    "/api/stats/event_frequency",
    "/api/stats/event_frequency?tz=America/Los_Angeles",
    "/api/stats/hourly_distribution",
    "/api/stats/store_events_amount",
    "/api/stats/store_events_amount.png",
    "/api/stats/unique_users",
    "/api/stats/event_amount?event_name=edge",
    "/api/stats/event_avg_per_user?event_name=edge",
    "/api/stats/active_users",
    "/api/v1/events",
    "/api/v1/event_history",
    "/admin/v1/events/edge",
    "/admin/v1/event_frequencies",
]


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("edge", EDGES.values(), ids=EDGES.keys())
def test_a_log_at_the_calendars_edge_never_makes_a_read_fail(api_client, tenant, edge, url):
    event = EventFactory(tenant=tenant, name="edge")
    EventLogFactory(event=event, timestamp=edge, distinct_id="ann")
    EventLogFactory(event=event, timestamp=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))

    response = api_client.get(url)

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json")
