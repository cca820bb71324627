"""Writes across the two databases: erasing a person (GDPR "right to erasure")."""

from django.db.models import QuerySet

from accounts.models import ApiKey, Tenant, User
from accounts.tenancy import scope_to_tenant
from events.models import DeletionReceipt, EventLog, UserNumber
from events.services import deletion_create
from people.models import Person
from stats.models import UserActivityPeriod


def person_erase(
    *,
    distinct_id: str,
    person: Person | None,
    tenant: Tenant,
    logs: QuerySet[EventLog],
    created_by: User | None = None,
    api_key: ApiKey | None = None,
) -> DeletionReceipt:
    """Delete the events of `distinct_id` (those of `logs`, the tenant's), their share of
    the rollup, the number the user sets know them by, and then `person`, its profile if
    it has one (events never need a profile); returns the deletion's receipt.

    Two databases cannot share a transaction, so the order is chosen for retries: the
    events and the receipt go first, in one transaction on the default database, the
    profile last. If the profile's deletion fails, the person is still there and the
    same request again finishes the job (finding no more events); the other order could
    leave events behind with no person left to erase them through.
    """
    if person is not None and (person.tenant_id, person.distinct_id) != (tenant.pk, distinct_id):
        raise ValueError("The person is not this distinct_id of this tenant.")
    receipt = user_events_delete(
        distinct_id=distinct_id,
        tenant=tenant,
        logs=logs,
        reason=DeletionReceipt.Reason.ERASE,
        created_by=created_by,
        api_key=api_key,
    )
    if person is not None:
        person.delete()
    return receipt


def user_events_delete(
    *,
    distinct_id: str,
    tenant: Tenant,
    logs: QuerySet[EventLog],
    reason: str = DeletionReceipt.Reason.USER_EVENTS,
    created_by: User | None = None,
    api_key: ApiKey | None = None,
) -> DeletionReceipt:
    """Delete every event of `distinct_id` (of `logs`, the tenant's) with a receipt, its
    activity periods and its UserNumber, even when no event was left. (The activity job
    would recompute the periods from the receipt at its next run; an erasure should not
    leave them until then.)"""
    receipt = deletion_create(
        tenant=tenant,
        logs=logs.filter(distinct_id=distinct_id),
        reason=reason,
        filters={"distinct_id": distinct_id},
        created_by=created_by,
        api_key=api_key,
    )
    for model in (UserActivityPeriod, UserNumber):
        scope_to_tenant(model.objects.filter(distinct_id=distinct_id), tenant).delete()
    return receipt
