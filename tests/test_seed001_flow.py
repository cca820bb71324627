"""Seed 001's README, step by step, through the real routes (slash and no-slash forms)."""

import datetime as dt

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def _register_and_login(client: APIClient) -> str:
    created = client.post(
        "/auth/users/",
        "username=djoser&password=alpine12",
        content_type="application/x-www-form-urlencoded",
    )
    assert created.status_code == 201
    assert created.json() == {"email": "", "username": "djoser", "id": created.json()["id"]}
    login = client.post(
        "/auth/token/login/",
        "username=djoser&password=alpine12",
        content_type="application/x-www-form-urlencoded",
    )
    assert login.status_code == 200
    return login.json()["auth_token"]


@pytest.mark.django_db
def test_seed_001_readme_walkthrough(client):
    token = _register_and_login(client)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/auth/users/me/").json()["username"] == "djoser"

    # 1. an empty list of events
    assert client.get("/api/events/").json() == []

    # 2. create an event; a duplicate is an error
    body = {"name": "test", "description": "testing event creation"}
    created = client.post("/api/events/", body, format="json")
    assert created.status_code == 201
    event_id = created.json()["id"]
    assert client.post("/api/events/", body, format="json").status_code == 400

    # 3. search by title and description
    found = client.get("/api/events/?search=test").json()
    assert [event["name"] for event in found] == ["test"]
    assert client.get("/api/events/?search=creation").json()[0]["name"] == "test"

    # 4. update without a trailing slash
    patched = client.patch(
        f"/api/events/{event_id}", {"description": "modified description"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "modified description"

    # 6. log customers' events: data as an object and as a JSON string holding one
    log = client.post(
        "/api/eventlogs/",
        {"event_name": "test", "data": {"amount": 50, "product_id": 2}},
        format="json",
    )
    assert log.status_code == 201
    assert log.json()["data"] == {"amount": 50, "product_id": 2}
    purchased = client.post(
        "/api/eventlogs",
        {"event_name": "purchased", "data": '{"amount": 50, "product_id": 2}'},
        format="json",
    )
    assert purchased.status_code == 201
    assert purchased.json()["data"] == {"amount": 50, "product_id": 2}
    client.post("/api/eventlogs/", {"event_name": "purchased", "data": {}}, format="json")

    # 7. trend: {"YYYY-MM-DD": {"event": n}}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    trend = client.get("/api/stats/event_trend")
    assert trend.status_code == 200
    assert trend.json() == {today: {"purchased": 2, "test": 1}}

    # 8. frequency, all events and one event, with a date range
    frequency = client.get("/api/stats/event_frequency/").json()
    assert frequency == [
        {"event_name": "purchased", "total": 2},
        {"event_name": "test", "total": 1},
    ]
    one = client.get(
        "/api/stats/event_frequency",
        {"event_name": "test", "start_date": "2021-01-01", "end_date": today},
    )
    assert one.json() == {"event_name": "test", "total": 1}

    # 5. delete without a trailing slash; its logs go with it
    assert client.delete(f"/api/events/{event_id}").status_code == 204
    assert client.get(f"/api/events/{event_id}").status_code == 404
    assert [event["name"] for event in client.get("/api/events").json()] == ["purchased"]
    assert client.get("/api/stats/event_trend").json() == {today: {"purchased": 2}}
