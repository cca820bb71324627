"""The list filters (settings.REST_FRAMEWORK): django-filter's and DRF's ordering, except
that a boolean filter given a value that is not a boolean, or an ordering by a field the
list cannot be ordered by, is a 400 naming the parameter, never a list left unfiltered
or in the default order."""

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework as filters
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter

TRUE_VALUES = frozenset({"true", "1"})
FALSE_VALUES = frozenset({"false", "0"})


class StrictBooleanField(forms.NullBooleanField):
    """`true`/`false` (or 1/0, any case); empty = no filter. django-filter's widget maps
    any other value to "no filter", so `?is_active=banana` listed every row."""

    widget = forms.TextInput

    def to_python(self, value):
        text = str(value).strip().lower() if value is not None else ""
        if not text:
            return None
        if text in TRUE_VALUES or text in FALSE_VALUES:
            return text in TRUE_VALUES
        raise forms.ValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StrictFilterSet(filters.FilterSet):
    """The FilterSet a view's `filterset_fields` build: boolean model fields strictly."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }


class StrictFilterBackend(filters.DjangoFilterBackend):
    filterset_base = StrictFilterSet


class StrictOrderingFilter(OrderingFilter):
    """DRF's `?ordering=`, but a field the list cannot be ordered by is a 400 naming the
    parameter and the fields it can: DRF drops it and answers in the default order."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        kept = super().remove_invalid_fields(queryset, fields, view, request)
        if any(term and term not in kept for term in fields):
            valid = self.get_valid_fields(queryset, view, {"request": request})
            names = ", ".join(name for name, _ in valid)
            message = f"Unknown field: order by {names} (a '-' before one: descending)."
            raise exceptions.ValidationError({self.ordering_param: [message]})
        return kept
