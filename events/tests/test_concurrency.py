"""Parallel batches with overlapping uuids, while two folders move counter increments:
each uuid stored once, receipts exact, rollup equal to the raw rows at the end and after
the last fold; and a batch that meets a uuid another transaction is storing. Real
threads, real connections, real transactions."""

import random
import threading
import time
import uuid
from collections import Counter

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count, Sum
from rest_framework.test import APIClient

from core.sharding import is_sharded
from events.bulk import COPY_MIN_ROWS
from events.models import (
    Event,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    HourlyCountTotal,
    IngestionCountTotal,
)
from events.rollups import fold_counters

THREADS = 4
BATCHES_PER_THREAD = 5
# Above events.bulk.COPY_MIN_ROWS: a batch of uuids new to the tenant and none repeated
# goes by COPY on PostgreSQL, any other by INSERT … ON CONFLICT.
BATCH_SIZE = 60


def _send_batches(
    token: str, pool: list[str], seed: int, repeats: bool, results: list, errors: list
) -> None:
    rng = random.Random(seed)
    client = _client(token)
    try:
        for _ in range(BATCHES_PER_THREAD):
            # With repeats, uuids repeat inside a batch too. Without, half the batches are
            # new uuids and half overlap others (stored, or being stored concurrently).
            if repeats:
                uuids = rng.choices(pool, k=BATCH_SIZE)
            elif rng.random() < 0.5:
                uuids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(BATCH_SIZE)]
            else:
                uuids = rng.sample(pool, BATCH_SIZE)
            events = [
                {"event_name": rng.choice(["a", "b", "c"]), "uuid": value, "count": 2}
                for value in uuids
            ]
            response = client.post("/api/eventlogs/batch/", {"events": events}, format="json")
            if response.status_code != 200:
                errors.append((response.status_code, response.content[:200]))
                continue
            results.extend(receipt["status"] for receipt in response.json()["receipts"])
    except Exception as exc:  # surfaced by the assertion in the test
        errors.append(repr(exc))
    finally:
        connections.close_all()


def _fold_until(done: threading.Event, errors: list) -> None:
    try:
        while not done.is_set():
            fold_counters(limit=50)
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeats", [True, False], ids=["repeats-inside", "distinct-inside"])
def test_parallel_batches_store_each_uuid_exactly_once(api_client, tenant, repeats):
    token = _token(api_client)
    pool = [str(uuid.uuid4()) for _ in range(180)]
    results: list[str] = []
    errors: list = []
    threads = [
        threading.Thread(target=_send_batches, args=(token, pool, seed, repeats, results, errors))
        for seed in range(THREADS)
    ]

    sent = threading.Event()
    folders = [threading.Thread(target=_fold_until, args=(sent, errors)) for _ in range(2)]

    for thread in [*threads, *folders]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    sent.set()
    for thread in folders:
        thread.join(timeout=60)

    statuses = Counter(results)
    logs = EventLog.objects.filter(tenant=tenant)
    per_uuid = logs.values("uuid").annotate(n=Count("id")).filter(n__gt=1)
    assert errors == []
    assert sum(statuses.values()) == THREADS * BATCHES_PER_THREAD * BATCH_SIZE
    assert not per_uuid.exists(), "a uuid was stored twice"
    assert logs.count() == statuses["accepted"]
    assert statuses["accepted"] + statuses["duplicate"] == sum(statuses.values())
    raw_total = logs.aggregate(n=Sum("count"))["n"]
    rollup_total = HourlyCountTotal.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"]
    assert raw_total == rollup_total == 2 * statuses["accepted"]
    counted = dict(
        IngestionCountTotal.objects.filter(tenant=tenant)
        .values_list("outcome")
        .annotate(n=Sum("events"))
        .values_list("outcome", "n")
    )
    requests = IngestionCountTotal.objects.filter(tenant=tenant).aggregate(n=Sum("requests"))["n"]
    assert counted == {"accepted": statuses["accepted"], "duplicate": statuses["duplicate"]}
    assert requests == THREADS * BATCHES_PER_THREAD
    fold_counters()
    assert not HourlyCountIncrement.objects.exists()
    assert HourlyCount.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"] == raw_total


def _token(client: APIClient) -> str:
    return client._credentials["HTTP_AUTHORIZATION"].split()[1]


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_meeting_an_uncommitted_uuid_stores_it_once(api_client, tenant):
    """One uuid of a batch is being stored by another transaction, not yet committed:
    the batch does not see it, its COPY waits for that transaction on the unique index
    and fails once it commits, and the batch is stored again with that uuid a duplicate
    — each uuid once, the counters exact (events.bulk._copy_new_rows)."""
    token = _token(api_client)
    Event.objects.create(tenant=tenant, name="a")  # else the batch waits to create it
    events = [
        {"event_name": "a", "uuid": str(uuid.uuid4()), "count": 2} for _ in range(COPY_MIN_ROWS)
    ]
    contested = 3
    holding, release = threading.Event(), threading.Event()
    answers: dict[str, object] = {}

    def hold() -> None:
        try:
            with transaction.atomic():
                single = _client(token).post("/api/eventlogs/", events[contested], format="json")
                answers["single"] = single.status_code
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    def send_batch() -> None:
        try:
            answers["batch"] = _client(token).post(
                "/api/eventlogs/batch/", {"events": events}, format="json"
            )
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=30)
    sender = threading.Thread(target=send_batch)
    sender.start()
    # Citus stores batches without COPY (events.bulk): there the outcome alone is checked.
    waited = is_sharded() or _wait_for_a_copy_waiting_on_a_lock()
    release.set()
    holder.join(timeout=30)
    sender.join(timeout=30)

    assert waited, "the batch's COPY never waited for the uncommitted uuid"
    assert answers["single"] == 201
    receipts = answers["batch"].json()["receipts"]
    assert [r["status"] for r in receipts] == [
        "duplicate" if index == contested else "accepted" for index in range(len(events))
    ]
    logs = EventLog.objects.filter(tenant=tenant)
    assert logs.count() == len(events)
    assert logs.aggregate(n=Sum("count"))["n"] == 2 * len(events)
    rollup = HourlyCountTotal.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"]
    assert rollup == 2 * len(events)
    totals = IngestionCountTotal.objects.filter(tenant=tenant)
    assert dict(totals.values_list("outcome").annotate(n=Sum("events"))) == {
        "accepted": len(events),
        "duplicate": 1,
    }
    assert totals.aggregate(n=Sum("requests"))["n"] == 2


def _wait_for_a_copy_waiting_on_a_lock(timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE 'COPY %%'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False
