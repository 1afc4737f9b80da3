"""Filter building blocks shared by the API's FilterSets."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

MAX_ID = 2**63 - 1  # the largest BigAutoField value


class IdFilter(django_filters.NumberFilter):
    """A primary-key filter: whole numbers in the id range, else 400 (not a database overflow)."""

    # Any form field class works here; the stubs pin NumberFilter's to DecimalField.
    field_class = forms.IntegerField  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
