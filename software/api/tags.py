"""``/api/v1/release-tags/``: operators' labels on releases, put on and taken off in bulk."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devices.services.tags import MAX_TAG_BATCH
from goosebit_project.api_tags import TagViewSet, bulk_actions
from software import services
from software.models import ReleaseTag


class ReleaseTagAssignSerializer(serializers.Serializer):
    releases = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=MAX_TAG_BATCH,
        help_text="release ids",
    )


class ReleaseTagViewSet(TagViewSet):
    tag_model = ReleaseTag
    count_relation = "releases"
    tagged_permission = "software.change_software"
    assign_serializer = ReleaseTagAssignSerializer
    assign, unassign = bulk_actions(ReleaseTagAssignSerializer)

    def create_tag(self, **fields: Any) -> ReleaseTag:
        return services.release_tag_create(**fields)

    def update_tag(self, tag: ReleaseTag, **fields: Any) -> ReleaseTag:
        return services.release_tag_update(tag=tag, **fields)

    def delete_tag(self, tag: ReleaseTag) -> None:
        services.release_tag_delete(tag=tag)

    def change(self, tag: ReleaseTag, ids: list[Any], *, assign: bool) -> int:
        if assign:
            return services.release_tag_assign(tag=tag, release_ids=ids)
        return services.release_tag_unassign(tag=tag, release_ids=ids)
