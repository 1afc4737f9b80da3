"""Filters for the software list of the operator API."""

from __future__ import annotations

import django_filters

from devices.models import Hardware
from software.models import Software


class SoftwareFilterSet(django_filters.FilterSet):
    version = django_filters.CharFilter()
    image_format = django_filters.ChoiceFilter(choices=Software.ImageFormat.choices)
    hardware = django_filters.ModelChoiceFilter(
        field_name="compatibility", queryset=Hardware.objects.all(), distinct=True, label="hardware id"
    )
    model = django_filters.CharFilter(field_name="compatibility__model", distinct=True)
    revision = django_filters.CharFilter(field_name="compatibility__revision", distinct=True)
    remote = django_filters.BooleanFilter(method="filter_remote")

    class Meta:
        model = Software
        fields = ["version", "image_format", "signed", "hardware", "model", "revision", "remote"]

    def filter_remote(self, queryset, name, value):
        return queryset.exclude(url="") if value else queryset.filter(url="")
