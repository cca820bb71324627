"""The Django admin for tenants, users and API keys keeps the rules the API keeps: a
key's origins validated and normalised, its tenant and role fixed."""

import datetime as dt

import pytest
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import Permission
from django.db.models import F
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Tenant, User
from accounts.services import api_key_create, api_key_revoke
from accounts.tests.factories import UserFactory

# admin_client (pytest-django): logged in as a superuser, of a tenant of their own.
pytestmark = pytest.mark.django_db
KEYS = "/admin/accounts/apikey/"


def key_form(tenant, **fields) -> dict:
    return {"tenant": tenant.pk, "name": "shop", "role": "ingest", "allowed_origins": "[]"} | fields


@pytest.mark.parametrize(
    "origins",
    [
        *(
            "5",
            "null",
            '"https://shop.example"',
            '{"a": 1}',
            '["not an origin"]',
            '["https://a/b"]',
        ),
        *("[" * 5000, '"\\ud800"', '["https://a.example\\u0000"]', "[1e400]"),  # were 500s
    ],
)
def test_adding_a_key_refuses_what_the_api_refuses(admin_client, tenant, origins):
    response = admin_client.post(f"{KEYS}add/", key_form(tenant, allowed_origins=origins))

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["allowed_origins"]
    assert not ApiKey.objects.exists()


def test_adding_a_key_stores_origins_normalised_and_shows_the_secret_once(admin_client, tenant):
    origins = '["https://SHOP.example/", "https://shop.example", "*.Example.com"]'

    response = admin_client.post(
        f"{KEYS}add/", key_form(tenant, allowed_origins=origins), follow=True
    )

    key = ApiKey.objects.get()
    assert key.allowed_origins == ["https://shop.example", "*.example.com"]
    assert (key.tenant, key.role, key.name) == (tenant, "ingest", "shop")
    [shown] = [str(m) for m in response.context["messages"] if "Copy it now" in str(m)]
    secret = shown.rsplit(" ", 1)[-1]
    sender = APIClient(HTTP_X_API_KEY=secret)
    assert sender.post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code == 201
    assert secret not in admin_client.get(f"{KEYS}{key.pk}/change/").content.decode()


def test_changing_origins_normalises_them_and_refuses_bad_ones(admin_client, tenant):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    url = f"{KEYS}{key.pk}/change/"

    bad = admin_client.post(url, {"name": "shop", "allowed_origins": "5"})
    good = admin_client.post(
        url, {"name": "shop", "allowed_origins": '["HTTPS://Shop.Example:443"]'}
    )

    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["allowed_origins"]
    assert good.status_code == 302
    key.refresh_from_db()
    assert key.allowed_origins == ["https://shop.example"]


def test_a_keys_tenant_and_role_are_fixed(admin_client, tenant, other_tenant):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    form = {"name": "renamed", "allowed_origins": "[]", "role": "admin", "tenant": other_tenant.pk}

    response = admin_client.post(f"{KEYS}{key.pk}/change/", form)

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.role, key.tenant) == ("renamed", "ingest", tenant)


