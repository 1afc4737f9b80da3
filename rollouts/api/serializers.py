"""Rollout and action API shapes; rollout statistics are computed per request, never stored."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Device
from rollouts import selectors
from rollouts.models import Action, ActionStatus, Rollout
from software.models import Software


class SoftwareRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Software
        fields = ["id", "version", "filename"]


class RolloutStatsSerializer(serializers.Serializer):
    targeted = serializers.IntegerField(help_text="devices of the feed in rollout mode that it fits")
    not_started = serializers.IntegerField()
    pending = serializers.IntegerField()
    running = serializers.IntegerField(help_text="installing, or being canceled")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()
    already_on_version = serializers.IntegerField()
    left = serializers.IntegerField(help_text="devices with actions here that it no longer targets")
    progress_percent = serializers.IntegerField()


class RolloutSerializer(serializers.ModelSerializer):
    software = SoftwareRefSerializer(read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = [
            "id",
            "name",
            "feed",
            "software",
            "status",
            "pause_on_failure_percent",
            "pause_min_results",
            "pause_on_failure_count",
            "max_parallel",
            "pause_reason",
            "created",
            "created_by",
            "started_at",
            "paused_at",
            "finished_at",
            "stats",
        ]
        read_only_fields = fields

    @extend_schema_field(RolloutStatsSerializer)
    def get_stats(self, rollout: Rollout) -> dict[str, int]:
        return selectors.rollout_stats(rollout=rollout).as_dict()


class _SafetyFields(serializers.Serializer):
    # Fields left out take the GOOSEBIT_ROLLOUT_* defaults (create) or stay as they are (update);
    # null disables a rule. The services validate the ranges.
    pause_on_failure_percent = serializers.IntegerField(required=False, allow_null=True)
    pause_min_results = serializers.IntegerField(required=False)
    pause_on_failure_count = serializers.IntegerField(required=False, allow_null=True)
    max_parallel = serializers.IntegerField(required=False, allow_null=True)


class RolloutCreateSerializer(_SafetyFields):
    name = serializers.CharField(trim_whitespace=False)
    feed = serializers.CharField(trim_whitespace=False)
    software = serializers.IntegerField(help_text="software id")
    start = serializers.BooleanField(required=False, default=False, help_text="start at once (else a draft)")


class RolloutUpdateSerializer(_SafetyFields):
    name = serializers.CharField(required=False, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        fixed = [field for field in ("feed", "software") if field in self.initial_data]
        if fixed:
            raise serializers.ValidationError(
                f"{' and '.join(fixed)} of a rollout cannot change; "
                "create a new rollout (it takes the feed over)"
            )
        return attrs


class RolloutPreviewQuerySerializer(serializers.Serializer):
    feed = serializers.CharField()
    software = serializers.IntegerField(help_text="software id")


class HardwarePreviewSerializer(serializers.Serializer):
    hardware = serializers.IntegerField()
    model = serializers.CharField()
    revision = serializers.CharField()
    devices = serializers.IntegerField()
    already_on_version = serializers.IntegerField()


class RolloutPreviewSerializer(serializers.Serializer):
    feed = serializers.CharField()
    software = serializers.IntegerField()
    version = serializers.CharField()
    devices = serializers.IntegerField(help_text="devices it would reach")
    already_on_version = serializers.IntegerField()
    to_update = serializers.IntegerField()
    incompatible = serializers.IntegerField(help_text="devices of the feed whose hardware it does not fit")
    not_following = serializers.IntegerField(help_text="devices of the feed in another update mode")
    by_hardware = HardwarePreviewSerializer(many=True)


class ActionStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = ActionStatus
        fields = [
            "id",
            "created",
            "source",
            "channel",
            "execution",
            "finished",
            "progress",
            "code",
            "details",
        ]
        read_only_fields = fields


class ActionSerializer(serializers.ModelSerializer):
    device: serializers.SlugRelatedField[Device] = serializers.SlugRelatedField(
        slug_field="controller_id", read_only=True
    )
    software = SoftwareRefSerializer(read_only=True)

    class Meta:
        model = Action
        fields = [
            "id",
            "device",
            "software",
            "rollout",
            "reason",
            "status",
            "progress",
            "last_code",
            "created",
            "updated",
            "finished_at",
        ]
        read_only_fields = fields


class ActionDetailSerializer(ActionSerializer):
    statuses = serializers.SerializerMethodField(help_text="the update log, oldest first")

    class Meta(ActionSerializer.Meta):
        fields = [*ActionSerializer.Meta.fields, "statuses"]
        read_only_fields = fields

    @extend_schema_field(ActionStatusSerializer(many=True))
    def get_statuses(self, action: Action) -> list[dict[str, Any]]:
        # many=True makes .data a ReturnList; the stubs type it as the single-object dict.
        return ActionStatusSerializer(action.statuses.order_by("id"), many=True).data  # type: ignore[return-value]
