"""The web stats' filters, shared by `/api/stats/web` and the dashboard's page: one on a
property of the visit (source, channel, campaign, entry page, country, device, browser,
OS) keeps whole visits, all their events included, as Plausible filters; any other
(a page, an event's own property) keeps the events that meet it."""

from dataclasses import dataclass, replace

from django.db.models import Q

from insights.conditions import filters_q
from insights.spec import Condition, Field, Group
from webstats.sessions import PATH, VISIT_PROPERTIES

ENTRY_PAGE = "$entry_page"  # the first page viewed: its `$pathname`
# What a visit filter is read from, on the visit's first page view.
VISIT_FIELDS = {name: name for name in VISIT_PROPERTIES.values()} | {ENTRY_PAGE: PATH}


@dataclass(frozen=True)
class WebFilters:
    events: Q  # the events read
    visits: Q  # on a visit's first page view: the visits kept


def web_filters(group: Group) -> WebFilters:
    """Each of the filters (all must hold) on visit properties alone filters visits; a
    group that also names another field filters events."""
    events, visits = Q(), Q()
    for node in group.children:
        if _on_visits(node):
            visits &= filters_q(Group("and", (_on_first_view(node),)))
        else:
            events &= filters_q(Group("and", (node,)))
    return WebFilters(events=events, visits=visits)


def _on_visits(node: Condition | Group) -> bool:
    if isinstance(node, Condition):
        return len(node.field.keys) == 1 and node.field.keys[0] in VISIT_FIELDS
    return all(_on_visits(child) for child in node.children)


def _on_first_view(node: Condition | Group) -> Condition | Group:
    """The filter as read on the first page view (`$entry_page` is its `$pathname`)."""
    if isinstance(node, Group):
        return replace(node, children=tuple(_on_first_view(child) for child in node.children))
    name = VISIT_FIELDS[node.field.keys[0]]
    return replace(node, field=Field(f"data.{name}", (name,)))
