"""Active users recounted by brute force over the raw rows, for the property tests, and
the logs those tests generate."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from hypothesis import strategies as st

from events.models import EventLog
from events.rollups import fold_counters
from events.services import event_logs_delete, event_logs_ingest
from events.validation import EventInput

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)  # March: over DST changes in most zones
USERS = ("u1", "u2", "u3", "u4", "")  # "" is a log without a user


def user_minutes(
    *, days: int, max_size: int | None = None, users=USERS, events=("e",)
) -> st.SearchStrategy:
    """Lists of (distinct_id, minutes after START, event name), within `days` days."""
    return st.lists(
        st.tuples(st.sampled_from(users), st.integers(0, days * 24 * 60), st.sampled_from(events)),
        max_size=max_size,
    )


def ingest_at_minutes(tenant, rows: list[tuple[str, int, str]]) -> None:
    """Store one event per (distinct_id, minutes after START, event name)."""
    items = [
        EventInput(name, distinct_id=user, timestamp=START + dt.timedelta(minutes=minute))
        for user, minute, name in rows
    ]
    event_logs_ingest(tenant=tenant, items=items, created_by=None, now=START)


def built_then_changed(tenant, logs, late, *, build, fold_late: bool, erase: str | None) -> None:
    """`logs` stored, folded and built upon (`build`), then changed: `late` logs into the
    built hours (folded when `fold_late`: the fold forgets what was built of their
    hours), and the logs of `erase` deleted."""
    ingest_at_minutes(tenant, logs)
    fold_counters()
    build()
    ingest_at_minutes(tenant, late)
    if fold_late:
        fold_counters()
    if erase is not None:
        event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id=erase))


def assert_rows_equal_a_recount(
    rows: list[dict], logs: QuerySet, *, tz: ZoneInfo, start: dt.date, days: int, window: int
) -> None:
    """Each row of `rows` (an active_users answer from `start`, `days` + 1 days) counts
    exactly the users of `logs` active in its windows."""
    active = {
        (user, stamp.astimezone(tz).date())
        for user, stamp in logs.values_list("distinct_id", "timestamp")
        if user
    }

    def recount(day: dt.date, width: int) -> int:
        since = day - dt.timedelta(days=width - 1)
        return len({user for user, on in active if since <= on <= day})

    assert [row["date"] for row in rows] == [
        (start + dt.timedelta(days=n)).isoformat() for n in range(days + 1)
    ]
    for row in rows:
        day = dt.date.fromisoformat(row["date"])
        assert row["active_users"] == recount(day, window)
        assert (row["dau"], row["wau"], row["mau"]) == (
            recount(day, 1),
            recount(day, 7),
            recount(day, 30),
        )
