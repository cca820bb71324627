"""Tenants' blocklists at /api/blocklist/: IP rules (IPv4/IPv6, CIDR edges, proxies)
and User-Agent substrings; blocked events are refused, counted, never stored."""

import ipaddress

import pytest

from events.blocklist import rules_changed
from events.models import BlockRule, EventLog

pytestmark = pytest.mark.django_db
BATCH = "/api/eventlogs/batch/"


def _rule(client, kind: str, value: str, **extra):
    return client.post("/api/blocklist/", {"kind": kind, "value": value, **extra}, format="json")


def _send(client, remote_addr: str = "127.0.0.1", **headers) -> int:
    response = client.post(
        BATCH, {"events": [{"event_name": "a"}]}, format="json", REMOTE_ADDR=remote_addr, **headers
    )
    return response.status_code


# --- the rules API -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        (" 192.168.0.0/16 ", "192.168.0.0/16"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:DB8:0:0::/32", "2001:db8::/32"),
        ("::ffff:198.51.100.9", "198.51.100.9/32"),
    ],
)
def test_ip_rules_are_stored_normalised(api_client, given, stored):
    response = _rule(api_client, "ip", given)

    assert response.status_code == 201, response.content
    assert response.json()["value"] == stored


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "ip", "value": "300.1.1.1"},
        {"kind": "ip", "value": "10.0.0.0/33"},
        {"kind": "ip", "value": "example.com"},
        {"kind": "ip"},
        {"kind": "cookie", "value": "x"},
        {"kind": "user_agent", "value": ""},
        {"kind": "user_agent", "value": "x" * 201},
        {"kind": "user_agent", "value": "bot", "tenant": 2},
    ],
)
def test_bad_rules_are_a_400_naming_the_field(api_client, body):
    response = api_client.post("/api/blocklist/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) <= {"kind", "value", "tenant"}
    assert not BlockRule.objects.exists()


@pytest.mark.parametrize("value", ["fe80::1%eth0", "fe80::1%1", "fe80::%eth0/64", "fe80::1%"])
def test_an_address_with_a_zone_id_is_a_400(api_client, value):
    """A zone id names a link of one machine's: no client address the server sees has
    one, so the rule would block nothing (fe80::1%eth0 was stored as fe80::1%eth0/128)."""
    response = _rule(api_client, "ip", value)

    assert response.status_code == 400
    assert response.json() == {
        "value": [
            "An address with a zone id (%eth0) never appears as a client's address here: "
            "give it without one."
        ]
    }
    assert not BlockRule.objects.exists()


def test_a_repeated_rule_is_a_400(api_client):
    assert _rule(api_client, "ip", "10.0.0.0/8").status_code == 201

    again = _rule(api_client, "ip", "10.9.9.9/8")  # the same network, written differently

    assert again.status_code == 400
    assert "value" in again.json()


def test_rules_list_update_and_delete(api_client):
    rule = _rule(api_client, "user_agent", "curl", note="scripts").json()

    listed = api_client.get("/api/blocklist/?kind=user_agent")
    changed = api_client.patch(f"/api/blocklist/{rule['id']}", {"value": "wget"}, format="json")
    deleted = api_client.delete(f"/api/blocklist/{rule['id']}")

    assert [r["value"] for r in listed.json()] == ["curl"]
    assert changed.json()["value"] == "wget"
    assert deleted.status_code == 204
    assert api_client.get("/api/blocklist/").json() == []


def test_another_tenants_rules_are_404_and_never_block_us(api_client, other_client):
    theirs = _rule(other_client, "ip", "127.0.0.1").json()

    assert api_client.get(f"/api/blocklist/{theirs['id']}").status_code == 404
    assert api_client.patch(f"/api/blocklist/{theirs['id']}", {"note": "x"}).status_code == 404
    assert api_client.delete(f"/api/blocklist/{theirs['id']}").status_code == 404
    assert api_client.get("/api/blocklist/").json() == []
    assert _send(api_client) == 200
    assert _send(other_client) == 403


def test_read_keys_list_rules_admin_keys_change_them(key_client):
    read, ingest, admin = key_client("read"), key_client("ingest"), key_client("admin")

    assert _rule(read, "ip", "10.0.0.1").status_code == 403
    assert _rule(ingest, "ip", "10.0.0.1").status_code == 403
    assert _rule(admin, "ip", "10.0.0.1").status_code == 201
    assert read.get("/api/blocklist/").status_code == 200
    assert ingest.get("/api/blocklist/").status_code == 403


# --- matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "address", "blocked"),
    [
        ("198.51.100.7", "198.51.100.7", True),
        ("198.51.100.7", "198.51.100.8", False),
        ("10.0.0.0/24", "10.0.0.0", True),
        ("10.0.0.0/24", "10.0.0.255", True),
        ("10.0.0.0/24", "10.0.1.0", False),
        ("10.0.0.0/24", "9.255.255.255", False),
        ("2001:db8::/64", "2001:db8::", True),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", True),
        ("2001:db8::/64", "2001:db8:0:1::", False),
        ("2001:db8::1", "2001:db8::1", True),
        ("198.51.100.7", "::ffff:198.51.100.7", True),  # IPv4 peer on a dual-stack socket
        ("10.0.0.0/8", "2001:db8::1", False),
    ],
)
def test_ip_rules_match_addresses_and_networks(api_client, rule, address, blocked):
    _rule(api_client, "ip", rule)

    assert _send(api_client, remote_addr=address) == (403 if blocked else 200)


