import datetime as dt

import factory

from accounts.tests.factories import TenantFactory
from events.models import Event, EventLog


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"event{n}")
    description = ""


class EventLogFactory(factory.django.DjangoModelFactory):
    """A stored log; `timestamp` defaults to a fixed instant so tests stay reproducible."""

    class Meta:
        model = EventLog

    event = factory.SubFactory(EventFactory)
    tenant = factory.SelfAttribute("event.tenant")
    timestamp = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)
    received_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
    count = 1
    data = factory.LazyFunction(dict)
