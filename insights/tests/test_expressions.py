"""EpochMicroseconds: an instant as exact whole microseconds on both databases, read
with fetch_rows."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from events.models import EventLog
from events.tests.factories import EventLogFactory
from events.tests.property import examples, fresh_tenant
from insights.expressions import EpochMicroseconds, JsonText, fetch_rows

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Microseconds from 1900 to 2200 (hypothesis' datetimes want naive bounds).
INSTANTS = st.integers(-(70 * 365 * 86_400 * 10**6), 230 * 365 * 86_400 * 10**6).map(
    lambda micros: EPOCH + dt.timedelta(microseconds=micros)
)


class TestEpochMicroseconds(TestCase):
    @examples(40)
    @given(instants=st.lists(INSTANTS, min_size=1, max_size=5))
    def test_exact_for_any_instant(self, instants):
        tenant = fresh_tenant()
        for instant in instants:
            EventLogFactory(event__tenant=tenant, timestamp=instant)
        got = sorted(
            micros
            for (micros,) in fetch_rows(
                EventLog.objects.filter(tenant=tenant)
                .annotate(micros=EpochMicroseconds("timestamp"))
                .values_list("micros")
            )
        )
        assert got == sorted(
            (instant - EPOCH) // dt.timedelta(microseconds=1) for instant in instants
        )


@pytest.mark.django_db
def test_whole_seconds_and_before_1970(tenant):
    """SQLite stores no fraction for a whole second; before 1970 counts down."""
    for instant in (dt.datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=dt.UTC), EPOCH):
        EventLogFactory(event__tenant=tenant, timestamp=instant)
    got = sorted(
        fetch_rows(
            EventLog.objects.filter(tenant=tenant)
            .annotate(micros=EpochMicroseconds("timestamp"))
            .values_list("micros")
        )
    )
    assert got == [(-1_500_000,), (0,)]


@pytest.mark.django_db
def test_fetch_rows_reads_every_column_as_the_orm_would(tenant):
    """Text, integers, a property's text and an absent one (NULL) come as the ORM gives
    them, in the order of values_list, beside the instant."""
    instant = dt.datetime(2026, 3, 29, 1, 30, 0, 250, tzinfo=dt.UTC)
    log = EventLogFactory(
        event__tenant=tenant, timestamp=instant, distinct_id="ü-1", data={"plan": "pro\tx"}
    )
    rows = (
        EventLog.objects.filter(pk=log.pk)
        .annotate(micros=EpochMicroseconds("timestamp"), plan=JsonText(["plan"]))
        .annotate(missing=JsonText(["nothing"]))
    )
    assert fetch_rows(rows.values_list("distinct_id", "micros", "id", "plan", "missing")) == [
        ("ü-1", (instant - EPOCH) // dt.timedelta(microseconds=1), log.pk, "pro\tx", None)
    ]
    assert fetch_rows(rows.filter(pk=-1).values_list("id")) == []