def test_a_key_past_its_expiry_can_still_be_renamed(admin_client, tenant):
    """Only the fields changed are checked, as a PATCH: an expired key keeps its expiry."""
    key, _ = api_key_create(tenant=tenant, name="old", role="read")
    ApiKey.objects.filter(pk=key.pk).update(expires_at="2020-01-01T00:00:00Z")
    shown = {
        "name": "old",
        "allowed_origins": "[]",
        "expires_at_0": "2020-01-01",
        "expires_at_1": "00:00:00",
    }

    response = admin_client.post(
        f"{KEYS}{key.pk}/change/", shown | as_shown(shown) | {"name": "older"}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "older"


# --- tenants: blocked and unblocked through tenant_set_active ---------------------------

TENANTS = "/admin/accounts/tenant/"


def tenant_action(client, action: str, *tenants):
    form = {"action": action, "_selected_action": [t.pk for t in tenants]}
    return client.post(TENANTS, form, follow=True)


def test_blocking_a_tenant_takes_effect_on_its_next_request(admin_client, tenant, api_client):
    assert api_client.get("/api/events/").status_code == 200  # its credential now cached

    tenant_action(admin_client, "block", tenant)
    blocked = api_client.get("/api/events/")
    tenant_action(admin_client, "unblock", tenant)

    assert blocked.status_code == 403
    assert api_client.get("/api/events/").status_code == 200


def test_staff_cannot_block_their_own_tenant(admin_client, admin_user, tenant):
    response = tenant_action(admin_client, "block", tenant, admin_user.tenant)

    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["You cannot block your own tenant: you would lock yourself out."]
    tenant.refresh_from_db()
    admin_user.tenant.refresh_from_db()
    assert tenant.is_active  # all or nothing
    assert admin_user.tenant.is_active


def test_the_change_form_does_not_block(admin_client, admin_user):
    own = admin_user.tenant
    form = {"name": own.name, "slug": own.slug, "timezone": "UTC", "session_minutes": 30}

    response = admin_client.post(f"{TENANTS}{own.pk}/change/", form)  # is_active unticked

    assert response.status_code == 302
    own.refresh_from_db()
    assert own.is_active


def test_the_change_form_refuses_a_rate_of_zero(admin_client, tenant):
    form = {"name": tenant.name, "slug": tenant.slug, "timezone": "UTC", "session_minutes": 30}

    response = admin_client.post(f"{TENANTS}{tenant.pk}/change/", {**form, "ingest_rate": "0/min"})

    assert response.status_code == 200  # the form again, with the error
    assert "allows no request at all" in str(
        response.context["adminform"].form.errors["ingest_rate"]
    )
    tenant.refresh_from_db()
    assert tenant.ingest_rate == ""


# --- users: a tenant keeps at least one active owner ------------------------------------

USERS = "/admin/accounts/user/"
LAST_OWNER = "A tenant keeps at least one active owner."


def user_form(user, *, active: bool = True, **changes) -> dict:
    """The user's change form as the admin shows it, with `changes`."""
    form = {
        "username": user.username,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "tenant": user.tenant_id,
        "role": user.role,
    }
    shown = as_shown(form) | {"initial-is_active": str(user.is_active)}
    return form | shown | ({"is_active": "on"} if active else {}) | changes


def as_shown(form: dict) -> dict:
    """The hidden `initial-` inputs of a change page that showed `form`'s values: what
    the admin compares a POST with (core.admin_mixins.ChangedFieldsAdmin)."""
    return {f"initial-{name}": value for name, value in form.items()}


@pytest.mark.parametrize(
    "change", [{"role": "viewer"}, {"active": False}, {"tenant": "other"}], ids=str
)
def test_the_last_owner_is_not_demoted_deactivated_or_moved(
    admin_client, user, other_tenant, change
):
    if change.get("tenant") == "other":
        change = {"tenant": other_tenant.pk}

    response = admin_client.post(f"{USERS}{user.pk}/change/", user_form(user, **change))

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [LAST_OWNER]
    user.refresh_from_db()
    assert (user.role, user.is_active, user.tenant_id) == ("owner", True, user.tenant_id)


def test_an_owner_with_another_owner_may_be_demoted(admin_client, user, tenant):
    UserFactory(tenant=tenant, role="owner")

    response = admin_client.post(f"{USERS}{user.pk}/change/", user_form(user, role="viewer"))

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.role == "viewer"


def test_the_last_owner_is_not_deleted(admin_client, user):
    page = admin_client.get(f"{USERS}{user.pk}/delete/")
    response = admin_client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert f"{user.username}: {LAST_OWNER}" in page.content.decode()
    assert response.status_code == 200  # the refusal again
    assert User.objects.filter(pk=user.pk).exists()


def test_deleting_every_owner_at_once_is_refused_one_of_two_is_not(admin_client, user, tenant):
    second = UserFactory(tenant=tenant, role="owner")
    member = UserFactory(tenant=tenant, role="member")
    every = {"action": "delete_selected", "_selected_action": [user.pk, second.pk], "post": "yes"}
    one = {**every, "_selected_action": [second.pk, member.pk]}

    refused = admin_client.post(USERS, every)
    deleted = admin_client.post(USERS, one)

    assert LAST_OWNER in refused.content.decode()
    assert deleted.status_code == 302
    assert list(User.objects.filter(tenant=tenant)) == [user]


@pytest.mark.parametrize("change", [{"active": False}, {"tenant": "other"}], ids=str)
def test_a_user_deactivated_or_moved_is_logged_out_everywhere(
    admin_client, user, tenant, other_tenant, api_client, change
):
    UserFactory(tenant=tenant, role="owner")  # the user is not the last owner
    if change.get("tenant") == "other":
        change = {"tenant": other_tenant.pk}
    assert api_client.get("/api/events/").status_code == 200

    response = admin_client.post(f"{USERS}{user.pk}/change/", user_form(user, **change))

    assert response.status_code == 302
    assert not user.auth_tokens.exists()
    assert api_client.get("/api/events/").status_code == 401
    # Reactivated (or moved back), the old token stays revoked.
    admin_client.post(f"{USERS}{user.pk}/change/", user_form(user))
    assert api_client.get("/api/events/").status_code == 401


def test_other_changes_to_a_user_keep_their_logins(admin_client, user, api_client):
    response = admin_client.post(f"{USERS}{user.pk}/change/", user_form(user, email="a@b.example"))

    assert response.status_code == 302
    assert api_client.get("/api/events/").status_code == 200


def test_keys_are_revoked_in_the_admin_not_deleted(admin_client, tenant):
    key, secret = api_key_create(tenant=tenant, name="shop", role="ingest")

    page = admin_client.get(f"{KEYS}{key.pk}/delete/")
    listed = admin_client.get(KEYS).content.decode()
    revoked = admin_client.post(KEYS, {"action": "revoke", "_selected_action": [key.pk]})

    assert page.status_code == 403
    assert "delete_selected" not in listed
    assert revoked.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    sender = APIClient(HTTP_X_API_KEY=secret)
    assert sender.post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("field", "value"), [("retention_days", -3), ("retention_days", 0), ("session_minutes", -1)]
)
def test_the_change_form_names_the_real_minimum(admin_client, tenant, field, value):
    """The form field's own minimum (0, a PositiveIntegerField's) hid the model's (1)."""
    form = {"name": tenant.name, "slug": tenant.slug, "timezone": "UTC", "session_minutes": 30}

    response = admin_client.post(f"{TENANTS}{tenant.pk}/change/", form | {field: value})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[field]
    assert errors == ["Ensure this value is greater than or equal to 1."]


