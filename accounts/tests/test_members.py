"""Team members: an owner adds users to the tenant with a role (owner, member, viewer),
changes it and removes them, through the API and the dashboard; each role is held to
what it may do, and nothing crosses tenants."""

import jsonschema
import pytest
from django.test import Client

from accounts import services
from accounts.models import AuthToken, User
from accounts.services import MEMBER_REMOVED
from conftest import client_for
from events.models import Event, EventLog

pytestmark = pytest.mark.django_db
MEMBERS = "/api/members/"
PASSWORD = "a-long-Passphrase-42"


def _add(owner_client, username: str, role: str = "member"):
    return owner_client.post(
        MEMBERS, {"username": username, "password": PASSWORD, "role": role}, format="json"
    )


@pytest.fixture
def team(api_client, user):
    """The owner's client, and a member and a viewer of the same tenant with clients."""
    assert _add(api_client, "mia", "member").status_code == 201
    assert _add(api_client, "vic", "viewer").status_code == 201
    member, viewer = User.objects.get(username="mia"), User.objects.get(username="vic")
    return {"owner": api_client, "member": client_for(member), "viewer": client_for(viewer)}


def test_an_owner_adds_a_member_to_the_same_tenant(api_client, user, tenant):
    response = _add(api_client, "mia")

    assert response.status_code == 201
    assert set(response.json()) == {
        "id",
        "username",
        "email",
        "role",
        "is_active",
        "deactivated_by_staff",
        "date_joined",
    }
    assert "password" not in response.json()
    member = User.objects.get(username="mia")
    assert (member.tenant, member.role) == (tenant, "member")
    login = Client().post("/auth/token/login/", {"username": "mia", "password": PASSWORD})
    assert login.status_code == 200
    Event.objects.create(tenant=tenant, name="shared")
    names = [e["name"] for e in client_for(member).get("/api/events/").json()]
    assert names == ["shared"]


def test_a_member_without_an_email_matches_the_schema(api_client, user):
    # A member added without an email has "", which `format: email` alone refused.
    document = api_client.get("/api/schema/?format=json").json()
    assert _add(api_client, "mia").status_code == 201

    members = api_client.get(MEMBERS).json()

    mia = next(member for member in members if member["username"] == "mia")
    assert mia["email"] == ""
    member_schema = {"$ref": "#/components/schemas/Member", **document}
    jsonschema.validate(mia, member_schema, format_checker=jsonschema.FormatChecker())
    user_row = next(member for member in members if member["username"] == user.username)
    assert user_row["email"]  # an address validates too
    jsonschema.validate(user_row, member_schema, format_checker=jsonschema.FormatChecker())
    with pytest.raises(jsonschema.ValidationError):  # and what is neither does not
        jsonschema.validate(
            {**mia, "email": "nope"}, member_schema, format_checker=jsonschema.FormatChecker()
        )


def test_new_users_own_their_tenant(user):
    assert user.role == "owner"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "x", "password": "123"}, "password"),  # too short, numeric
        ({"username": "x", "password": PASSWORD, "role": "boss"}, "role"),
        ({"password": PASSWORD}, "username"),
        ({"username": "x", "password": PASSWORD, "tenant": 9}, "tenant"),  # unknown field
    ],
)
def test_a_bad_member_is_a_400_naming_the_field(api_client, body, field):
    response = api_client.post(MEMBERS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.filter(username="x").exists()


def test_a_taken_username_is_refused(api_client, other_user):
    response = _add(api_client, other_user.username)

    assert response.status_code == 400
    assert "username" in response.json()


def test_a_viewer_reads_and_writes_nothing(team, tenant):
    viewer = team["viewer"]

    assert viewer.get("/api/events/").status_code == 200
    assert viewer.get(MEMBERS).status_code == 200
    refused = viewer.post("/api/events/", {"name": "signup"}, format="json")
    ingest = viewer.post("/api/eventlogs/", {"event_name": "signup"}, format="json")

    assert refused.status_code == 403
    assert "Your role in this tenant is 'viewer'" in refused.json()["detail"]
    assert ingest.status_code == 403  # the single-event fast path hands it to the view
    assert not EventLog.objects.exists()
    assert not Event.objects.filter(tenant=tenant).exists()


def test_a_viewer_still_manages_their_own_logins(team):
    viewer = team["viewer"]

    assert viewer.get("/api/tokens/").status_code == 200
    assert viewer.post("/auth/token/logout/").status_code == 204
    assert viewer.get("/api/events/").status_code == 401


def test_a_member_writes_data_but_not_the_team_or_the_keys(team):
    member = team["member"]

    assert member.post("/api/events/", {"name": "signup"}, format="json").status_code == 201
    assert (
        member.post("/api/eventlogs/", {"event_name": "signup"}, format="json").status_code == 201
    )
    assert _add(member, "eve").status_code == 403
    key = member.post("/api/keys/", {"name": "k", "role": "ingest"}, format="json")
    assert key.status_code == 403
    assert member.get("/api/keys/").status_code == 200


def test_an_owner_changes_a_role(team):
    mia = User.objects.get(username="mia")

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"role": "viewer"}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "viewer"
    refused = team["member"].post("/api/events/", {"name": "x"}, format="json")
    assert refused.status_code == 403  # at once: the cached credential is stale


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_a_removed_members_role_cannot_change(team, role):
    """Still listed (inactive), but no longer on the team: not made an owner, say."""
    mia = User.objects.get(username="mia")
    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"role": role}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": MEMBER_REMOVED}
    mia.refresh_from_db()
    assert (mia.role, mia.is_active) == ("member", False)


