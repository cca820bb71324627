"""Adding the same username from many requests at once: one is created, every other
answers 400 on `username` (the database's unique constraint decides, never a 500)."""

import threading

import pytest
from django.db import connections

from accounts.models import User
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
