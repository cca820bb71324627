"""The list filters' backend (settings.REST_FRAMEWORK): django-filter's, except that a
boolean filter given a value that is not a boolean is a 400 naming it, never a list
left unfiltered."""

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework as filters

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
