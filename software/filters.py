"""Filters for the software list of the operator API."""

from __future__ import annotations

import django_filters

from devices.models import Hardware
from goosebit_project.api_filters import TagNameFilter
from software.models import ImageFormat, ReleaseTag, Software


class SoftwareFilterSet(django_filters.FilterSet):
    version = django_filters.CharFilter()
    name = django_filters.CharFilter()
    image_format = django_filters.ChoiceFilter(
        field_name="modules__artifacts__image_format", choices=ImageFormat.choices, distinct=True
    )
    signed = django_filters.BooleanFilter(field_name="modules__artifacts__signed", distinct=True)
    hardware = django_filters.ModelChoiceFilter(
        field_name="compatibility", queryset=Hardware.objects.all(), distinct=True, label="hardware id"
    )
    model = django_filters.CharFilter(field_name="compatibility__model", distinct=True)
    revision = django_filters.CharFilter(field_name="compatibility__revision", distinct=True)
    remote = django_filters.BooleanFilter(method="filter_remote")
    tag = TagNameFilter(
        queryset=ReleaseTag.objects.all(), help_text="a tag name; repeat it for releases carrying all of them"
    )

    class Meta:
        model = Software
        fields = [
            "name",
            "version",
            "image_format",
            "signed",
            "hardware",
            "model",
            "revision",
            "remote",
            "tag",
        ]

    def filter_remote(self, queryset, name, value):
        """Releases with an artifact at a remote URL (or, with false, with none)."""
        remote = queryset.filter(modules__artifacts__url__gt="").values("pk")
        return queryset.filter(pk__in=remote) if value else queryset.exclude(pk__in=remote)
