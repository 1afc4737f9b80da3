"""Filters of the device list (API): ?state=&update_mode=&feed=&hardware=&tag=&search=."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from devices.models import Device, DeviceTag
from goosebit_project.api_filters import IdFilter, TagNameFilter, WordChoiceFilter
from goosebit_project.lib.errors import InvalidInput
from rollouts.models import DeviceFilter
from rollouts.selectors.device_queries import device_query_compile, queryable

# README's glossary: the word clients filter by for each stored device state.
DEVICE_STATE_WORDS: dict[str, str] = {
    Device.State.UNKNOWN: "unknown",
    Device.State.REGISTERED: "registered",
    Device.State.PENDING: "waiting",
    Device.State.WAIT_FOR_CONFIRMATION: "waiting_for_confirmation",
    Device.State.RUNNING: "in_progress",
    Device.State.FINISHED: "succeeded",
    Device.State.ERROR: "failed",
    Device.State.CANCELING: "canceling",
    Device.State.ROLLED_BACK: "rolled_back",
}


class DeviceFilterSet(django_filters.FilterSet):
    state = WordChoiceFilter(
        words=DEVICE_STATE_WORDS,
        choices=Device.State.choices,
        help_text="unknown, registered, waiting, waiting_for_confirmation, in_progress, succeeded, failed, "
        "canceling, rolled_back (the stored values pending, running, finished and error are accepted as "
        "aliases)",
    )
    update_mode = django_filters.MultipleChoiceFilter(choices=Device.UpdateMode.choices)
    feed = django_filters.CharFilter()
    hardware = IdFilter(field_name="hardware_id", help_text="hardware id")
    hardware_model = django_filters.CharFilter(field_name="hardware__model")
    sw_version = django_filters.CharFilter()
    tag = TagNameFilter(
        queryset=DeviceTag.objects.all(), help_text="a tag name; repeat it for devices carrying all of them"
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="part of the controller id, name, installed version or IP"
    )

    filter = IdFilter(method="filter_saved", help_text="id of a saved device filter: the devices it matches")
    q = django_filters.CharFilter(
        method="filter_query", help_text="a device query (RSQL, as saved filters and /rest/v1 q=)"
    )

    class Meta:
        model = Device
        fields = [
            "state",
            "update_mode",
            "feed",
            "hardware",
            "hardware_model",
            "sw_version",
            "tag",
            "search",
            "filter",
            "q",
        ]

    def filter_saved(self, queryset: QuerySet[Device], name: str, value: int) -> QuerySet[Device]:
        saved = DeviceFilter.objects.filter(pk=value).values_list("query", flat=True).first()
        if saved is None:
            raise InvalidInput(f"saved filter {value} does not exist")
        return queryable(queryset).filter(device_query_compile(query=saved))

    def filter_query(self, queryset: QuerySet[Device], name: str, value: str) -> QuerySet[Device]:
        if not value.strip():
            return queryset
        return queryable(queryset).filter(device_query_compile(query=value))

    def filter_search(self, queryset: QuerySet[Device], name: str, value: str) -> QuerySet[Device]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(controller_id__icontains=value)
            | Q(name__icontains=value)
            | Q(sw_version__icontains=value)
            | Q(last_ip__icontains=value)
        )
