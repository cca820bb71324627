"""Query filters of GET /api/people/ (django-filter)."""

import django_filters

from people.models import Person


class PersonFilter(django_filters.FilterSet):
    """`?email=` matches an email exactly, ignoring case (as uniqueness does)."""

    email = django_filters.CharFilter(method="filter_email")

    class Meta:
        model = Person
        fields = ["email"]

    def filter_email(self, queryset, name, value):
        return queryset.with_email(value)