def test_user_agent_rules_match_a_substring_in_any_case(api_client):
    _rule(api_client, "user_agent", "HeadlessChrome")

    blocked = _send(
        api_client, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) headlesschrome/120.0 Safari/537.36"
    )
    allowed = _send(api_client, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Chrome/120.0")
    no_header = _send(api_client)

    assert (blocked, allowed, no_header) == (403, 200, 200)


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(api_client, settings):
    settings.TRUSTED_PROXIES = []
    _rule(api_client, "ip", "203.0.113.9")

    # The client claims to be someone else: the socket peer is what counts.
    disguised = _send(api_client, remote_addr="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.1")
    framed = _send(api_client, remote_addr="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert (disguised, framed) == (403, 200)


def test_forwarded_for_is_read_through_trusted_proxies(api_client, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    _rule(api_client, "ip", "203.0.113.9")

    def via_proxy(forwarded: str) -> int:
        return _send(api_client, remote_addr="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert via_proxy("203.0.113.9") == 403
    # Two trusted hops: the client is the first untrusted address from the right.
    assert via_proxy("203.0.113.9, 10.0.0.7") == 403
    # Whatever the client wrote to the left of the real address is not believed.
    assert via_proxy("203.0.113.9, 192.0.2.1") == 200
    assert via_proxy("192.0.2.1, 203.0.113.9") == 403
    # An unreadable hop stops the walk at the last address the proxies vouch for.
    assert via_proxy("203.0.113.9, not-an-ip") == 200
    assert _send(api_client, remote_addr="10.0.0.2") == 200  # no header: the proxy itself


@pytest.mark.parametrize(
    ("hop", "blocked"),
    [
        ("8.8.8.8:443", True),
        ("[2001:db8::5]", True),
        ("[2001:db8::5]:443", True),
        ("2001:db8::5", True),
        ("[::ffff:8.8.8.8]:80", True),
        ("198.51.100.1:443", False),  # read, and not blocked
        ("[2001:db9::5]:443", False),
        ("8.8.8.8:99999", False),  # unreadable: the walk stops at the proxy
        ("[2001:db8::5]x", False),
    ],
)
def test_forwarded_for_hops_with_ports_or_brackets_are_read(api_client, settings, hop, blocked):
    """Some proxies write the client's port, and brackets around IPv6 addresses: the
    address is still the client, or a blocked client would pass as its proxy."""
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    _rule(api_client, "ip", "8.8.8.0/24")
    _rule(api_client, "ip", "2001:db8::/32")

    status = _send(api_client, remote_addr="127.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.1, {hop}")

    assert status == (403 if blocked else 200)


def test_a_rule_change_applies_to_the_next_request(api_client, tenant):
    assert _send(api_client) == 200
    rule = _rule(api_client, "ip", "127.0.0.1").json()
    assert _send(api_client) == 403

    api_client.delete(f"/api/blocklist/{rule['id']}")
    assert _send(api_client) == 200

    # Another process's change: a new row plus the version bump, as the API does it.
    BlockRule.objects.create(tenant=tenant, kind="ip", value="127.0.0.0/8")
    rules_changed(tenant.pk)
    assert _send(api_client) == 403


def test_blocked_single_and_seed_000_posts_store_nothing(api_client, key_client):
    _rule(api_client, "ip", "127.0.0.1")

    single = api_client.post("/api/eventlogs/", {"event_name": "a"}, format="json")
    seed_000 = key_client("ingest").post("/api/v1/events/a", {}, format="json")

    assert (single.status_code, seed_000.status_code) == (403, 403)
    assert single.json() == {
        "detail": "Events from this address are blocked by the tenant's blocklist.",
        "reason": "blocked_ip",
    }
    assert not EventLog.objects.exists()


def test_blocklists_do_not_touch_reads(api_client):
    _rule(api_client, "ip", "127.0.0.1")

    assert api_client.get("/api/eventlogs/").status_code == 200
    assert api_client.get("/api/stats/event_trend").status_code == 200
