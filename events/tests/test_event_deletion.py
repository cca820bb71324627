"""`DELETE /api/events/{id}`: the event type goes with its logs through the deletion
service — a receipt counts them, the rollup follows, activity periods are recomputed."""

import datetime as dt
import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum
from rest_framework.test import APIClient

from accounts.models import Tenant
from core.sharding import is_sharded
from events import services
from events.models import DeletionReceipt, Event, EventLog, IngestionCountTotal
from events.rollups import fold_counters
from events.services import event_delete, event_logs_ingest
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup
from events.validation import EventInput
from stats.models import UserActivityPeriod
from stats.services import user_activity_compute


def at(hour: int) -> dt.datetime:
    """An instant of 2024-05-01, UTC."""
    return dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)


def activity(tenant) -> dict[tuple[str, dt.datetime], int]:
    rows = UserActivityPeriod.objects.filter(tenant=tenant)
    return {(row.distinct_id, row.period_start): row.events for row in rows}


def clicks_and_views(tenant) -> Event:
    """alice clicks at 01:00 and 05:00 and views at 05:00; returns the click event."""
    click = EventFactory(tenant=tenant, name="click")
    view = EventFactory(tenant=tenant, name="view")
    for event, hour, count in ((click, 1, 2), (click, 5, 1), (view, 5, 1)):
        EventLogFactory(event=event, distinct_id="alice", timestamp=at(hour), count=count)
    return click


def test_deleting_an_event_leaves_a_receipt_and_recomputes_activity(
    api_client, tenant, other_tenant, user
):
    click = clicks_and_views(tenant)
    theirs = clicks_and_views(other_tenant)
    user_activity_compute(now=at(23))
    assert activity(tenant) == {("alice", at(0)): 2, ("alice", at(4)): 2}

    response = api_client.delete(f"/api/events/{click.pk}")
    user_activity_compute(now=at(23) + dt.timedelta(minutes=5))

    assert response.status_code == 204
    assert response.content == b""
    assert activity(tenant) == {("alice", at(4)): 1}
    assert activity(other_tenant) == {("alice", at(0)): 2, ("alice", at(4)): 2}
    assert not Event.objects.filter(pk=click.pk).exists()
    assert Event.objects.filter(pk=theirs.pk).exists()
    assert rollup(tenant) == recount(tenant)
    assert EventLog.objects.filter(tenant=tenant).count() == 1
    (receipt,) = api_client.get("/api/deletions/", {"reason": "event"}).json()
    assert receipt["filter"] == {"event_name": "click"}
    assert (receipt["reason"], receipt["events_deleted"]) == ("event", 2)
    assert (receipt["actor"], receipt["created_by"]) == ("user", user.pk)


def test_an_event_without_logs_still_leaves_a_receipt(api_client, tenant):
    event = EventFactory(tenant=tenant, name="unused")

    response = api_client.delete(f"/api/events/{event.pk}/")

    assert response.status_code == 204
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert (receipt.reason, receipt.events_deleted) == ("event", 0)


def test_another_tenants_event_is_404_and_leaves_no_receipt(api_client, other_tenant):
    theirs = clicks_and_views(other_tenant)

    response = api_client.delete(f"/api/events/{theirs.pk}")

    assert response.status_code == 404
    assert EventLog.objects.filter(event=theirs).count() == 2
    assert not DeletionReceipt.objects.exists()


def ingest(tenant, name: str) -> tuple[str, uuid.UUID]:
    """Store one log of `name` (resolving its id as a request does); (status, uuid)."""
    item = EventInput(event_name=name, uuid=uuid.uuid4(), timestamp=at(12))
    (receipt,) = event_logs_ingest(tenant=tenant, items=[item], created_by=None, now=at(13))
    return receipt.status, item.uuid


