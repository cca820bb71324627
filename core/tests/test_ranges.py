"""core.ranges.within_calendar: whether a range, with what is read around it, stays
within the calendar in a zone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.ranges import OutOfCalendar, within_calendar

UTC = dt.UTC
EAST, WEST = ZoneInfo("Etc/GMT-14"), ZoneInfo("Etc/GMT+12")  # UTC+14, UTC-12
FIRST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("lower", "upper", "tz", "before", "after"),
    [
        (None, None, UTC, DAY * 100, DAY * 100),  # open sides read nothing beyond
        (FIRST, LAST, UTC, dt.timedelta(0), dt.timedelta(0)),
        (FIRST + DAY, None, UTC, DAY, dt.timedelta(0)),
        (dt.datetime(1, 1, 2, tzinfo=EAST), None, EAST, dt.timedelta(0), dt.timedelta(0)),
        (None, dt.datetime(9999, 12, 30, tzinfo=WEST), WEST, dt.timedelta(0), DAY),
    ],
)
def test_ranges_within_the_calendar_pass(lower, upper, tz, before, after):
    within_calendar(lower=lower, upper=upper, tz=tz, before=before, after=after)


@pytest.mark.parametrize(
    ("lower", "upper", "tz", "before", "after", "side"),
    [
        (FIRST + DAY, None, UTC, DAY * 2, dt.timedelta(0), "start"),
        # 0001-01-01 06:00 UTC is the 1st in UTC+14, whose midnight is in the year 0.
        (FIRST + DAY / 4, None, EAST, dt.timedelta(0), dt.timedelta(0), "start"),
        (FIRST, None, WEST, dt.timedelta(0), dt.timedelta(0), "start"),  # the year 0 there
        (None, LAST, EAST, dt.timedelta(0), dt.timedelta(0), "end"),  # the year 10000
        (None, LAST - DAY * 13, UTC, dt.timedelta(0), DAY * 14, "end"),
    ],
)
def test_ranges_leaving_the_calendar_name_their_side(lower, upper, tz, before, after, side):
    with pytest.raises(OutOfCalendar) as refused:
        within_calendar(lower=lower, upper=upper, tz=tz, before=before, after=after)

    assert refused.value.side == side
    assert "out of the calendar's range" in refused.value.message
