"""``/api/v1/device-tags/``: operators' labels on devices, put on and taken off in bulk."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devices.models import DeviceTag
from devices.services import tags as tag_services
from goosebit_project.api_tags import TagViewSet, bulk_actions


class DeviceTagAssignSerializer(serializers.Serializer):
    devices = serializers.ListField(
        child=serializers.CharField(max_length=256, trim_whitespace=False),
        max_length=tag_services.MAX_TAG_BATCH,
        help_text="controller ids",
    )


class DeviceTagViewSet(TagViewSet):
    tag_model = DeviceTag
    count_relation = "devices"
    tagged_permission = "devices.change_device"
    assign_serializer = DeviceTagAssignSerializer
    assign, unassign = bulk_actions(DeviceTagAssignSerializer)

    def create_tag(self, **fields: Any) -> DeviceTag:
        return tag_services.device_tag_create(**fields)

    def update_tag(self, tag: DeviceTag, **fields: Any) -> DeviceTag:
        return tag_services.device_tag_update(tag=tag, **fields)

    def delete_tag(self, tag: DeviceTag) -> None:
        tag_services.device_tag_delete(tag=tag)

    def change(self, tag: DeviceTag, ids: list[Any], *, assign: bool) -> int:
        if assign:
            return tag_services.device_tag_assign(tag=tag, controller_ids=ids)
        return tag_services.device_tag_unassign(tag=tag, controller_ids=ids)
