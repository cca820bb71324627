"""A funnel in any order reads a user's many events of one step once, not once per entry:
ten batches of one step's events made every entry read all of them (their square)."""

import datetime as dt

import pytest

from events.services import event_logs_ingest
from events.validation import EventInput
from insights.engine import Window
from insights.funnels import Rules, _furthest, parse_funnel

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
MANY = 10_000


def minutes(count: int) -> dt.datetime:
    return START + dt.timedelta(minutes=count)


def ingest(tenant, items: list[EventInput]) -> None:
    for first in range(0, len(items), 1000):
        event_logs_ingest(
            tenant=tenant, items=items[first : first + 1000], created_by=None, now=NOW
        )


def funnel(client, window: str):
    body = {
        "steps": ["a", "b"],
        "order": "any",
        "window": window,
        "date_range": {"start": "2024-01-01", "end": "2024-01-31"},
        "tz": "UTC",
    }
    return client.post("/api/funnels", body, format="json")


@pytest.mark.django_db
def test_a_user_with_thousands_of_first_steps_who_never_converts(api_client, tenant):
    ingest(tenant, [EventInput("a", distinct_id="idle", timestamp=minutes(m)) for m in range(MANY)])
    ingest(tenant, [EventInput("a", distinct_id="buyer", timestamp=minutes(5))])
    ingest(tenant, [EventInput("b", distinct_id="buyer", timestamp=minutes(65))])

    response = funnel(api_client, "90d")

    assert response.status_code == 200, response.json()
    steps = response.json()["steps"]
    assert [step["users"] for step in steps] == [2, 1]
    assert steps[1]["median_seconds"] == 3600


@pytest.mark.django_db
def test_the_earliest_entry_within_the_window_counts_among_thousands(api_client, tenant):
    # An "a" each minute, then "b" the minute after the last: only the entries of the
    # last day reach it, and the earliest of them counts, exactly a day before.
    items = [EventInput("a", distinct_id="late", timestamp=minutes(m)) for m in range(MANY)]
    ingest(tenant, [*items, EventInput("b", distinct_id="late", timestamp=minutes(MANY))])

    response = funnel(api_client, "1d")

    assert response.status_code == 200, response.json()
    steps = response.json()["steps"]
    assert [step["users"] for step in steps] == [1, 1]
    assert steps[1]["median_seconds"] == 24 * 3600


class CountedReads(list):
    """A user's stream that counts the events read from it by position."""

    reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return super().__getitem__(index)


def test_each_entry_reads_a_handful_of_events_not_every_later_one():
    # The stream as user_journeys makes it: (instant, id, step bits, user), step 1 only.
    stream = CountedReads((m * 60_000_000, m, 0b01, "idle") for m in range(MANY))
    rules = Rules.of(parse_funnel({"steps": ["a", "b"], "order": "any"}), Window(None, None))

    journey = _furthest(stream, rules)

    assert journey is not None
    assert journey.instants == [0]
    # Every entry reads its own event and its step's first event after it: a few reads
    # each, where reading every later event of the window was MANY * MANY / 2.
    assert stream.reads < 10 * MANY
