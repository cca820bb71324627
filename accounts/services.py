"""Writes with several steps on accounts: creating, rotating and revoking API keys;
blocking tenants and changing their settings; the team's members."""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import keys
from accounts.models import ApiKey, Tenant, User
from accounts.tenancy import scope_to_tenant
from core.locks import lock_until_commit
from core.rows import save_columns

MAX_ROTATION_GRACE = dt.timedelta(days=7)


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    role: str,
    created_by: User | None = None,
    expires_at: dt.datetime | None = None,
    allowed_origins: Sequence[str] = (),
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never retrievable again."""
    prefix, secret, hashed = keys.generate()
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        role=role,
        prefix=prefix,
        hashed_secret=hashed,
        created_by=created_by,
        expires_at=expires_at,
        allowed_origins=list(allowed_origins),
    )
    return key, secret


class RotationRefused(ValueError):
    """A key that cannot be rotated (the message says why)."""


def api_key_rotate(
    *, key: ApiKey, grace: dt.timedelta, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Replace `key` by a new one with the same name, role, origins and expiry. The old
    key stays valid for `grace` (0 revokes it now), never beyond its own expiry.

    Only a key that is in use may be rotated: RotationRefused for one that was already
    replaced (its expiry is then the grace's end, which a successor must not inherit:
    rotate the successor), revoked or expired (a successor would be as unusable, or
    would revive it). The key's row is locked, so that of two concurrent rotations of
    one key the second sees the first's replacement."""
    now = timezone.now()
    with transaction.atomic():
        key = scope_to_tenant(ApiKey.objects.select_for_update(), key.tenant).get(pk=key.pk)
        if key.replaced_by_id is not None:
            raise RotationRefused(
                f"This key was already rotated into key {key.replaced_by_id}: "
                "rotate that one instead."
            )
        if key.revoked_at is not None:
            raise RotationRefused("This key is revoked: create a new key instead.")
        if key.expires_at is not None and key.expires_at <= now:
            raise RotationRefused("This key has expired: create a new key instead.")
        new_key, secret = api_key_create(
            tenant=key.tenant,
            name=key.name,
            role=key.role,
            created_by=created_by,
            expires_at=key.expires_at,
            allowed_origins=key.allowed_origins,
        )
        key.replaced_by = new_key
        if grace:
            key.expires_at = min(filter(None, [key.expires_at, now + grace]))
        else:
            key.revoked_at = now
        key.save(update_fields=["replaced_by", "expires_at", "revoked_at"])
    return new_key, secret


class ExpiryRefused(ValueError):
    """A new expiry the key's state refuses (the message says why)."""


def api_key_check_expiry(*, key: ApiKey, expires_at: dt.datetime | None) -> None:
    """Refuse a new `expires_at` that would keep a key working past its end: a rotated
    key's grace (at most MAX_ROTATION_GRACE) may be shortened, never moved later or
    removed, and an expired key stays expired (as rotation refuses to revive it). A
    revoked key's expiry changes nothing. Call it inside the transaction that saves the
    change: the key's row is locked, so a rotation cannot slip in between."""
    locked = scope_to_tenant(ApiKey.objects.select_for_update(), key.tenant).get(pk=key.pk)
    if locked.revoked_at is not None:
        return
    if locked.replaced_by_id is not None and (
        expires_at is None or (locked.expires_at is not None and expires_at > locked.expires_at)
    ):
        raise ExpiryRefused(
            f"This key was rotated into key {locked.replaced_by_id}: its grace ends at "
            f"{locked.expires_at.isoformat()} and cannot be extended (revoke it to end it now)."
        )
    if locked.expires_at is not None and locked.expires_at <= timezone.now():
        raise ExpiryRefused("This key has expired: create a new key instead.")


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


OWN_TENANT = "You cannot block your own tenant: you would lock yourself out."


class BlockRefused(ValueError):
    """A block the platform rules refuse (the message says why)."""


def tenant_set_active(*, tenant: Tenant, active: bool, by: User) -> Tenant:
    """Block (`active=False`) or unblock `tenant` for staff member `by`, who may not block
    their own. Every process reads the tenant row on each request (accounts.credentials),
    so the change applies from the next request everywhere."""
    if not active and tenant.pk == by.tenant_id:
        raise BlockRefused(OWN_TENANT)
    tenant.is_active = active
    tenant.save(update_fields=["is_active"])
    return tenant


def tenant_update_settings(*, tenant: Tenant, changes: Mapping[str, object]) -> Tenant:
    """Save `changes` (an owner's settings, staff's rates) to `tenant` and answer its row
    as stored. Only the changed columns are written: a whole-row save would put back the
    `is_active` and `cache_version` read at the start of the request, undoing a block or a
    credential's revocation made meanwhile. Seen by the next request everywhere, as a
    block is."""
    for name, value in changes.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(changes))
    return Tenant.objects.get(pk=tenant.pk)


LAST_OWNER = "A tenant keeps at least one active owner."
USERNAME_TAKEN = "A user with that username already exists."


class TeamError(ValueError):
    """A change the team rules refuse (the message says which)."""


class MemberRemoved(TeamError):
    """A change to a member who was removed from the team."""


class StaffDeactivated(TeamError):
    """Bringing back a member whom the platform's staff deactivated."""


class UsernameTaken(TeamError):
    """A username taken by another user, perhaps by a request validated alongside."""


