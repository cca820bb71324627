"""Adding the same username from many requests at once: one is created, every other
answers 400 on `username` (the database's unique constraint decides, never a 500)."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from accounts.authentication import TenantTokenAuthentication
from accounts.models import User
from accounts.serializers import UsernameField
from conftest import client_for

MEMBERS = "/api/members/"
PASSWORD = "a-long-Passphrase-42"
RACERS = 12


class BarrierValidator:
    """A password validator that holds every request until all have passed validation:
    each then inserts a username all of them found free."""

    barrier: threading.Barrier | None = None

    def validate(self, password, user=None):
        if self.barrier is not None and user is not None and user.username == "racer":
            self.barrier.wait(timeout=30)

    def get_help_text(self):
        return ""


@pytest.fixture
def all_validated_at_once(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        *settings.AUTH_PASSWORD_VALIDATORS,
        {"NAME": f"{__name__}.BarrierValidator"},
    ]
    BarrierValidator.barrier = threading.Barrier(RACERS)
    yield
    BarrierValidator.barrier = None


@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_of_one_username_are_one_201_and_400s(user, all_validated_at_once):
    answers: list[tuple[int, dict]] = []

    def add() -> None:
        try:
            response = client_for(user).post(
                MEMBERS, {"username": "racer", "password": PASSWORD}, format="json"
            )
            answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [400] * (RACERS - 1)
    refusals = [body for status, body in answers if status == 400]
    taken = {"username": ["A user with that username already exists."]}
    assert all(body == taken for body in refusals)
    assert User.objects.filter(username="racer").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(8))
def test_two_owners_removing_each_other_at_once_leave_one_owner_without_a_500(user, round_):
    """Each owner removes the other, at once: one removal wins (204); the other is the
    last-owner 400, or a 401 when its sender was removed (logged out) before it was
    authenticated. Each used to lock only the other's row, then write its own: a
    deadlock, answered 500, in about half the rounds."""
    second = User.objects.create_user(
        username=f"second{round_}", password=PASSWORD, tenant=user.tenant, role="owner"
    )
    clients = {user.pk: client_for(user), second.pk: client_for(second)}
    start = threading.Barrier(2)
    answers: list[int] = []

    def remove(remover: int, removed: int) -> None:
        try:
            start.wait(timeout=10)
            answers.append(clients[remover].delete(f"{MEMBERS}{removed}").status_code)
        finally:
            connections.close_all()

    pairs = [(user.pk, second.pk), (second.pk, user.pk)]
    threads = [threading.Thread(target=remove, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winner, loser = sorted(answers)
    assert winner == 204
    assert loser in (400, 401)
    owners = User.objects.filter(tenant=user.tenant, role="owner", is_active=True)
    assert owners.count() == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/users/set_password/", {"new_password": "another-Passphrase-43"}),
        ("/auth/users/set_username/", {"new_username": "renamed"}),
    ],
)
@pytest.mark.django_db
def test_changing_an_account_deleted_meanwhile_is_a_404(tenant, path, body, monkeypatch):
    """The account is deleted (by its owner, or DELETE /auth/users/me/ from another
    session) right after the request was authenticated: a 404, as for a request that
    came after. Writing the column found no row: Django's "did not affect any rows"."""
    member = User.objects.create_user(
        username="member", password=PASSWORD, tenant=tenant, role="member"
    )
    client = client_for(member)
    _after_authentication(monkeypatch, lambda user: User.objects.filter(pk=user.pk).delete())

    response = client.post(path, {**body, "current_password": PASSWORD}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert not User.objects.filter(username__in=["member", "renamed"]).exists()


@pytest.mark.parametrize("credential", ["token", "session"])
@pytest.mark.django_db
def test_a_username_taken_once_checked_is_a_400_with_either_credential(
    tenant, credential, monkeypatch
):
    """Another request takes the name right after this one found it free. With a session
    (the browsable API), request.user is a lazy proxy of the row: looking its model up
    by type() failed as the rename did (a 500 instead of the 400 a token got)."""
    member = User.objects.create_user(
        username="member", password=PASSWORD, tenant=tenant, role="member"
    )
    if credential == "token":
        client = client_for(member)
    else:
        client = APIClient()
        client.force_login(member)
    checked = UsernameField.run_validators

    def checked_then_taken(field, value):
        checked(field, value)
        User.objects.create_user(username=value, password=PASSWORD, tenant=tenant)

    monkeypatch.setattr(UsernameField, "run_validators", checked_then_taken)

    response = client.post(
        "/auth/users/set_username/",
        {"new_username": "renamed", "current_password": PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["new_username"]
    assert User.objects.get(pk=member.pk).username == "member"


@pytest.fixture
def removed_once_authenticated(monkeypatch):
    """The member is removed by their owner (committed) right after their own request
    was authenticated: the request goes on with the user row it read before."""
    _after_authentication(
        monkeypatch, lambda user: User.objects.filter(pk=user.pk).update(is_active=False)
    )


def _after_authentication(monkeypatch, change) -> None:
    """`change(user)` runs (and commits, outside a test's transaction) right after the
    request's token was verified: the request goes on with the user row it read."""
    authenticate = TenantTokenAuthentication.authenticate_credentials

    def authenticated_then_changed(self, key):
        user, token = authenticate(self, key)
        change(user)
        return user, token

    monkeypatch.setattr(
        TenantTokenAuthentication, "authenticate_credentials", authenticated_then_changed
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/auth/users/set_password/", {"new_password": "another-Passphrase-43"}),
        ("post", "/auth/users/set_username/", {"new_username": "renamed"}),
        ("patch", "/auth/users/me/", {"email": "new@shop.example"}),
        ("put", "/auth/users/me/", {"email": "new@shop.example"}),
    ],
)
@pytest.mark.django_db
def test_changing_ones_account_does_not_undo_a_removal_made_meanwhile(
    tenant, method, path, body, removed_once_authenticated
):
    """djoser saved the whole user row as the request had read it: a member removed
    while changing their own password, username or email came back active."""
    member = User.objects.create_user(
        username="member", password=PASSWORD, tenant=tenant, role="member"
    )
    client = client_for(member)

    if "new_password" in body or "new_username" in body:
        body = {**body, "current_password": PASSWORD}
    response = getattr(client, method)(path, body, format="json")

    assert response.status_code in (200, 204)
    member.refresh_from_db()
    assert not member.is_active
    changed = {"email": member.email, "new_username": member.username}
    assert all(changed[name] == value for name, value in body.items() if name in changed)
