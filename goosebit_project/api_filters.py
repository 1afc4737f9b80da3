"""Filter building blocks shared by the API's FilterSets."""

from __future__ import annotations

import django_filters
from django import forms

MAX_ID = 2**63 - 1  # the largest BigAutoField value


class IdFilter(django_filters.NumberFilter):
    """A primary-key filter: whole numbers in the id range, else 400 (not a database overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
