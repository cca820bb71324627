"""Failed logins are throttled on every login route, per (username, address) and per
address, with 429 and Retry-After, and counted in the metrics."""

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts.models import AuthToken, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "alpine12"  # the factory's


@pytest.fixture
def limits(settings):
    settings.EVENTTRACKER = {
        **settings.EVENTTRACKER,
        "LOGIN_FAILURES_PER_USER": "5/hour",
        "LOGIN_FAILURES_PER_ADDRESS": "8/hour",
    }


def _token_login(username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/auth/token/login/", {"username": username, "password": password}
    )


def _form_login(path: str, username: str, password: str, address: str = "127.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    return client.post(path, {"username": username, "password": password})


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_token_login_is_throttled_after_the_limit_for_that_user_and_address(limits):
    user = UserFactory(username="victim")

    wrong = [_token_login("victim", f"guess-{n}").status_code for n in range(5)]
    refused = _token_login("victim", "guess-6")
    right_here = _token_login("victim", PASSWORD)
    right_elsewhere = _token_login("victim", PASSWORD, address="198.51.100.7")

    assert wrong == [400] * 5
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "Too many failed logins" in refused.json()["detail"]
    assert right_here.status_code == 429  # not even the right password, from here
    assert right_elsewhere.status_code == 200  # nobody can lock the user out
    key = right_elsewhere.json()["auth_token"]
    assert user.auth_tokens.filter(digest=AuthToken.digest_of(key)).exists()


def test_one_address_trying_many_usernames_is_throttled(limits):
    statuses = [_token_login(f"user-{n}", "nope").status_code for n in range(10)]

    assert statuses[:8] == [400] * 8
    assert statuses[8:] == [429, 429]


def test_successful_logins_are_not_counted(limits):
    UserFactory(username="regular")

    statuses = [_token_login("regular", PASSWORD).status_code for _ in range(12)]

    assert set(statuses) == {200}


@pytest.mark.parametrize(
    "path", ["/dashboard/login/", "/admin/login/", "/api-auth/login/"], ids=str
)
def test_every_session_login_page_is_throttled(limits, path):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)

    wrong = [_form_login(path, "root", "nope").status_code for _ in range(5)]
    refused = _form_login(path, "root", PASSWORD)

    # The form again, with its error: the dashboard answers it 400, as its other forms.
    assert wrong == [400 if path == "/dashboard/login/" else 200] * 5
    assert refused.status_code == 429
    assert refused["Retry-After"].isdigit()
    assert b"Too many failed logins" in refused.content
    assert "sessionid" not in refused.cookies  # not logged in


def test_failures_and_refusals_are_counted_in_the_metrics(limits):
    failures = _metric("eventtracker_login_failures_total")
    throttled = _metric("eventtracker_login_throttled_total")

    for _ in range(7):
        _token_login("someone", "nope")

    assert _metric("eventtracker_login_failures_total") == failures + 5
    assert _metric("eventtracker_login_throttled_total") == throttled + 2


def test_the_address_is_read_through_trusted_proxies(limits, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    UserFactory(username="victim")
    behind_proxy = Client(REMOTE_ADDR="127.0.0.1")

    for n in range(5):
        behind_proxy.post(
            "/auth/token/login/",
            {"username": "victim", "password": f"guess-{n}"},
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    attacker = behind_proxy.post(
        "/auth/token/login/",
        {"username": "victim", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    owner = behind_proxy.post(
        "/auth/token/login/",
        {"username": "victim", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )

    assert attacker.status_code == 429
    assert owner.status_code == 200