@contextmanager
def _claiming(username: str) -> Iterator[None]:
    """A transaction for giving a user `username`, UsernameTaken if another has it by
    the time this one commits. Concurrent claims of one name wait on its lock, not on
    the unique index: on Citus, where users are a reference table, waiting there could
    deadlock."""
    try:
        with transaction.atomic():
            lock_until_commit(f"username:{username}")
            yield
    except IntegrityError:
        if User.objects.filter(username=username).exists():
            raise UsernameTaken(USERNAME_TAKEN) from None
        raise


def user_sign_up(*, username: str, password: str, **fields: object) -> User:
    """A user who signs up alone, owner of a new tenant (User.objects.create_user);
    UsernameTaken when the name was taken since it was validated."""
    with _claiming(username):
        return User.objects.create_user(username=username, password=password, **fields)


def username_set(*, user: User, username: str) -> User:
    """Rename `user`; UsernameTaken when the name was taken since it was validated. Only
    the username column is written: a whole-row save would put back the role and
    `is_active` read at the start of the request, undoing a removal made meanwhile."""
    with _claiming(username):
        user.username = username
        save_columns(user, ["username"])
    return user


def user_password_set(*, user: User, password: str) -> User:
    """Give `user` a new password (validated already), which logs them out everywhere
    (accounts.signals.password_changed). Only the password column is written, as in
    username_set."""
    user.set_password(password)
    save_columns(user, ["password"])
    return user


def member_add(*, tenant: Tenant, username: str, password: str, role: str, email: str = "") -> User:
    """A new user in `tenant` with `role`; the password must pass the validators.
    UsernameTaken when the username is taken, even by a request that validated alongside."""
    candidate = User(username=username, email=email, tenant=tenant)
    validate_password(password, user=candidate)
    with _claiming(username):
        return User.objects.create_user(
            username=username, email=email, password=password, tenant=tenant, role=role
        )


STAFF_DEACTIVATED = (
    "This account was deactivated by the platform's staff: only they can reactivate it."
)
MEMBER_REMOVED = (
    "This member was removed from the team: their role cannot be changed unless they are "
    "brought back (is_active true)."
)


@transaction.atomic
def member_update(*, member: User, role: str | None = None, is_active: bool | None = None) -> User:
    """An owner's change to `member`: `role`; `is_active` false removes them (deactivated,
    their events keep naming them, every login token revoked) and true brings a removed
    member back (with the password they had; their logins went with the removal, so they
    log in again). TeamError for the last active owner's demotion or removal;
    MemberRemoved for a role change of a member who stays removed; StaffDeactivated to
    bring back an account the platform's staff deactivated (the admin); Http404 (as for a
    request that came after) when their account was deleted meanwhile. The member's row
    is locked and read again, so a removal committed meanwhile is seen."""
    if is_active is False or (role is not None and role != User.Role.OWNER):
        member_check_leaving(member=member)
    rows = scope_to_tenant(User.objects.select_for_update(), member.tenant).filter(pk=member.pk)
    stored = rows.values_list("is_active", "deactivated_by_staff").first()
    if stored is None:
        raise Http404("No such member.")
    was_active, by_staff = stored
    if is_active and not was_active and by_staff:
        raise StaffDeactivated(STAFF_DEACTIVATED)
    if role is not None and not (was_active if is_active is None else is_active):
        raise MemberRemoved(MEMBER_REMOVED)
    changed = []
    if role is not None:
        member.role = role
        changed.append("role")
    if is_active is not None:
        member.is_active = is_active
        changed.append("is_active")
    member.save(update_fields=changed)
    if was_active and is_active is False:
        user_tokens_revoke(user=member)
    return member


def member_remove(*, member: User) -> None:
    """Take `member` off the team (member_update with `is_active` false)."""
    member_update(member=member, is_active=False)


def user_tokens_revoke(*, user: User) -> int:
    """Log `user` out everywhere: every login token deleted; returns how many."""
    tokens = list(user.auth_tokens.all())
    for token in tokens:
        token.delete()  # one by one: each delete makes cached credentials stale
    return len(tokens)


def member_check_leaving(*, member: User) -> None:
    """TeamError when `member` is their tenant's last active owner. Call it in the
    transaction that removes them: it locks the owners' rows until then."""
    members_check_leaving(members=[member])


def members_check_leaving(*, members: Iterable[User]) -> None:
    """TeamError when `members`, leaving together, are the last active owners of one
    of their tenants (the admin deletes several at once). Locks as member_check_leaving."""
    leaving: dict[int, tuple[Tenant, list[int]]] = {}
    for member in members:
        if member.role == User.Role.OWNER:
            leaving.setdefault(member.tenant_id, (member.tenant, []))[1].append(member.pk)
    for tenant, pks in leaving.values():
        _keep_an_owner(tenant, leaving=pks)


def _keep_an_owner(tenant: Tenant, *, leaving: list[int]) -> None:
    """Every active owner's row is locked, the leaving ones' too, in one order (by id):
    two owners leaving at once take turns, and the second finds the first gone. (Locking
    only the others' rows, each locked the other's first: a deadlock, a 500.)"""
    owners = (
        scope_to_tenant(User.objects.select_for_update(), tenant)
        .filter(role=User.Role.OWNER, is_active=True)
        .order_by("pk")
    )
    if not set(owners.values_list("pk", flat=True)) - set(leaving):
        raise TeamError(LAST_OWNER)
