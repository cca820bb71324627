"""Active users recounted by brute force over the raw rows, for the property tests."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import QuerySet


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
