"""/api/query's rows are bounded: series shown times time buckets, each a row."""

import datetime as dt

import pytest

from events.tests.factories import EventFactory, EventLogFactory
from insights.spec import MAX_ROWS

# 416 days (2024 is a leap year): 9,984 hourly buckets, within the 10,000 of an answer.
HOURLY_RANGE = {"start": "2024-01-01", "end": "2025-02-19"}
HOURS = 416 * 24


@pytest.fixture
def plans(tenant):
    """One purchase per plan p0..p10: eleven series."""
    purchase = EventFactory(tenant=tenant, name="purchase")
    for index in range(11):
        EventLogFactory(
            event=purchase,
            distinct_id=f"u{index}",
            timestamp=dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC),
            data={"plan": f"p{index}"},
        )


def query(client, **body):
    defaults = {"metrics": ["events"], "breakdown": ["data.plan", "time:hour"]}
    return client.post("/api/query", defaults | body, format="json")


@pytest.mark.django_db
def test_more_rows_than_the_cap_is_a_400_naming_limit_before_any_row_is_built(api_client, plans):
    # 11 series over 9,984 hours: 109,824 rows, each listed with its zeros.
    assert 11 * HOURS > MAX_ROWS >= 10 * HOURS

    response = query(api_client, date_range=HOURLY_RANGE, limit=11)

    assert response.status_code == 400
    message = response.json()["limit"][0]
    assert f"11 series over {HOURS} hour buckets are more than {MAX_ROWS} rows" in message


@pytest.mark.django_db
def test_the_other_series_counts_as_a_row_per_bucket(api_client, plans):
    # 10 series shown and (other): 11 series again.
    response = query(api_client, date_range=HOURLY_RANGE, limit=10)

    assert response.status_code == 400
    assert response.json()["limit"][0].startswith("11 series over")


@pytest.mark.django_db
def test_the_largest_limit_over_the_longest_hourly_range_is_refused(api_client, tenant):
    # The reproduction: 1000 series over 10,000 hours were ten million rows, minutes
    # and gigabytes of one worker. One batch of 1000 events was enough data.
    purchase = EventFactory(tenant=tenant, name="purchase")
    when = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    for index in range(1000):
        EventLogFactory(event=purchase, timestamp=when, data={"plan": index})

    response = query(api_client, date_range=HOURLY_RANGE, limit=1000)

    assert response.status_code == 400
    assert response.json()["limit"][0].startswith(f"1000 series over {HOURS} hour buckets")


@pytest.mark.django_db
def test_rows_within_the_cap_are_answered_with_their_zeros(api_client, plans):
    # 11 series over 31 days of hours: 8,184 rows.
    response = query(api_client, date_range={"start": "2024-06-01", "end": "2024-06-30"}, limit=11)

    assert response.status_code == 200, response.json()
    rows = response.json()["rows"]
    assert len(rows) == 11 * 30 * 24
    assert sum(row["events"] for row in rows) == 11
    assert sum(1 for row in rows if row["events"]) == 11
