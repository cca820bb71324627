"""A single event sent again with a stored uuid is answered with the stored log (200).
Its insert finds the uuid (a duplicate) and the stored log is read by a second
statement: a deletion of that log committing in between (a person's erasure, a deletion
by filter, the retention purge) left nothing to read, and the answer was a 500.
Both routes: the fast path and the view."""

import uuid

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from events import services
from events.exceptions import RetriedLogGone
from events.models import DeletionReceipt, EventLog

FAST_PATH = "events.fastpath.SingleEventFastPath"


def _delete_after_insert(monkeypatch, tenant, sent: uuid.UUID) -> list[bool]:
    """After the insert statement of the next request found `sent` stored, its log is
    deleted (as a concurrent deletion would, committed before the log is read back)."""
    real = services.store_logs
    deleted: list[bool] = []

    def then_delete(rows, **kwargs):
        inserted = real(rows, **kwargs)
        if not deleted:
            deleted.append(True)
            services.deletion_create(
                tenant=tenant,
                logs=EventLog.objects.filter(tenant=tenant, uuid=sent),
                reason=DeletionReceipt.Reason.FILTER,
                filters={"uuid": str(sent)},
            )
        return inserted

    monkeypatch.setattr(services, "store_logs", then_delete)
    return deleted


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "view"])
def test_a_retry_whose_log_is_deleted_meanwhile_is_no_500(api_client, tenant, monkeypatch, fast):
    sent = uuid.uuid4()
    body = {"event_name": "signup", "uuid": str(sent), "distinct_id": "u-1"}
    assert api_client.post("/api/eventlogs/", body, format="json").status_code == 201
    deleted = _delete_after_insert(monkeypatch, tenant, sent)

    middleware = django_settings.MIDDLEWARE
    without = middleware if fast else [name for name in middleware if name != FAST_PATH]
    with override_settings(MIDDLEWARE=without):
        response = api_client.post("/api/eventlogs/", body, format="json")

    assert deleted
    assert not EventLog.objects.filter(tenant=tenant, uuid=sent).exists()  # nothing stored
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert response.json() == {"detail": RetriedLogGone.default_detail}  # on either path
    # The client's retry meets the deletion done: its event is new data again.
    monkeypatch.undo()
    with override_settings(MIDDLEWARE=without):
        again = api_client.post("/api/eventlogs/", body, format="json")
    assert again.status_code == 201
    assert EventLog.objects.filter(tenant=tenant, uuid=sent).count() == 1
