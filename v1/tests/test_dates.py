"""Seed 000's `date` goes through the same range check as every other ingestion route:
after 1970-01-01 and at most MAX_FUTURE_SKEW_SECONDS ahead, a refusal counted as
`timestamp_out_of_range`."""

import pytest

from accounts.services import api_key_create
from events.models import EventLog
from events.tests.test_ingestion_accounting import _today
from v1.tests.test_seed000 import client_with

V1 = "/api/v1"


@pytest.fixture
def ingest(tenant):
    return client_with(api_key_create(tenant=tenant, name="ingest", role="ingest")[1])


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("9999-12-31 23:59:59", "more than 1:00:00 in the future"),
        ("0001-01-01 00:00:00", "before 1970-01-01"),
        ("1969-12-31 23:59:59", "before 1970-01-01"),
    ],
)
def test_a_date_out_of_range_is_400_on_date(ingest, tenant, date, message):
    response = ingest.post(f"{V1}/events/x", {"date": date}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["date"]
    assert message in response.json()["date"][0]
    assert not EventLog.objects.filter(tenant=tenant).exists()


def test_a_date_out_of_range_counts_as_timestamp_out_of_range(ingest, api_client):
    ingest.post(f"{V1}/events/x", {"date": "9999-12-31 23:59:59"}, format="json")

    bucket = _today(api_client)
    assert bucket["requests"] == {"valid": 0, "invalid": 1}
    assert {reason: n for reason, n in bucket["rejected"].items() if n} == {
        "timestamp_out_of_range": 1
    }


def test_dates_inside_the_range_are_stored(ingest, tenant):
    response = ingest.post(f"{V1}/events/x", {"date": "1970-01-01 00:00:00"}, format="json")

    assert response.status_code == 201
    assert response.json()["date"] == "1970-01-01 00:00:00"