@pytest.mark.django_db(transaction=True)  # the write's foreign keys are checked as it commits
@pytest.mark.parametrize("creates", [True, False], ids=["auto-create", "strict"])
def test_a_request_resolving_a_deleted_event_is_handled_as_after_the_deletion(creates):
    """A request that resolved its event's id before the event's deletion committed (here
    from the per-process cache, with the tenant as read before) is handled as if it came
    after it: its log is stored under the event created anew, once — or, for a tenant
    that does not create events, refused as unknown_event (events.bulk.EventGone)."""
    tenant = Tenant.objects.create(name="t", slug="t", auto_create_events=creates)
    EventFactory(tenant=tenant, name="temp")
    assert ingest(tenant, "temp")[0] == "accepted"  # its id is cached now
    old = Event.objects.get(tenant=tenant, name="temp")
    read_before = Tenant.objects.get(pk=tenant.pk)
    event_delete(tenant=tenant, event=old, logs=EventLog.objects.filter(tenant=tenant))

    status, sent = ingest(read_before, "temp")

    totals = IngestionCountTotal.objects.filter(tenant=tenant).values("outcome", "reason")
    counted = {
        (row["outcome"], row["reason"]): row["n"] for row in totals.annotate(n=Sum("events"))
    }
    logs = list(EventLog.objects.filter(tenant=tenant).values_list("event__name", "uuid"))
    if creates:
        assert status == "accepted"
        assert Event.objects.get(tenant=tenant, name="temp").pk != old.pk
        assert logs == [("temp", sent)]
        assert counted == {("accepted", ""): 2}
    else:
        assert status == "rejected"
        assert not Event.objects.filter(tenant=tenant).exists()
        assert logs == []
        assert counted == {("accepted", ""): 1, ("rejected", "unknown_event"): 1}
    assert DeletionReceipt.objects.get(tenant=tenant).events_deleted == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["/api/eventlogs/", "/api/eventlogs/batch/"])
def test_a_request_whose_event_is_deleted_again_when_handled_afresh_is_a_503(
    api_client, tenant, monkeypatch, route
):
    """Each time the request resolves its event, a deletion of that event commits before
    the write does (injected where the race happens; the deletion is real): the write
    fails, is handled afresh, fails again — a 503 with Retry-After, nothing stored."""
    resolve = services.resolve_event_ids

    def resolved_then_deleted(*, tenant, names, **options):
        ids = resolve(tenant=tenant, names=names, **options)
        for event in Event.objects.filter(pk__in=ids.values()):
            event_delete(tenant=tenant, event=event, logs=EventLog.objects.filter(tenant=tenant))
        return ids

    monkeypatch.setattr(services, "resolve_event_ids", resolved_then_deleted)
    item = {"event_name": "temp", "uuid": str(uuid.uuid4())}
    body = {"events": [item]} if route.endswith("batch/") else item

    response = api_client.post(route, body, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "nothing was stored" in response.json()["detail"]
    assert not EventLog.objects.exists()
    assert DeletionReceipt.objects.filter(tenant=tenant).count() >= 2  # deleted, and again


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _post(token: str, name: str, n: int) -> tuple[int, int]:
    """(status, accepted) of a batch of `n` new logs of `name`."""
    events = [{"event_name": name, "uuid": str(uuid.uuid4())} for _ in range(n)]
    response = _client(token).post("/api/eventlogs/batch/", {"events": events}, format="json")
    return response.status_code, response.json().get("accepted", 0)


def _in_thread(target, *args) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _waiting(kinds: tuple[str, ...], *, sessions: int = 1) -> bool:
    """Whether `sessions` other sessions wait on a lock of one of these kinds
    (pg_stat_activity). On Citus, waits for a row are on the workers: citus_lock_waits
    counts them (advisory locks stay on the coordinator)."""
    with connection.cursor() as cursor:
        if is_sharded() and "advisory" not in kinds:
            cursor.execute("SELECT count(DISTINCT waiting_gpid) FROM citus_lock_waits")
        else:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND wait_event = ANY(%s) AND pid <> pg_backend_pid()",
                [list(kinds)],
            )
        return cursor.fetchone()[0] >= sessions


