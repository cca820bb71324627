"""An update writes only the columns its request changed (core.rest.ChangedColumnsMixin):
a change another request committed after this one read the row stays. DRF saved the
whole row as read, and put back what had changed meanwhile."""

import pytest
from django.utils import timezone
from rest_framework.generics import GenericAPIView

from accounts.models import ApiKey
from accounts.services import api_key_create
from events.models import Event
from insights.models import Dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def changed_once_read(monkeypatch):
    """`changed_once_read(change)`: every view's object is read as the request finds
    it, then `change(pk)` is committed by 'another request' before the update writes."""

    def arrange(change) -> None:
        get_object = GenericAPIView.get_object

        def read_then_changed(view):
            found = get_object(view)
            change(found.pk)
            return found

        monkeypatch.setattr(GenericAPIView, "get_object", read_then_changed)

    return arrange


def test_a_key_revoked_while_renamed_stays_revoked(
    api_client, anon_client, tenant, changed_once_read
):
    key, secret = api_key_create(tenant=tenant, name="shop", role="ingest")
    changed_once_read(lambda pk: ApiKey.objects.filter(pk=pk).update(revoked_at=timezone.now()))

    response = api_client.patch(f"/api/keys/{key.pk}/", {"name": "storefront"}, format="json")

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.name == "storefront"
    assert key.revoked_at is not None  # was put back to null: the key worked again
    ingest = anon_client.post(
        "/api/eventlogs/", {"event_name": "x"}, format="json", HTTP_X_API_KEY=secret
    )
    assert ingest.status_code == 401


def test_a_share_link_revoked_while_the_dashboard_is_renamed_stays_revoked(
    api_client, changed_once_read
):
    board = api_client.post("/api/dashboards/", {"name": "Sales"}, format="json").json()
    url = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
    changed_once_read(lambda pk: Dashboard.objects.filter(pk=pk).update(share_token=None))

    response = api_client.patch(
        f"/api/dashboards/{board['id']}/", {"name": "Revenue"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Revenue"
    assert Dashboard.objects.get(pk=board["id"]).share_token is None
    assert api_client.get(url).status_code == 404


def test_two_edits_of_different_fields_both_stay(api_client, tenant, changed_once_read):
    event = Event.objects.create(tenant=tenant, name="signup", description="")
    changed_once_read(lambda pk: Event.objects.filter(pk=pk).update(name="sign_up"))

    response = api_client.patch(
        f"/api/events/{event.pk}/", {"description": "A new account"}, format="json"
    )

    assert response.status_code == 200
    event.refresh_from_db()
    assert (event.name, event.description) == ("sign_up", "A new account")


def test_an_update_still_stamps_its_modified_time(api_client, tenant):
    event = Event.objects.create(tenant=tenant, name="signup")
    before = Event.objects.get(pk=event.pk).modified_at

    response = api_client.patch(
        f"/api/events/{event.pk}/", {"description": "A new account"}, format="json"
    )

    assert response.status_code == 200
    assert Event.objects.get(pk=event.pk).modified_at > before


def test_an_object_deleted_while_it_was_updated_is_a_404(api_client, tenant, changed_once_read):
    """Was a 500 (Django: "did not affect any rows"); the whole-row save before that put
    the deleted event back."""
    event = Event.objects.create(tenant=tenant, name="signup")
    changed_once_read(lambda pk: Event.objects.filter(pk=pk).delete())

    response = api_client.patch(f"/api/events/{event.pk}/", {"description": "x"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_changing_only_a_dashboards_tiles_stamps_its_modified_time(api_client):
    board = api_client.post("/api/dashboards/", {"name": "Sales"}, format="json").json()
    insight = api_client.post(
        "/api/insights/",
        {"name": "Events", "kind": "query", "definition": {"metrics": ["events"]}},
        format="json",
    ).json()
    before = Dashboard.objects.get(pk=board["id"]).modified_at

    response = api_client.patch(
        f"/api/dashboards/{board['id']}/", {"insights": [insight["id"]]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["insights"] == [insight["id"]]
    assert Dashboard.objects.get(pk=board["id"]).modified_at > before