@pytest.fixture
def changed_once_read(monkeypatch):
    """`changed_once_read(change)`: the change form's object is read as the request finds
    it, then `change(obj)` is committed by 'another request' before the form saves."""

    def arrange(change) -> None:
        get_object = ModelAdmin.get_object

        def read_then_changed(admin, request, object_id, from_field=None):
            found = get_object(admin, request, object_id, from_field)
            if request.method == "POST":
                change(found)
            return found

        monkeypatch.setattr(ModelAdmin, "get_object", read_then_changed)

    return arrange


def test_renaming_a_tenant_keeps_what_changed_meanwhile(admin_client, tenant, changed_once_read):
    """A block, or a credential's revocation (the cache version every process checks),
    committed while the form saved: the whole-row save put both back."""
    changed_once_read(
        lambda found: Tenant.objects.filter(pk=found.pk).update(
            is_active=False, cache_version=F("cache_version") + 1
        )
    )
    version = Tenant.objects.get(pk=tenant.pk).cache_version
    form = {"name": "Renamed", "slug": tenant.slug, "timezone": "UTC", "session_minutes": 30}

    response = admin_client.post(f"{TENANTS}{tenant.pk}/change/", form)

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.is_active) == ("Renamed", False)
    assert tenant.cache_version == version + 1


def test_renaming_a_key_keeps_its_revocation_made_meanwhile(
    admin_client, tenant, changed_once_read
):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    changed_once_read(lambda found: api_key_revoke(key=ApiKey.objects.get(pk=found.pk)))

    response = admin_client.post(f"{KEYS}{key.pk}/change/", {"name": "storefront"})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "storefront"
    assert key.revoked_at is not None


def test_blocking_says_which_tenants_it_blocked(admin_client, tenant):
    response = tenant_action(admin_client, "block", tenant)

    assert [str(m) for m in response.context["messages"]] == [f"Blocked: {tenant.name}."]


def test_tenants_are_blocked_never_deleted_in_the_admin(admin_client, tenant):
    """Their users are protected and their logs read-only here: the page and the
    "Delete selected" action could never succeed."""
    page = admin_client.get(f"{TENANTS}{tenant.pk}/delete/")
    actions = admin_client.get(TENANTS).context["action_form"].fields["action"].choices

    assert page.status_code == 403
    assert "delete_selected" not in dict(actions)
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_a_page_shown_before_a_removal_does_not_undo_it(admin_client, tenant):
    """The page showed the member active; the owner removed them; staff then saved an
    email change from that page: the removal stays (it was written back as 'changed')."""
    member = UserFactory(tenant=tenant, role="member")
    form = user_form(member, email="new@shop.example")  # the page, as shown
    User.objects.filter(pk=member.pk).update(is_active=False)  # the removal, meanwhile

    response = admin_client.post(f"{USERS}{member.pk}/change/", form)

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.email, member.is_active) == ("new@shop.example", False)


def test_a_page_shown_before_a_rotation_keeps_the_old_keys_expiry(admin_client, tenant):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    shown = {"name": "shop", "allowed_origins": "[]", "expires_at_0": "", "expires_at_1": ""}
    expiry = timezone.now() + dt.timedelta(hours=1)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=expiry)  # a rotation's grace

    response = admin_client.post(
        f"{KEYS}{key.pk}/change/", shown | as_shown(shown) | {"name": "storefront"}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.expires_at) == ("storefront", expiry)  # was set back to none