def test_a_removed_member_is_brought_back_and_logs_in_again(team):
    mia = User.objects.get(username="mia")
    old_login = team["member"]
    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"is_active": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["role"]) == (True, "member")
    assert old_login.get("/api/events/").status_code == 401  # the removal's logout stays
    login = Client().post("/auth/token/login/", {"username": "mia", "password": PASSWORD})
    assert login.status_code == 200
    assert client_for(User.objects.get(pk=mia.pk)).get("/api/events/").status_code == 200


def test_a_removed_member_is_brought_back_with_another_role(team):
    mia = User.objects.get(username="mia")
    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204

    body = {"is_active": True, "role": "viewer"}
    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", body, format="json")

    assert response.status_code == 200
    mia.refresh_from_db()
    assert (mia.is_active, mia.role) == (True, "viewer")


def test_is_active_false_removes_as_delete_does(team):
    mia = User.objects.get(username="mia")

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert team["member"].get("/api/events/").status_code == 401
    assert not AuthToken.objects.filter(user=mia).exists()


def test_the_last_owner_cannot_remove_themselves_by_is_active(api_client, user):
    response = api_client.patch(f"{MEMBERS}{user.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 400
    assert response.json() == {"is_active": ["A tenant keeps at least one active owner."]}
    assert User.objects.get(pk=user.pk).is_active is True


@pytest.mark.parametrize("value", ["true", 1, None])
def test_is_active_must_be_a_json_boolean(team, value):
    mia = User.objects.get(username="mia")

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"is_active": value}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["is_active"]
    assert User.objects.get(pk=mia.pk).is_active is True


def test_only_an_owner_brings_a_member_back(team):
    vic = User.objects.get(username="vic")
    assert team["owner"].delete(f"{MEMBERS}{vic.pk}/").status_code == 204

    response = team["member"].patch(f"{MEMBERS}{vic.pk}/", {"is_active": True}, format="json")

    assert response.status_code == 403
    assert User.objects.get(pk=vic.pk).is_active is False


def test_only_the_role_can_be_changed(team):
    mia = User.objects.get(username="mia")

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"username": "root"}, format="json")

    assert response.status_code == 400
    assert "username" in response.json()
    assert User.objects.get(pk=mia.pk).username == "mia"


def test_the_last_owner_can_be_neither_demoted_nor_removed(api_client, user):
    demote = api_client.patch(f"{MEMBERS}{user.pk}/", {"role": "member"}, format="json")
    remove = api_client.delete(f"{MEMBERS}{user.pk}/")

    assert demote.status_code == 400
    assert "at least one active owner" in demote.json()["role"][0]
    assert remove.status_code == 400
    assert User.objects.get(pk=user.pk).role == "owner"


def test_with_a_second_owner_the_first_may_step_down(api_client, user):
    _add(api_client, "olga", "owner")

    response = api_client.patch(f"{MEMBERS}{user.pk}/", {"role": "member"}, format="json")

    assert response.status_code == 200


def test_removing_a_member_logs_them_out_everywhere(team):
    mia = User.objects.get(username="mia")
    assert team["member"].get("/api/events/").status_code == 200

    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204

    assert team["member"].get("/api/events/").status_code == 401
    assert not AuthToken.objects.filter(user=mia).exists()
    listed = {row["username"]: row["is_active"] for row in team["owner"].get(MEMBERS).json()}
    assert listed["mia"] is False


def test_another_tenants_members_are_404_and_unlisted(team, other_client):
    mia = User.objects.get(username="mia")

    assert other_client.get(f"{MEMBERS}{mia.pk}/").status_code == 404
    assert (
        other_client.patch(f"{MEMBERS}{mia.pk}/", {"role": "owner"}, format="json").status_code
        == 404
    )
    assert other_client.delete(f"{MEMBERS}{mia.pk}/").status_code == 404
    assert "mia" not in str(other_client.get(MEMBERS).json())
    assert User.objects.get(pk=mia.pk).role == "member"
    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204
    back = other_client.patch(f"{MEMBERS}{mia.pk}/", {"is_active": True}, format="json")
    assert back.status_code == 404
    assert User.objects.get(pk=mia.pk).is_active is False


