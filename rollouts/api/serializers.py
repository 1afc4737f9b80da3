"""Rollout and action API shapes; rollout statistics are computed per request, never stored."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Device
from rollouts import selectors
from rollouts.models import Action, ActionStatus, Rollout
from rollouts.options import DeploymentOptions, deployment_options_validate
from software.models import Software


class MaintenanceWindowSerializer(serializers.Serializer):
    schedule = serializers.CharField(
        help_text="Quartz cron expression with seconds, as hawkBit: '0 30 2 ? * *' is every day at 02:30:00"
    )
    duration = serializers.CharField(help_text="how long each window stays open, HH:mm:ss")
    timezone = serializers.CharField(help_text="UTC offset the schedule is read in, e.g. '+02:00'")


class DeploymentOptionsSerializer(serializers.Serializer):
    """How updates are offered (hawkBit's assignment options); the services check the values."""

    action_type = serializers.ChoiceField(
        choices=Action.ActionType.choices,
        required=False,
        help_text="forced (default), soft, timeforced (soft until forcetime, then forced) or "
        "downloadonly (download, never install)",
    )
    forcetime = serializers.DateTimeField(
        required=False, allow_null=True, help_text="required for timeforced: when it becomes forced"
    )
    weight = serializers.IntegerField(
        required=False, allow_null=True, help_text="priority 0-1000 (none counts as 1000)"
    )
    maintenance_window = MaintenanceWindowSerializer(
        required=False,
        allow_null=True,
        help_text="outside it devices are told not to install (update: skip); none: any time",
    )


def deployment_options(data: dict[str, Any]) -> DeploymentOptions:
    """The validated options among ``data`` (InvalidOption, a 400, names the problem)."""
    window = data.get("maintenance_window")
    return deployment_options_validate(
        action_type=data.get("action_type"),
        forcetime=data.get("forcetime"),
        weight=data.get("weight"),
        maintenance_window=dict(window) if window is not None else None,
    )


OPTION_FIELDS = ("action_type", "forcetime", "weight", "maintenance_window")


def pop_deployment_options(data: dict[str, Any]) -> DeploymentOptions:
    options = deployment_options(data)
    for name in OPTION_FIELDS:
        data.pop(name, None)
    return options


class SoftwareRefSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(
        source="package.filename", read_only=True, allow_null=True, help_text="its package's file, if any"
    )

    class Meta:
        model = Software
        fields = ["id", "name", "version", "filename"]


class RolloutStatsSerializer(serializers.Serializer):
    targeted = serializers.IntegerField(help_text="devices of the feed in rollout mode that it fits")
    not_started = serializers.IntegerField()
    pending = serializers.IntegerField()
    running = serializers.IntegerField(help_text="installing, or being canceled")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()
    rolled_back = serializers.IntegerField(
        help_text="succeeded here, but the device reports an older version now"
    )
    already_on_version = serializers.IntegerField()
    left = serializers.IntegerField(help_text="devices with actions here that it no longer targets")
    progress_percent = serializers.IntegerField()


class RolloutSerializer(serializers.ModelSerializer):
    software = SoftwareRefSerializer(read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    stats = serializers.SerializerMethodField()
    maintenance_window = MaintenanceWindowSerializer(read_only=True, allow_null=True)

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
            "confirmation_required",
            "action_type",
            "forcetime",
            "weight",
            "maintenance_window",
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


# Spellings of "this rule is off", as README and the create_rollout command accept them.
RULE_OFF = ("off", "none", "")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "nullable": True},
            {"type": "string", "enum": ["off", ""]},
        ],
        "description": 'a whole number of at least 1; null, "off" or "" turn the rule off',
    }
)
class RuleField(serializers.IntegerField):
    """A safety rule's threshold: a whole number, or null / "off" / "" to turn the rule off."""

    default_error_messages = {"invalid": 'A whole number, or "off" to turn the rule off, is required.'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if isinstance(data, str) and data.strip().lower() in RULE_OFF:
            return True, None
        return super().validate_empty_values(data)


class _SafetyFields(serializers.Serializer):
    # Fields left out take the GOOSEBIT_ROLLOUT_* defaults (create) or stay as they are (update);
    # null or "off" disables a rule. The services validate the ranges.
    pause_on_failure_percent = RuleField()
    pause_min_results = serializers.IntegerField(required=False)
    pause_on_failure_count = RuleField()
    max_parallel = RuleField()


class RolloutCreatedSerializer(RolloutSerializer):
    """The create response (schema): the rollout, plus what the operator should know about it."""

    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="e.g. that it targets 0 devices (allowed: devices may join the feed later)",
    )

    class Meta(RolloutSerializer.Meta):
        fields = [*RolloutSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class RolloutCreateSerializer(_SafetyFields, DeploymentOptionsSerializer):
    name = serializers.CharField(trim_whitespace=False)
    feed = serializers.CharField(trim_whitespace=False)
    software = serializers.IntegerField(help_text="software id")
    start = serializers.BooleanField(required=False, default=False, help_text="start at once (else a draft)")
    confirmation_required = serializers.BooleanField(
        required=False,
        default=True,
        help_text="hawkBit's confirmationRequired: with the confirmation flow on "
        "(GOOSEBIT_CONFIRMATION_FLOW), each device's update waits for the device to confirm it",
    )


class RolloutUpdateSerializer(_SafetyFields):
    name = serializers.CharField(required=False, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        fixed = [field for field in ("feed", "software", *OPTION_FIELDS) if field in self.initial_data]
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
    maintenance_window = MaintenanceWindowSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Action
        fields = [
            "id",
            "device",
            "software",
            "rollout",
            "reason",
            "action_type",
            "forcetime",
            "weight",
            "maintenance_window",
            "status",
            "progress",
            "last_code",
            "created",
            "updated",
            "finished_at",
        ]
        read_only_fields = fields


class ActionDetailSerializer(ActionSerializer):
    # The log itself is paged (GET /api/v1/actions/{id}/statuses/): one action can hold a
    # thousand statuses of up to a megabyte in all, too much for one answer.
    status_count = serializers.SerializerMethodField(help_text="how many statuses the update log holds")
    statuses = serializers.SerializerMethodField(help_text="the paged update log, newest first")

    class Meta(ActionSerializer.Meta):
        fields = [*ActionSerializer.Meta.fields, "status_count", "statuses"]
        read_only_fields = fields

    def get_status_count(self, action: Action) -> int:
        return action.statuses.count()

    @extend_schema_field(serializers.URLField())
    def get_statuses(self, action: Action) -> str:
        path = reverse("action-statuses", args=[action.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path
