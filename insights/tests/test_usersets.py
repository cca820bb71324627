"""Counts from the hourly user sets (events.usersets, insights.usersets): the same
answers as a recount over the rows, whatever was built, changed late, folded or
erased, in zones with :30 and :45 offsets and windows that cut hours; and only for
the queries the sets can answer."""

import contextlib
import datetime as dt
import io
import random
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from events import usersets
from events.models import (
    EventLog,
    HourlyPropertyUserSet,
    HourlyUserSet,
    UserNumber,
)
from events.rollups import fold_counters
from events.services import event_delete
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.property import examples, fresh_tenant
from events.usersets import UserSets, build_user_sets, tenant_sets
from insights.engine import run_query
from insights.spec import parse_query
from insights.tests.test_query_property import NOW, ZONES, assert_answer_is_a_recount, store
from insights.usersets import SetReader, log_predicate, qualifies
from people.tests.factories import PersonFactory

START = dt.datetime(2024, 3, 27, tzinfo=dt.UTC)  # as test_query_property's
LATER = NOW + dt.timedelta(days=30)  # every hour of the data is closed by then
HOUR = dt.timedelta(hours=1)
MINUTES = 2 * 24 * 60  # two days: hours with several logs, so keys with sets


def sets_of(tenant) -> UserSets:
    return tenant_sets(lambda rows: rows.filter(tenant=tenant))


@contextlib.contextmanager
def reading_sets(*, unlimited: bool = True):
    """What each SetReader.tallies call found (None: it left the query to the logs),
    with no limit on the logs read beside the sets unless `unlimited` is False."""
    read, tallies = [], SetReader.tallies

    def spy(reader, lower, upper):
        read.append(tallies(reader, lower, upper))
        return read[-1]

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(SetReader, "tallies", spy))
        if unlimited:
            stack.enter_context(mock.patch("insights.usersets.MAX_LOG_RANGES", 10_000))
            stack.enter_context(mock.patch("insights.usersets.MAX_LOG_SHARE", 1.0))
        yield read


plans = st.sampled_from(["pro", "free", "", None, 1, 2.5, True, {"a": 1}])
logs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["", "u1", "u2", "u3", "u4"]),
        # Often a few shared hours (several logs each, so keys with sets), else anywhere.
        st.one_of(st.integers(0, 7).map(lambda six: six * 360 + 17), st.integers(0, MINUTES - 1)),
        st.integers(1, 3),
        st.one_of(
            st.just({}),
            st.builds(lambda plan: {"plan": plan}, plans),
            st.builds(lambda plan, other: {"plan": plan, "other": other}, plans, st.integers(0, 3)),
        ),
    ),
    min_size=3,
    max_size=40,
)
event_names = st.sampled_from(["a", "b", "c", "x"])
plan_values = st.sampled_from(["pro", "free", "", None, 1, 2.5, True, False, "1"])


@st.composite
def event_filters(draw, depth: int = 0):
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        op = draw(st.sampled_from(["and", "or", "not"]))
        size = 1 if op == "not" else draw(st.integers(1, 3))
        return [op, *[draw(event_filters(depth + 1)) for _ in range(size)]]
    op = draw(st.sampled_from(["eq", "neq", "in", "not_in"]))
    field, values = draw(
        st.sampled_from(
            [("event", event_names), ("data.plan", plan_values), ("event", event_names)]
        )
    )
    if op in ("in", "not_in"):
        return [op, field, draw(st.lists(values, min_size=1, max_size=3))]
    return [op, field, draw(values)]


