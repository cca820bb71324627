"""core.rest.CachedFieldsMixin answers what DRF's ModelSerializer answers, in the time
zone current when the serializer is built, and no two serializers share a field."""

import pytest
from django.utils import timezone
from rest_framework import serializers

from events.serializers import EventLogSerializer, EventSerializer
from events.tests.factories import EventFactory, EventLogFactory

pytestmark = pytest.mark.django_db


class PlainEventSerializer(serializers.ModelSerializer):
    class Meta(EventSerializer.Meta):
        pass


class PlainEventLogSerializer(serializers.ModelSerializer):
    event_name = serializers.CharField(source="event.name", read_only=True)

    class Meta(EventLogSerializer.Meta):
        pass


@pytest.mark.parametrize("zone", [None, "Asia/Kolkata", "America/New_York"])
def test_events_and_logs_read_as_drf_writes_them(zone):
    event = EventFactory(name="signup", description="first visit")
    logs = EventLogFactory.create_batch(3, event=event, tenant=event.tenant)

    with timezone.override(zone):  # None: the default (UTC)
        ours = EventSerializer([event], many=True).data, EventLogSerializer(logs, many=True).data
        drf = (
            PlainEventSerializer([event], many=True).data,
            PlainEventLogSerializer(logs, many=True).data,
        )

    assert ours == drf
    if zone == "Asia/Kolkata":
        assert ours[0][0]["created_at"].endswith("+05:30")


def test_each_serializer_has_fields_of_its_own():
    first, second = EventSerializer(), EventSerializer()

    assert first.fields["name"] is not second.fields["name"]
    first.fields["name"].max_length = 3

    assert second.fields["name"].max_length > 3
    assert [field.field_name for field in first._readable_fields] == [
        "id",
        "name",
        "description",
        "created_at",
        "modified_at",
    ]


def test_writes_still_validate():
    serializer = EventSerializer(data={"name": "a\x00b", "id": 5})

    assert not serializer.is_valid()
    assert "name" in serializer.errors