def test_a_rotated_keys_grace_is_not_extended_here_either(admin_client, tenant):
    """As PATCH /api/keys/<id> refuses it: the old key of a rotation lives for its grace."""
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    client = APIClient()
    client.force_authenticate(UserFactory(tenant=tenant))
    assert client.post(f"/api/keys/{key.pk}/rotate", {"grace_seconds": 60}).status_code == 201
    grace_end = ApiKey.objects.get(pk=key.pk).expires_at
    shown = {
        "name": "shop",
        "allowed_origins": "[]",
        "expires_at_0": str(timezone.localtime(grace_end).date()),
        "expires_at_1": timezone.localtime(grace_end).strftime("%H:%M:%S"),
    }
    later = timezone.localtime(grace_end + dt.timedelta(days=30))

    response = admin_client.post(
        f"{KEYS}{key.pk}/change/",
        shown | as_shown(shown) | {"expires_at_0": str(later.date())},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "cannot be extended" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).expires_at == grace_end


def test_a_key_deleted_while_its_form_was_saved_is_a_404(admin_client, tenant, changed_once_read):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    changed_once_read(lambda found: ApiKey.objects.filter(pk=found.pk).delete())
    shown = {"name": "shop", "allowed_origins": "[]"}

    response = admin_client.post(
        f"{KEYS}{key.pk}/change/", shown | as_shown(shown) | {"name": "storefront"}
    )

    # Was a 500 ("did not affect any rows"). (The stand-in deletion ran in the page's
    # transaction, which the 404 rolls back: the key is still there afterwards.)
    assert response.status_code == 404


def test_a_users_page_never_holds_their_password_hash(admin_client, user):
    """Each field repeats its shown value in a hidden input, but not the disabled
    password field: that input held the whole hash."""
    page = admin_client.get(f"{USERS}{user.pk}/change/").content.decode()

    assert 'name="initial-email"' in page
    assert 'name="initial-password"' not in page
    assert user.password.split("$")[-1] not in page


def test_whom_the_staff_deactivate_only_the_staff_reactivate(admin_client, user, tenant):
    """An owner could bring back, by PATCH or the dashboard's button, a member the
    platform's staff had deactivated (a compromised or abusive account)."""
    member = UserFactory(tenant=tenant, role="member")
    owner = APIClient()
    owner.force_authenticate(user)
    dashboard = Client()
    dashboard.force_login(user)
    staff_says = (
        "This account was deactivated by the platform's staff: only they can reactivate it."
    )

    assert (
        admin_client.post(
            f"{USERS}{member.pk}/change/", user_form(member, active=False)
        ).status_code
        == 302
    )
    patched = owner.patch(f"/api/members/{member.pk}/", {"is_active": True}, format="json")
    button = dashboard.post(f"/dashboard/members/{member.pk}/restore/")
    page = dashboard.get("/dashboard/").content.decode()
    listed = owner.get(f"/api/members/{member.pk}/").json()

    assert (patched.status_code, patched.json()) == (403, {"detail": staff_says})
    assert button.status_code == 403
    assert staff_says.replace("'", "&#x27;") in button.content.decode()
    assert "deactivated by the staff" in page
    assert f"/dashboard/members/{member.pk}/restore/" not in page
    assert (listed["is_active"], listed["deactivated_by_staff"]) == (False, True)
    member.refresh_from_db()
    assert not member.is_active

    # Reactivated by the staff, the member is the owner's again: removed, brought back.
    member.refresh_from_db()
    assert admin_client.post(f"{USERS}{member.pk}/change/", user_form(member)).status_code == 302
    assert owner.delete(f"/api/members/{member.pk}/").status_code == 204
    brought_back = owner.patch(f"/api/members/{member.pk}/", {"is_active": True}, format="json")

    assert brought_back.status_code == 200
    assert (brought_back.json()["is_active"], brought_back.json()["deactivated_by_staff"]) == (
        True,
        False,
    )


def staff_who_may_only_view(*codenames: str) -> Client:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def test_staff_allowed_only_to_view_tenants_cannot_block_them(tenant):
    client = staff_who_may_only_view("view_tenant")
    listing = client.get("/admin/accounts/tenant/")

    response = client.post(
        "/admin/accounts/tenant/", {"action": "block", "_selected_action": [tenant.pk]}
    )

    assert listing.status_code == 200
    offered = listing.context["action_form"]
    assert offered is None or "block" not in dict(offered.fields["action"].choices)
    assert response.status_code == 200  # "No action selected", nothing done
    tenant.refresh_from_db()
    assert tenant.is_active


def test_staff_allowed_only_to_view_keys_cannot_revoke_them(tenant):
    key, _ = api_key_create(tenant=tenant, name="shop", role="ingest")
    client = staff_who_may_only_view("view_apikey")

    client.post(KEYS, {"action": "revoke", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is None
