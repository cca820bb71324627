"""Tenants' blocklists: refuse events from an IP address or network, or a User-Agent.

Rules are read once per tenant and process, and kept until the tenant's
`blocklist_version` changes; every rule change bumps it in the same transaction,
and the tenant row is loaded with every authenticated request, so each process
sees a change on its next request without a query per request.
"""

import ipaddress
from dataclasses import dataclass

from django.db.models import F
from django.http import HttpRequest

from accounts.models import Tenant
from accounts.tenancy import scope_to_tenant
from core.caches import LockedLRU
from core.clients import IPAddress, IPNetwork, client_address
from events.models import BlockRule, RejectionReason

CACHED_TENANTS = 10_000


@dataclass(frozen=True, slots=True)
class Rules:
    networks: tuple[IPNetwork, ...]
    agents: tuple[str, ...]  # casefolded substrings

    def blocks(self, address: IPAddress | None, user_agent: str) -> RejectionReason | None:
        if address is not None and any(address in network for network in self.networks):
            return RejectionReason.BLOCKED_IP
        agent = user_agent.casefold()
        if any(part in agent for part in self.agents):
            return RejectionReason.BLOCKED_USER_AGENT
        return None


NO_RULES = Rules(networks=(), agents=())
# tenant id → (blocklist_version the rules were read at, rules)
_cache: LockedLRU[int, tuple[int, Rules]] = LockedLRU(size=CACHED_TENANTS)


ZONE_ID = (
    "An address with a zone id (%eth0) never appears as a client's address here: "
    "give it without one."
)


class ScopedAddress(ValueError):
    """An IPv6 address with a zone id (`fe80::1%eth0`): it names a link of one machine's,
    which no client address the server sees carries, so a rule with it matches nothing."""


def normalise_ip_rule(value: str) -> str:
    """`value` as a network in its canonical text, or ValueError (ScopedAddress for a
    zone id). A single address becomes a /32 or /128; host bits after the prefix are
    cleared."""
    if "%" in value:  # ipaddress takes a zone id, and drops it from a network
        raise ScopedAddress(ZONE_ID)
    network = ipaddress.ip_network(value.strip(), strict=False)
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return str(network)


def rules_changed(tenant_id: int) -> None:
    """Call in the transaction that changes a tenant's rules."""
    Tenant.objects.filter(pk=tenant_id).update(blocklist_version=F("blocklist_version") + 1)


def rules_for(tenant: Tenant) -> Rules:
    version = tenant.blocklist_version
    if version == 0:
        return NO_RULES  # never had a rule: no query at all
    cached = _cache.get(tenant.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    rules = _load(tenant)  # outside the lock: a query must not serialise the process
    _cache.put(tenant.pk, (version, rules))
    return rules


def clear_cache() -> None:
    """Forget every cached rule set (tests: tenant ids and versions repeat after rollbacks)."""
    _cache.clear()


def _load(tenant: Tenant) -> Rules:
    networks, agents = [], []
    rules = scope_to_tenant(BlockRule.objects.all(), tenant).values_list("kind", "value")
    for kind, value in rules:
        if kind == BlockRule.Kind.IP:
            networks.append(ipaddress.ip_network(value))
        else:
            agents.append(value.casefold())
    return Rules(networks=tuple(networks), agents=tuple(agents))


def blocked_reason(tenant: Tenant, request: HttpRequest) -> RejectionReason | None:
    rules = rules_for(tenant)
    if rules is NO_RULES:
        return None
    return rules.blocks(client_address(request), request.META.get("HTTP_USER_AGENT", ""))
