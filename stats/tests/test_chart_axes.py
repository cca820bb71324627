"""Charts without data, or with one point, look right: their axes are read from the
figure (tick labels as drawn, axis limits) before it becomes a PNG."""

import datetime as dt

import pytest
from django.utils import timezone
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import num2date

from stats.charts.daily import daily_figure
from stats.charts.drawings import (
    hourly_distribution_figure,
    hourly_histogram_figure,
    ingestion_figure,
    trend_figure,
)
from stats.charts.spec import ChartSpec

DAYS = [f"2026-11-{day:02d}" for day in range(20, 27)]
EMPTY_INGESTION = {"requests": {"valid": 0, "invalid": 0}, "accepted": 0, "duplicate": 0}


def _drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig.axes[0]


def _labels(ticks) -> list[str]:
    return [tick.get_text() for tick in ticks if tick.get_text()]


def _x_span(ax) -> tuple[dt.date, dt.date]:
    low, high = ax.get_xlim()
    return num2date(low).date(), num2date(high).date()


def _x_text(ax) -> str:
    """Every date label of the x-axis, its offset text ("2026-Nov") included."""
    return " ".join([*_labels(ax.get_xticklabels()), ax.xaxis.get_offset_text().get_text()])


def test_an_empty_trend_spans_its_days_not_1970():
    # A new tenant: every day of the range, no event in any.
    ax = _drawn(trend_figure({key: {} for key in DAYS}, spec=ChartSpec("event_trend")))

    first, last = _x_span(ax)
    assert (first, last) == (dt.date(2026, 11, 19), dt.date(2026, 11, 26))
    assert "1970" not in _x_text(ax)
    assert _labels(ax.get_yticklabels()) == ["0", "1"]


@pytest.mark.parametrize("subject", ["trend", "ingestion", "daily"])
def test_all_zero_counts_get_one_zero_label_not_ten(subject):
    if subject == "trend":
        fig = trend_figure({day: {"purchase": 0} for day in DAYS}, spec=ChartSpec("event_trend"))
    elif subject == "ingestion":
        rows = {day: {**EMPTY_INGESTION, "rejected": {"invalid_field": 0}} for day in DAYS}
        fig = ingestion_figure(rows, spec=ChartSpec("ingestion"))
    else:
        rows = [{"date": day, "event_amount": 0} for day in DAYS]
        fig = daily_figure(rows, spec=ChartSpec("event_amount"))

    labels = _labels(_drawn(fig).get_yticklabels())

    assert labels == ["0", "1"]


def test_one_day_of_ingestion_spans_that_day_not_years():
    rows = {"2026-11-26": {**EMPTY_INGESTION, "accepted": 40, "rejected": {"invalid_field": 2}}}

    ax = _drawn(ingestion_figure(rows, spec=ChartSpec("ingestion")))

    low, high = ax.get_xlim()
    assert high - low <= 1.0  # days: half a bucket on each side of the one point
    assert _x_span(ax) == (dt.date(2026, 11, 25), dt.date(2026, 11, 26))
    assert "2025" not in _x_text(ax)
    assert "2029" not in _x_text(ax)


def test_one_hour_of_a_trend_spans_that_hour():
    key = "2026-11-26T09:00:00+00:00"
    spec = ChartSpec("event_trend", interval="hour")

    low, high = _drawn(trend_figure({key: {"signup": 3}}, spec=spec)).get_xlim()

    assert high - low == pytest.approx(1 / 24)  # an hour, in days


def test_the_hourly_distribution_of_one_event_is_titled_as_such():
    one_event = {"event": "purchase", "count": 0, "hour_count": [0] * 24, "percent": [0.0] * 24}

    ax = _drawn(hourly_distribution_figure(one_event, spec=ChartSpec("hourly_distribution")))

    assert ax.get_title(loc="left") == "Hourly distribution of purchase"


def test_seed_000s_histogram_keeps_its_own_title():
    ax = _drawn(hourly_histogram_figure("purchase", [0.0] * 24, 800, 400))

    assert ax.get_title(loc="left") == "Frequency of purchase"


@pytest.mark.django_db
def test_an_hourly_trend_of_today_ends_at_the_current_hour(api_client):
    today = timezone.now().astimezone(dt.UTC).date()
    api_client.post("/api/eventlogs/", {"event_name": "signup"}, format="json")

    response = api_client.get(
        "/api/stats/event_trend",
        {"start_date": today, "end_date": today, "interval": "hour", "tz": "UTC"},
    )

    keys = list(response.json())
    now = timezone.now()
    assert keys[0] == f"{today}T00:00:00+00:00"
    assert (
        dt.datetime.fromisoformat(keys[-1])
        <= now
        < dt.datetime.fromisoformat(keys[-1]) + dt.timedelta(hours=1)
    )
    assert response.json()[keys[-1]] == {"signup": 1}