queries = st.fixed_dictionaries(
    {
        "metrics": st.lists(
            st.sampled_from(["events", "uniques", "events_per_user"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        # Series and at most one time bucket, in any order.
        "breakdown": st.tuples(
            st.lists(st.sampled_from(["event", "data.plan"]), max_size=2, unique=True),
            st.sampled_from([[], ["time:hour"], ["time:day"], ["time:week"]]),
            st.booleans(),
        ).map(lambda parts: parts[1] + parts[0] if parts[2] else parts[0] + parts[1]),
        "filters": st.lists(event_filters(), max_size=2),
        "limit": st.integers(1, 4),
    }
)


@pytest.mark.postgres
class CountsFromUserSetsEqualRecountTests(TestCase):
    @examples(80)
    @given(
        logs=logs_strategy,
        late=logs_strategy,
        fold_late=st.booleans(),
        erase=st.none() | st.sampled_from(["u1", "u2"]),
        raw=queries,
        zone=st.sampled_from(ZONES),
        first_minute=st.integers(0, MINUTES // 2),
        minutes=st.integers(26 * 60, MINUTES),  # 24 whole hours at least: the sets answer
        max_values=st.integers(1, 8),
        min_logs=st.integers(1, 2),
    )
    def test_answers_equal_a_recount(
        self, logs, late, fold_late, erase, raw, zone, first_minute, minutes, max_values, min_logs
    ):
        note(repr((logs, late, fold_late, erase, raw, zone, first_minute, minutes)))
        tenant = fresh_tenant()
        store(tenant, logs, [], None)
        fold_counters()
        with (
            mock.patch.object(usersets, "MAX_VALUES", max_values),
            mock.patch.object(usersets, "MIN_LOGS_PER_VALUE", min_logs),
        ):
            build_user_sets(now=LATER)
        store(tenant, [], late, erase)  # late logs into built hours, an erasure
        if fold_late:
            fold_counters()
        tz = ZoneInfo(zone)
        start = START + dt.timedelta(minutes=first_minute)
        end = start + dt.timedelta(minutes=minutes)
        raw = dict(raw) | {
            "tz": zone,
            "date_range": {"start": start.isoformat(), "end": end.isoformat()},
        }
        query = parse_query(raw)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)
        with reading_sets() as read:
            answer = run_query(query, logs=logs_of_tenant, tz=tz, now=NOW, sets=sets_of(tenant))

        assert len(read) == 1
        assert read[0] is not None  # the counts came from the sets (and the logs between)
        assert_answer_is_a_recount(answer, raw, logs_of_tenant, tz)


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, tzinfo=dt.UTC)


def query_of(**parts) -> dict:
    return {"date_range": {"start": "2024-01-01", "end": "2024-01-09"}, "tz": "UTC"} | parts


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_sets_answer_built_hours_and_the_logs_the_rest(api_client, tenant, other_tenant):
    view = EventFactory(tenant=tenant, name="view")
    for user, day, hour, plan in [("a", 1, 9, "pro"), ("b", 1, 9, "pro"), ("a", 2, 0, "free")]:
        EventLogFactory(event=view, distinct_id=user, timestamp=at(day, hour), data={"plan": plan})
    EventLogFactory(event=EventFactory(tenant=other_tenant), distinct_id="z", timestamp=at(1, 9))
    fold_counters()
    with mock.patch.object(usersets, "MIN_LOGS_PER_VALUE", 1):
        built = build_user_sets(now=at(20))
    EventLogFactory(event=view, distinct_id="c", timestamp=at(3, 5), data={"plan": "pro"})
    body = query_of(metrics=["uniques", "events"], breakdown=["data.plan"])

    answer = api_client.post("/api/query", body, format="json").json()

    assert built == 3  # the hours with logs, of both tenants
    assert HourlyUserSet.objects.filter(tenant=tenant, event__isnull=True).count() == 2
    assert UserNumber.objects.filter(tenant=tenant).count() == 2  # a and b; c is not built
    assert answer["rows"] == [
        {"data.plan": "pro", "uniques": 3, "events": 3},
        {"data.plan": "free", "uniques": 1, "events": 1},
    ]
    assert answer["total"] == {"uniques": 3, "events": 4}


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_fold_forgets_the_sets_of_an_hour_that_changed(tenant):
    view = EventFactory(tenant=tenant, name="view")
    EventLogFactory(event=view, distinct_id="a", timestamp=at(1, 9))
    EventLogFactory(event=view, distinct_id="b", timestamp=at(1, 10))
    fold_counters()
    build_user_sets(now=at(20))
    EventLogFactory(event=view, distinct_id="c", timestamp=at(1, 9, 30))  # late

    fold_counters()

    assert set(HourlyUserSet.objects.values_list("hour", flat=True)) == {at(1, 10)}
    assert build_user_sets(now=at(20)) == 1  # built again, with the late log
    built = HourlyUserSet.objects.get(event__isnull=True, hour=at(1, 9))
    assert (built.events, len(usersets.BitMap64.deserialize(bytes(built.users)))) == (2, 2)


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_deleted_event_leaves_no_user_in_the_hours_sets(tenant):
    kept, dropped = EventFactory(tenant=tenant, name="kept"), EventFactory(tenant=tenant)
    EventLogFactory(event=kept, distinct_id="a", timestamp=at(1, 9))
    EventLogFactory(event=dropped, distinct_id="b", timestamp=at(1, 9))
    fold_counters()
    build_user_sets(now=at(20))

    dropped_id = dropped.pk
    event_delete(tenant=tenant, event=dropped, logs=EventLog.objects.filter(tenant=tenant))
    build_user_sets(now=at(20))
    query = parse_query(query_of(metrics=["uniques"]))
    answer = run_query(
        query,
        logs=EventLog.objects.filter(tenant=tenant),
        tz=ZoneInfo("UTC"),
        now=at(20),
        sets=sets_of(tenant),
    )

    assert answer["total"] == {"uniques": 1}
    assert not HourlyUserSet.objects.filter(event_id=dropped_id).exists()


@pytest.mark.pii
@pytest.mark.postgres
def test_erasing_a_person_deletes_their_number(api_client, tenant):
    person = PersonFactory(tenant_id=tenant.pk, distinct_id="gone")
    EventLogFactory(event=EventFactory(tenant=tenant), distinct_id="gone", timestamp=at(1, 9))
    EventLogFactory(event=EventFactory(tenant=tenant), distinct_id="kept", timestamp=at(1, 9))
    fold_counters()
    build_user_sets(now=at(20))
    assert UserNumber.objects.filter(tenant=tenant).count() == 2

    response = api_client.delete(f"/api/people/{person.distinct_id}?erase_events=true")

    assert response.status_code == 200, response.content
    assert list(UserNumber.objects.values_list("distinct_id", flat=True)) == ["kept"]


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["filter", "retention", "event"])
def test_a_deletion_that_takes_a_users_last_event_deletes_their_number(api_client, tenant, how):
    old, new = EventFactory(tenant=tenant, name="old"), EventFactory(tenant=tenant, name="new")
    EventLogFactory(event=old, distinct_id="gone", timestamp=at(1, 9))
    EventLogFactory(event=old, distinct_id="stays", timestamp=at(1, 9))
    EventLogFactory(event=new, distinct_id="stays", timestamp=at(10, 9))
    fold_counters()
    build_user_sets(now=at(20))
    assert UserNumber.objects.filter(tenant=tenant).count() == 2

    if how == "filter":
        body = {"event_name": "old"}
        assert api_client.post("/api/deletions/", body, format="json").status_code == 201
    elif how == "event":
        assert api_client.delete(f"/api/events/{old.pk}/").status_code == 204
    else:
        tenant.retention_days = (timezone.now() - at(5)).days
        tenant.save()
        call_command("purge_expired", stdout=io.StringIO())
        assert not EventLog.objects.filter(event=old).exists()

    assert list(UserNumber.objects.values_list("distinct_id", flat=True)) == ["stays"]
    # The sets still count every user once: "stays" kept their number.
    fold_counters()
    build_user_sets(now=at(20))
    answer = run_query(
        parse_query({"metrics": ["uniques"], "date_range": {"start": "2024-01-01"}}),
        logs=EventLog.objects.filter(tenant=tenant),
        tz=ZoneInfo("UTC"),
        now=at(20),
        sets=sets_of(tenant),
    )
    assert answer["total"] == {"uniques": 1}


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({"metrics": ["uniques", "events", "events_per_user"]}, True),
        ({"metrics": ["sum:data.amount"]}, False),
        ({"breakdown": ["event", "data.plan"]}, True),
        ({"breakdown": ["data.plan", "data.country"]}, False),  # one key at most
        ({"breakdown": ["data.a.b"]}, False),  # nested
        ({"breakdown": ["distinct_id"]}, False),
        ({"breakdown": ["time:day"]}, True),
        ({"breakdown": ["event", "time:hour", "data.plan"]}, True),
        ({"filters": [["in", "event", ["a", "b"]], ["not", ["eq", "event", "c"]]]}, True),
        ({"filters": [["eq", "data.plan", "pro"]]}, True),
        ({"filters": [["not", ["in", "data.plan", [1, None]]]], "breakdown": ["data.plan"]}, True),
        ({"filters": [["eq", "data.plan", "pro"]], "breakdown": ["data.country"]}, False),
        ({"filters": [["eq", "data.plan", "pro"], ["eq", "data.country", "fr"]]}, False),
        ({"filters": [["gt", "data.plan", 1]]}, False),
        ({"filters": [["contains", "event", "a"]]}, False),
        ({"filters": [["or", ["eq", "event", "a"], ["eq", "distinct_id", "u"]]]}, False),
    ],
)
def test_which_queries_the_sets_answer(parts, expected):
    assert qualifies(parse_query(query_of(**parts))) is expected


