"""Parallel batches with overlapping uuids, while two folders move counter increments:
each uuid stored once, receipts exact, rollup equal to the raw rows at the end and after
the last fold. Real threads, real connections, real transactions."""

import random
import threading
import uuid
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Count, Sum
from rest_framework.test import APIClient

from events.models import (
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
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
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
    token = api_client._credentials["HTTP_AUTHORIZATION"].split()[1]
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
