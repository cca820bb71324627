"""Every route answers the same with and without its trailing slash, for every method
(never a redirect: a redirected POST loses its body)."""

import pytest

pytestmark = pytest.mark.django_db

# (method, path without its slash, status): routes that no other test sends both ways.
ROUTES = [
    ("get", "/auth/users/me", 200),
    ("get", "/auth/users", 200),
    ("get", "/api/schema", 200),
    ("get", "/api/docs", 200),
    ("get", "/api/redoc", 200),
    ("get", "/api/tenant", 200),
    ("get", "/api/events", 200),
    ("get", "/api/stats/event_trend", 200),
    ("get", "/api/v1/events", 200),
    ("get", "/admin/v1/event_frequencies", 200),
]


@pytest.mark.parametrize(("method", "path", "status"), ROUTES)
@pytest.mark.parametrize("slash", ["", "/"], ids=["no slash", "slash"])
def test_a_route_answers_with_and_without_its_slash(api_client, method, path, status, slash):
    response = getattr(api_client, method)(path + slash)

    assert response.status_code == status, (path + slash, response.content[:200])


@pytest.mark.parametrize("slash", ["", "/"], ids=["no slash", "slash"])
def test_signing_up_works_with_and_without_the_slash(anon_client, slash):
    response = anon_client.post(
        f"/auth/users{slash}", {"username": "ann", "password": "a-long-passphrase-9"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["username"] == "ann"


@pytest.mark.parametrize("slash", ["", "/"], ids=["no slash", "slash"])
def test_setting_a_password_works_with_and_without_the_slash(api_client, user, slash):
    response = api_client.post(
        f"/auth/users/set_password{slash}",
        {"current_password": "alpine12", "new_password": "another-long-passphrase-7"},
    )

    assert response.status_code == 204, response.content