def test_an_event_filter_picks_event_names_as_sql_would():
    filters = [
        ["or", ["in", "event", ["a", "b"]], ["eq", "event", "c"]],
        ["neq", "event", "b"],
        ["not", ["not_in", "event", ["a", "c", "d"]]],
    ]
    passes, key = log_predicate(parse_query(query_of(filters=filters)).filters)

    assert [name for name in ["a", "b", "c", "d", "e"] if passes(name, None)] == ["a", "c"]
    assert key is None


def test_a_data_filter_compares_values_as_sql_would_and_defers_when_unknown():
    filters = [["or", ["eq", "event", "a"], ["in", "data.plan", ["pro", 2, True, None]]]]
    passes, key = log_predicate(parse_query(query_of(filters=filters)).filters)
    texts = ['"pro"', "2.0", "2", "true", "", '"2"', "1", '{"a": 1}', "false", '"Pro"']

    assert key == "plan"
    assert [text for text in texts if passes("b", text)] == ['"pro"', "2.0", "2", "true", ""]
    assert all(passes("a", text) for text in texts)
    assert passes("a", None) is True  # the event decides
    assert passes("b", None) is None  # the value would


WITH_SETS = [
    {"metrics": ["uniques"], "breakdown": ["data.plan"], "filters": [["eq", "event", "a"]]},
    {"metrics": ["uniques", "events", "events_per_user"], "breakdown": ["event", "data.plan"]},
    {"metrics": ["events", "uniques"], "breakdown": ["data.plan", "event"], "limit": 3},
    {"metrics": ["uniques"], "breakdown": ["data.path"]},  # crowded: from the logs
    {"metrics": ["uniques"], "filters": [["not_in", "event", ["b"]]]},
    {"metrics": ["events_per_user"], "breakdown": ["event"], "limit": 1},
    {"metrics": ["uniques", "events"], "breakdown": ["time:day", "data.plan"], "limit": 2},
    {"metrics": ["uniques"], "breakdown": ["event", "time:hour"], "limit": 2},
    {"metrics": ["uniques", "events"], "filters": [["in", "data.plan", ["pro", 1, None]]]},
    {
        "metrics": ["uniques"],
        "breakdown": ["event", "data.plan"],
        "filters": [["or", ["eq", "event", "a"], ["neq", "data.plan", "team"]]],
    },
]


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
def test_busy_hours_answer_as_the_logs_do(tenant, seed, zone):
    """Hundreds of logs in a few dozen hours: most keys keep sets; every query answers
    as it does from the logs alone, late logs and a window that cuts hours included."""
    rng = random.Random(seed)
    plans = ["pro", "free", "team", 1, True, None]

    def logs(count: int) -> list:
        return [
            (
                rng.choice("abc"),
                rng.choice(["", *(f"u{n}" for n in range(40))]),
                rng.randrange(30) * 97 + rng.randrange(60),
                rng.randint(1, 3),
                {"plan": rng.choice(plans), "path": f"/{rng.randrange(500)}"}
                if rng.random() < 0.9
                else {},
            )
            for _ in range(count)
        ]

    store(tenant, logs(600), [], None)
    fold_counters()
    build_user_sets(now=LATER)
    store(tenant, [], logs(20), None)
    if seed:
        fold_counters()
    the_logs = EventLog.objects.filter(tenant=tenant)
    window = {"start": "2024-03-27T05:20:00", "end": "2024-03-28T21:40:00"}

    for parts in WITH_SETS:
        query = parse_query({**parts, "date_range": window, "tz": zone})
        tz = ZoneInfo(zone)

        with reading_sets() as read:
            answer = run_query(query, logs=the_logs, tz=tz, now=NOW, sets=sets_of(tenant))

        assert len(read) == 1
        assert read[0] is not None  # the counts came from the sets (and the logs between)
        assert answer == run_query(query, logs=the_logs, tz=tz, now=NOW), parts
    assert HourlyPropertyUserSet.objects.filter(tenant=tenant, key="plan").count() > 30


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize(("zone", "interval", "from_sets"), [
    ("Asia/Kathmandu", "hour", False),  # every hour cut by a local hour's start
    ("Asia/Kathmandu", "day", True),  # one hour a day cut
    ("America/New_York", "hour", True),
])  # fmt: skip
def test_hour_buckets_that_cut_every_hour_are_left_to_the_logs(tenant, zone, interval, from_sets):
    view = EventFactory(tenant=tenant, name="view")
    for day, hour in [(1, 9), (2, 10), (3, 11)]:
        EventLogFactory(event=view, distinct_id="a", timestamp=at(day, hour))
    fold_counters()
    build_user_sets(now=at(20))
    query = parse_query(
        query_of(metrics=["uniques", "events"], breakdown=[f"time:{interval}"], tz=zone)
    )
    the_logs = EventLog.objects.filter(tenant=tenant)
    tz = ZoneInfo(zone)

    with reading_sets(unlimited=False) as read:
        answer = run_query(query, logs=the_logs, tz=tz, now=at(20), sets=sets_of(tenant))

    assert (read[0] is not None) is from_sets
    assert answer == run_query(query, logs=the_logs, tz=tz, now=at(20))
    assert answer["total"] == {"uniques": 1, "events": 3}


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("interval", ["hour", "day"])
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_time_buckets_across_a_daylight_saving_change(tenant, interval, zone):
    """Berlin springs forward on 2024-03-31 (a 23-hour day), New York falls back on
    2024-11-03 (a 25-hour day, its 01:00 twice): the sets' buckets are the logs'."""
    view = EventFactory(tenant=tenant, name="view")
    change = {"Europe/Berlin": dt.datetime(2024, 3, 31, 1, tzinfo=dt.UTC),
              "America/New_York": dt.datetime(2024, 11, 3, 6, tzinfo=dt.UTC)}[zone]  # fmt: skip
    for minutes in range(-36 * 60, 36 * 60, 50):
        user = f"u{minutes % 7}"
        EventLogFactory(
            event=view, distinct_id=user, timestamp=change + dt.timedelta(minutes=minutes)
        )
    fold_counters()
    build_user_sets(now=change + dt.timedelta(days=5))
    day = change.astimezone(ZoneInfo(zone)).date()
    days = {"start": str(day - dt.timedelta(days=1)), "end": str(day + dt.timedelta(days=1))}
    query = parse_query(
        {
            "metrics": ["uniques", "events"],
            "breakdown": [f"time:{interval}"],
            "date_range": days,
            "tz": zone,
        }
    )
    the_logs = EventLog.objects.filter(tenant=tenant)
    now = change + dt.timedelta(days=5)

    with reading_sets(unlimited=False) as read:
        answer = run_query(query, logs=the_logs, tz=ZoneInfo(zone), now=now, sets=sets_of(tenant))

    assert read[0] is not None
    assert answer == run_query(query, logs=the_logs, tz=ZoneInfo(zone), now=now)
    assert len(answer["rows"]) == (
        3 if interval == "day" else 23 + 24 + 24 + (2 if "York" in zone else 0)
    )


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_second_build_of_the_same_hours_builds_nothing(tenant):
    EventLogFactory(event=EventFactory(tenant=tenant), distinct_id="a", timestamp=at(1, 9))
    fold_counters()
    assert build_user_sets(now=at(20)) == 1

    # As a second process would, having listed the hours before the first committed.
    with transaction.atomic(), connection.cursor() as cursor:
        again = usersets._build(cursor, tenant.pk, at(1, 0), at(1, 23))

    assert again == 0
    assert HourlyUserSet.objects.filter(tenant=tenant).count() == 2  # the hour's, the event's


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_key_with_a_value_per_log_is_left_to_the_logs(tenant):
    view = EventFactory(tenant=tenant, name="view")
    for hour in range(30):
        for n in range(3):
            EventLogFactory(event=view, distinct_id=f"u{n}", timestamp=at(1) + hour * HOUR,
                            data={"path": f"/{hour}/{n}", "plan": "pro"})  # fmt: skip
    fold_counters()
    build_user_sets(now=at(20))
    logs = EventLog.objects.filter(tenant=tenant)
    answers = {}

    for key in ("path", "plan"):
        query = parse_query(query_of(metrics=["uniques"], breakdown=[f"data.{key}"]))
        with mock.patch.object(SetReader, "_read_logs", autospec=True) as read_logs:
            run_query(query, logs=logs, tz=ZoneInfo("UTC"), now=at(20), sets=sets_of(tenant))
        answers[key] = read_logs.called

    # Every hour of the path has three values in three logs: the engine reads the logs;
    # the plan has sets (only the window's other hours come from the logs).
    assert answers == {"path": False, "plan": True}
    assert HourlyPropertyUserSet.objects.filter(key="plan").count() == 30
    assert not HourlyPropertyUserSet.objects.filter(key="path").exists()


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_key_longer_than_a_set_can_name_keeps_no_sets(tenant):
    view, long_key = EventFactory(tenant=tenant, name="view"), "k" * 201
    for n in range(4):
        EventLogFactory(event=view, distinct_id="u", timestamp=at(1, 9, n),
                        data={long_key: "x", "plan": "pro"})  # fmt: skip
    fold_counters()

    assert build_user_sets(now=at(20)) == 1

    assert list(HourlyPropertyUserSet.objects.values_list("key", flat=True)) == ["plan"]
