"""Parallel batches with overlapping uuids: each uuid stored once, receipts exact,
rollup equal to the raw rows. Real threads, real connections, real transactions."""

import random
import threading
import uuid
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Count, Sum
from rest_framework.test import APIClient

from events.models import EventLog, HourlyCountTotal, IngestionCountTotal

THREADS = 4
BATCHES_PER_THREAD = 5
BATCH_SIZE = 40


def _send_batches(token: str, pool: list[str], seed: int, results: list, errors: list) -> None:
    rng = random.Random(seed)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    try:
        for _ in range(BATCHES_PER_THREAD):
            events = [
                {"event_name": rng.choice(["a", "b", "c"]), "uuid": rng.choice(pool), "count": 2}
                for _ in range(BATCH_SIZE)
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


@pytest.mark.django_db(transaction=True)
def test_parallel_batches_store_each_uuid_exactly_once(api_client, tenant):
    token = api_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    pool = [str(uuid.uuid4()) for _ in range(120)]
    results: list[str] = []
    errors: list = []
    threads = [
        threading.Thread(target=_send_batches, args=(token, pool, seed, results, errors))
        for seed in range(THREADS)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

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