def test_api_keys_cannot_manage_the_team(key_client):
    assert key_client("admin").get(MEMBERS).status_code == 403


# --- the dashboard ------------------------------------------------------------------


def test_an_owner_adds_and_removes_members_on_the_dashboard(user):
    browser = Client()
    browser.force_login(user)

    added = browser.post(
        "/dashboard/members/", {"username": "nia", "password": PASSWORD, "role": "viewer"}
    )
    nia = User.objects.get(username="nia")
    page = browser.get("/dashboard/").content.decode()
    removed = browser.post(f"/dashboard/members/{nia.pk}/remove/")

    assert added.status_code == 302
    assert (nia.tenant_id, nia.role) == (user.tenant_id, "viewer")
    assert "nia" in page
    assert "Add member" in page
    assert removed.status_code == 302
    assert User.objects.get(pk=nia.pk).is_active is False
    assert "Bring nia back to the team" in browser.get("/dashboard/").content.decode()
    restored = browser.post(f"/dashboard/members/{nia.pk}/restore/")
    assert restored.status_code == 302
    assert User.objects.get(pk=nia.pk).is_active is True


def test_a_bad_member_form_is_shown_with_its_error(user):
    browser = Client()
    browser.force_login(user)

    form = {"username": "nia", "password": "1", "role": "member"}
    response = browser.post("/dashboard/members/", form)

    assert response.status_code == 400
    assert "password" in response.context["member_form"].errors
    assert not User.objects.filter(username="nia").exists()


def test_a_viewer_sees_the_team_but_no_forms_and_cannot_post(team):
    vic = User.objects.get(username="vic")
    browser = Client()
    browser.force_login(vic)

    page = browser.get("/dashboard/").content.decode()
    add = browser.post("/dashboard/members/", {"username": "z", "password": PASSWORD})
    key = browser.post("/dashboard/keys/", {"name": "k", "role": "ingest"})

    assert "mia" in page
    assert "Add member" not in page
    assert "Create key" not in page
    assert (add.status_code, key.status_code) == (403, 403)
    assert not User.objects.filter(username="z").exists()


def test_removing_another_tenants_member_on_the_dashboard_is_404(team, other_user):
    mia = User.objects.get(username="mia")
    browser = Client()
    browser.force_login(other_user)

    assert browser.post(f"/dashboard/members/{mia.pk}/remove/").status_code == 404
    assert User.objects.get(pk=mia.pk).is_active is True


def test_bringing_back_another_tenants_member_on_the_dashboard_is_404(team, other_user):
    mia = User.objects.get(username="mia")
    assert team["owner"].delete(f"{MEMBERS}{mia.pk}/").status_code == 204
    browser = Client()
    browser.force_login(other_user)

    assert browser.post(f"/dashboard/members/{mia.pk}/restore/").status_code == 404
    assert User.objects.get(pk=mia.pk).is_active is False


def test_a_member_cannot_bring_anyone_back_on_the_dashboard(team):
    vic = User.objects.get(username="vic")
    assert team["owner"].delete(f"{MEMBERS}{vic.pk}/").status_code == 204
    browser = Client()
    browser.force_login(User.objects.get(username="mia"))

    assert browser.post(f"/dashboard/members/{vic.pk}/restore/").status_code == 403
    assert User.objects.get(pk=vic.pk).is_active is False


def test_a_viewer_gets_no_demo_key(team, settings):
    settings.DEBUG = True  # the demo page is served in development
    browser = Client()
    browser.force_login(User.objects.get(username="vic"))

    response = browser.get("/demo/")

    assert response.status_code == 403
    assert not User.objects.get(username="vic").tenant.api_keys.exists()


@pytest.mark.parametrize("username", ["bad user!", "a/b", "x" * 151])
def test_a_member_username_follows_the_sign_up_rules(api_client, anon_client, username):
    signup = anon_client.post("/auth/users/", {"username": username, "password": PASSWORD})

    response = _add(api_client, username)

    assert (signup.status_code, response.status_code) == (400, 400)
    assert response.json() == {"username": signup.json()["username"]}
    assert not User.objects.filter(username=username).exists()


def test_a_member_whose_account_was_deleted_meanwhile_is_a_404(team, monkeypatch):
    """The account is deleted (DELETE /auth/users/me/) after the owner's request found it
    and before the change locks it: a 404, as for a request that came after."""
    mia = User.objects.get(username="mia")
    check = services.member_check_leaving

    def checked_then_deleted(*, member):
        check(member=member)
        User.objects.filter(pk=mia.pk).delete()

    monkeypatch.setattr(services, "member_check_leaving", checked_then_deleted)

    response = team["owner"].patch(f"{MEMBERS}{mia.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 404  # was a 500: the save found no row to update
    assert response.json() == {"detail": "No such member."}
