"""Personal data lives only in the "pii" database; events need no person to exist."""

import pytest
from django.apps import apps
from django.db import connections, router

from eventtracker.dbrouters import PiiRouter
from people.models import Person

pytestmark = pytest.mark.pii

PERSON = {
    "distinct_id": "cust-7f3a",
    "email": "marie.sklodowska@shop.example",
    "username": "msklodowska",
    "first_name": "Marie",
    "last_name": "Sklodowska-Curie",
    "phone": "+48221234567",
    "properties": {"street": "Freta 16, Warszawa"},
}
SECRETS = ("marie.sklodowska", "msklodowska", "Sklodowska-Curie", "+48221234567", "Freta 16")


def _every_value(alias: str) -> str:
    """Every row of every table of the database `alias`, as one string to search."""
    connection = connections[alias]
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            dump.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(dump)


def _tables(alias: str) -> set[str]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_personal_data_never_reaches_the_default_database(api_client, tenant):
    assert api_client.post("/api/people/", PERSON, format="json").status_code == 201
    for name in ("signup", "purchase"):
        body = {"event_name": name, "distinct_id": PERSON["distinct_id"], "data": {"sku": 1}}
        assert api_client.post("/api/eventlogs/", body, format="json").status_code == 201
    api_client.patch("/api/people/cust-7f3a", {"first_name": "Maria"}, format="json")
    assert api_client.get("/api/people/cust-7f3a/export").status_code == 200

    default_rows, pii_rows = _every_value("default"), _every_value("pii")

    assert Person._meta.db_table not in _tables("default")
    assert not [secret for secret in SECRETS if secret in default_rows]
    assert all(secret in pii_rows for secret in SECRETS)
    # The link between the two is the pseudonymous distinct_id, on both sides.
    assert PERSON["distinct_id"] in default_rows


def test_the_pii_database_holds_only_people_tables(db):
    app_tables = {model._meta.db_table for model in apps.get_models()}

    in_pii = _tables("pii") & app_tables

    assert in_pii == {Person._meta.db_table}


def test_router_sends_people_to_pii_and_everything_else_elsewhere():
    for model in apps.get_models():
        expected = "pii" if model._meta.app_label == "people" else "default"
        assert router.db_for_read(model) == expected, model
        assert router.db_for_write(model) == expected, model
        assert router.allow_migrate_model("pii", model) is (expected == "pii"), model
        assert router.allow_migrate_model("default", model) is (expected == "default"), model


def test_no_relation_crosses_the_databases(tenant):
    person = Person(tenant_id=tenant.pk)

    assert PiiRouter().allow_relation(person, tenant) is False
    assert PiiRouter().allow_relation(tenant, tenant) is None
    assert PiiRouter().allow_relation(person, person) is None


def test_events_and_stats_work_without_any_person(api_client, tenant, django_assert_num_queries):
    with django_assert_num_queries(0, connection=connections["pii"]):
        for distinct_id in ("nobody-1", "nobody-2", ""):
            body = {"event_name": "view", "distinct_id": distinct_id}
            assert api_client.post("/api/eventlogs/", body, format="json").status_code == 201
        listed = api_client.get("/api/eventlogs/", {"distinct_id": "nobody-1"})
        users = api_client.get("/api/stats/unique_users")
        trend = api_client.get("/api/stats/event_trend")

    assert len(listed.json()) == 1
    assert [row["unique_users"] for row in users.json()] == [2]
    assert sum(row["view"] for row in trend.json().values()) == 3
    assert not Person.objects.exists()
