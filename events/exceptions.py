"""Errors of the events app that several routes answer the same way: an unknown event
name, and the refusals of ingestion (counted by events.accounting under their reason)."""

from rest_framework.exceptions import APIException, NotFound, ValidationError

from events.models import RejectionReason


class EventNotFound(NotFound):
    """404 for an event name the caller's tenant does not have (another tenant's
    included): one message for every stats and seed-000 route."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No event named '{name}'.")
        self.name = name


class EventsChanging(APIException):
    """An event of the request was deleted while it was being stored, and again once it
    was handled afresh (events.services.event_logs_ingest): nothing was stored. A retry
    with the same uuids is safe, and meets the deletion done."""

    status_code = 503
    default_detail = (
        "An event of this request was being deleted while it was stored; nothing was "
        "stored. Retry after the given seconds."
    )
    default_code = "events_changing"
    wait = 1  # seconds: DRF answers it as Retry-After


class RetriedLogGone(EventsChanging):
    """A single event sent again with a stored uuid (a duplicate, answered with the stored
    log) whose log was deleted between the insert that found it and the read of it (an
    erasure, a deletion by filter, the retention purge): nothing was stored, and there is
    no log to answer with. A retry meets the deletion done and stores the event anew."""

    default_detail = (
        "The stored event this request repeats (by its uuid) was being deleted; nothing "
        "was stored. Retry after the given seconds."
    )
    default_code = "retried_event_deleted"


class Refused(APIException):
    """An ingestion request refused as a whole: the answer says why (`reason`). The
    accounting counts `events` items, or when None those of the body if it is readable."""

    def __init__(
        self, message: str, *, reason: RejectionReason, status: int, events: int | None = None
    ) -> None:
        super().__init__({"detail": message, "reason": reason.value})
        self.status_code = status
        self.reason = reason
        self.events = events


class RejectedInput(ValidationError):
    """A 400 with DRF's field errors, counted under `reason` — unless `counted`: the
    service already counted it in its transaction."""

    def __init__(self, errors, *, reason: str, counted: bool = False) -> None:
        super().__init__(errors)
        self.reason = RejectionReason(reason)
        self.counted = counted
