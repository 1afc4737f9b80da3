"""Filter building blocks shared by the API's FilterSets."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1  # the largest BigAutoField value


class IdFilter(django_filters.NumberFilter):
    """A primary-key filter: whole numbers in the id range, else 400 (not a database overflow)."""

    # Any form field class works here; the stubs pin NumberFilter's to DecimalField.
    field_class = forms.IntegerField  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class WordChoiceFilter(django_filters.MultipleChoiceFilter):
    """A status filter that speaks README's glossary words (``succeeded``, ``failed``, …).

    ``words`` maps each stored value to the word clients filter by. The stored values stay valid
    as aliases (``?status=finished`` means ``?status=succeeded``) so clients written before the
    words changed keep working; both are listed in the schema.
    """

    def __init__(
        self, *args: Any, words: dict[str, str], choices: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        labels = dict(choices)
        self.stored = {word: value for value, word in words.items()}
        kwargs["choices"] = [(words[value], labels[value]) for value, _ in choices] + [
            (value, f"{labels[value]} (alias of {words[value]})")
            for value, _ in choices
            if words[value] != value
        ]
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: list[str]) -> QuerySet[Any]:
        return super().filter(qs, [self.stored.get(item, item) for item in value or []])


@extend_schema_field(OpenApiTypes.STR)
class TagNameFilter(django_filters.ModelMultipleChoiceFilter):
    """``?tag=a&tag=b``: the objects carrying every named tag; an unknown name is a 400."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("field_name", "tags__name")
        kwargs.setdefault("to_field_name", "name")
        kwargs.setdefault("conjoined", True)
        super().__init__(*args, **kwargs)