def _accounted(tenant) -> int:
    """Logs still stored plus those the deletion receipts count."""
    deleted = DeletionReceipt.objects.filter(tenant=tenant).aggregate(n=Sum("events_deleted"))
    return EventLog.objects.filter(tenant=tenant).count() + (deleted["n"] or 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_logs_sent_while_their_event_is_deleted_are_stored_afresh_not_lost(api_client, tenant):
    """The deletion of an event is held up (here on a lock of one of its logs) after it
    locked the event; logs of it sent meanwhile wait for the deletion to commit and are
    then stored under the event created anew — not deleted uncounted by the event's
    cascade. Every log is counted once: stored, or in the receipt."""
    token = api_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert _post(token, "temp", 3) == (200, 3)
    old = Event.objects.get(tenant=tenant, name="temp")
    holding, release, answers = threading.Event(), threading.Event(), {}

    def hold_a_log() -> None:
        with transaction.atomic():
            list(EventLog.objects.filter(tenant=tenant, event=old)[:1].select_for_update())
            holding.set()
            release.wait(timeout=30)

    def delete() -> None:
        answers["delete"] = _client(token).delete(f"/api/events/{old.pk}").status_code

    def send() -> None:
        answers["send"] = _post(token, "temp", 5)

    rows = ("transactionid", "tuple")
    threads = [_in_thread(hold_a_log)]
    assert holding.wait(timeout=10)
    threads.append(_in_thread(delete))
    assert _wait_for(lambda: _waiting(rows))
    threads.append(_in_thread(send))
    # The batch waits for the deletion to commit (its key check meets the locked event).
    _wait_for(lambda: not threads[-1].is_alive() or _waiting(rows, sessions=2))
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == {"delete": 204, "send": (200, 5)}
    assert DeletionReceipt.objects.get(tenant=tenant).events_deleted == 3
    new = Event.objects.get(tenant=tenant, name="temp")
    assert new.pk != old.pk
    assert EventLog.objects.filter(tenant=tenant, event=new).count() == 5
    assert _accounted(tenant) == 8
    assert rollup(tenant) == recount(tenant)


def _repeat(stop: threading.Event, failures: list, action) -> None:
    """Run `action` until `stop` (at most 20 s): what it returns, and what it raises (the
    test client raises a view's exception, a 500), are failures."""
    deadline = time.monotonic() + 20
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            failure = action()
        except Exception as exc:
            failure = repr(exc)
        if failure is not None:
            failures.append(failure)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_an_event_while_it_is_ingested_ends_and_counts_every_log(api_client, tenant):
    """Batches of an event keep coming while it is deleted, twice, and while two folders
    move counter increments and deletions by filter delete its logs: each deletion of the
    event ends while the batches still come (it does not chase logs committed after it
    began), no request fails (no deadlock), and every accepted log is either stored or
    counted by a receipt."""
    token = api_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert _post(token, "temp", 5) == (200, 5)
    stop = threading.Event()
    accepted, failures = [5], []

    def ingest() -> int | None:
        status, stored = _post(token, "temp", 5)
        accepted.append(stored)
        return None if status == 200 else status

    def delete_by_filter() -> int | None:
        time.sleep(0.1)
        body = {"event_name": "temp"}
        status = _client(token).post("/api/deletions/", body, format="json").status_code
        return None if status == 201 else status

    def fold() -> None:
        fold_counters(limit=50)

    actions = [ingest, ingest, fold, fold, delete_by_filter]
    threads = [_in_thread(_repeat, stop, failures, action) for action in actions]
    try:
        for _ in range(2):
            time.sleep(0.5)
            event = Event.objects.get(tenant=tenant, name="temp")
            response = _client(token).delete(f"/api/events/{event.pk}")
            assert response.status_code == 204
        time.sleep(0.3)
        assert all(thread.is_alive() for thread in threads), "the deletions outlasted the ingest"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert failures == []
    assert DeletionReceipt.objects.filter(tenant=tenant, reason="event").count() == 2
    fold_counters()
    assert _accounted(tenant) == sum(accepted)
    assert rollup(tenant) == recount(tenant)
