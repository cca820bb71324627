import pytest
from django.test import Client

BATCH = "/api/eventlogs/batch/"


@pytest.fixture
def web_client(user) -> Client:
    """A browser session logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_web_client(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def ingest():
    """`ingest(client, [{"event_name": …}, …])`: send a batch, return its JSON answer."""

    def send(client, events: list[dict]) -> dict:
        response = client.post(BATCH, {"events": events}, format="json")
        assert response.status_code in (200, 201), response.content
        return response.json()

    return send
