"""Writes across the two databases: erasing a person (GDPR "right to erasure")."""

from django.db.models import QuerySet

from accounts.models import ApiKey, Tenant, User
from accounts.tenancy import scope_to_tenant
from events.models import DeletionReceipt, EventLog, UserNumber
from events.services import deletion_create
from people.models import Person


def person_erase(
    *,
    person: Person,
    tenant: Tenant,
    logs: QuerySet[EventLog],
    created_by: User | None = None,
    api_key: ApiKey | None = None,
) -> DeletionReceipt:
    """Delete `person`'s events (those of `logs`, the tenant's, with their distinct_id),
    their share of the rollup, the number the user sets know them by
    (events.usersets), and then the profile; returns the deletion's receipt.

    Two databases cannot share a transaction, so the order is chosen for retries: the
    events and the receipt go first, in one transaction on the default database, the
    profile last. If the profile's deletion fails, the person is still there and the
    same request again finishes the job (finding no more events); the other order could
    leave events behind with no person left to erase them through.
    """
    if person.tenant_id != tenant.pk:
        raise ValueError("The person does not belong to this tenant.")
    receipt = deletion_create(
        tenant=tenant,
        logs=logs.filter(distinct_id=person.distinct_id),
        reason=DeletionReceipt.Reason.ERASE,
        filters={"distinct_id": person.distinct_id},
        created_by=created_by,
        api_key=api_key,
    )
    scope_to_tenant(UserNumber.objects.filter(distinct_id=person.distinct_id), tenant).delete()
    person.delete()
    return receipt
