"""Rollout and action API shapes; rollout statistics are computed per request, never stored."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Device
from rollouts import selectors
from rollouts.models import Action, ActionStatus, Rollout, RolloutGroup
from rollouts.options import DeploymentOptions, deployment_options_validate
from rollouts.services import GroupSpec, groups_canary, groups_even
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


class GroupStatsSerializer(serializers.Serializer):
    targeted = serializers.IntegerField(help_text="devices of the rollout this group holds")
    not_started = serializers.IntegerField()
    pending = serializers.IntegerField()
    running = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()
    rolled_back = serializers.IntegerField()
    already_on_version = serializers.IntegerField()
    progress_percent = serializers.IntegerField()


class RolloutGroupSerializer(serializers.ModelSerializer):
    """A group with its live statistics, which the caller computes for all groups at once
    (``context["group_stats"]``: position -> GroupStats) so a list costs one query per rollout."""

    stats = serializers.SerializerMethodField()

    class Meta:
        model = RolloutGroup
        fields = [
            "id",
            "position",
            "name",
            "description",
            "query",
            "target_count",
            "target_percentage",
            "success_threshold",
            "success_action",
            "error_threshold",
            "error_count",
            "confirmation_required",
            "status",
            "status_reason",
            "started_at",
            "finished_at",
            "stats",
        ]
        read_only_fields = fields

    @extend_schema_field(GroupStatsSerializer)
    def get_stats(self, group: RolloutGroup) -> dict[str, int]:
        stats = self.context["group_stats"].get(group.position) or selectors.GroupStats(
            position=group.position
        )
        return stats.as_dict()


def groups_with_stats(rollout: Rollout) -> list[dict[str, Any]]:
    """The rollout's groups (prefetched if the caller did) with their statistics: one query, plus
    the sizing queries of a rollout not started yet (its groups as planned, not frozen)."""
    groups = selectors.rollout_groups_frozen_or_planned(rollout)
    if not groups:
        return []
    stats = selectors.rollout_group_stats(rollout=rollout, groups=groups)
    return list(RolloutGroupSerializer(groups, many=True, context={"group_stats": stats}).data)


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
            "description",
            "feed",
            "query",
            "dynamic",
            "start_at",
            "retry_of",
            "software",
            "status",
            "approval_decided_by",
            "approval_decided_at",
            "approval_remark",
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
            "groups",
        ]
        read_only_fields = fields

    groups = serializers.SerializerMethodField(help_text="the groups in order, each with its statistics")

    @extend_schema_field(RolloutStatsSerializer)
    def get_stats(self, rollout: Rollout) -> dict[str, int]:
        return selectors.rollout_stats(rollout=rollout).as_dict()

    @extend_schema_field(RolloutGroupSerializer(many=True))
    def get_groups(self, rollout: Rollout) -> list[dict[str, Any]]:
        return groups_with_stats(rollout)


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


class GroupInputSerializer(serializers.Serializer):
    """One explicit group; the services check ranges and name the field as groups[i].<field>."""

    name = serializers.CharField(trim_whitespace=False)
    query = serializers.CharField(required=False, allow_blank=True, default="", help_text="RSQL device query")
    target_count = serializers.IntegerField(required=False, allow_null=True, default=None)
    target_percentage = serializers.FloatField(required=False, allow_null=True, default=None)
    success_threshold = serializers.IntegerField(
        required=False, default=100, help_text="% of the group done before the next group starts"
    )
    success_action = serializers.ChoiceField(
        choices=RolloutGroup.SuccessAction.choices,
        required=False,
        default=RolloutGroup.SuccessAction.NEXT_GROUP,
    )
    error_threshold = serializers.IntegerField(required=False, allow_null=True, default=None)
    error_count = serializers.IntegerField(required=False, allow_null=True, default=None)
    confirmation_required = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="null: the rollout's"
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class CanaryInputSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, allow_null=True, default=None)
    percentage = serializers.FloatField(required=False, allow_null=True, default=None)
    waves = serializers.IntegerField(required=False, default=1, help_text="equal waves after the canary")
    success_threshold = serializers.IntegerField(required=False, default=100)
    error_threshold = serializers.IntegerField(required=False, allow_null=True, default=None)
    error_count = serializers.IntegerField(required=False, allow_null=True, default=None)
    pause_after_canary = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict) -> dict:
        if (attrs["count"] is None) == (attrs["percentage"] is None):
            raise serializers.ValidationError({"count": ["give either count or percentage"]})
        return attrs


GROUP_LAYOUTS = ("amount_groups", "canary", "groups")


class _GroupsFields(serializers.Serializer):
    # One of the three layouts, or none: one group of every targeted device.
    amount_groups = serializers.IntegerField(required=False, help_text="N groups of equal size (hawkBit)")
    canary = CanaryInputSerializer(required=False, help_text="a canary group, then waves")
    groups = GroupInputSerializer(many=True, required=False, help_text="explicit groups, in order")

    def validate(self, attrs: dict) -> dict:
        given = [name for name in GROUP_LAYOUTS if name in attrs]
        if len(given) > 1:
            raise serializers.ValidationError({given[1]: [f"give only one of {', '.join(GROUP_LAYOUTS)}"]})
        return super().validate(attrs)


def pop_group_specs(data: dict[str, Any]) -> list[GroupSpec] | None:
    """The groups the validated ``data`` asks for (None: the default), removing its layout keys."""
    amount = data.pop("amount_groups", None)
    canary = data.pop("canary", None)
    groups = data.pop("groups", None)
    if amount is not None:
        return groups_even(amount)
    if canary is not None:
        return groups_canary(
            canary_count=canary["count"],
            canary_percentage=canary["percentage"],
            waves=canary["waves"],
            success_threshold=canary["success_threshold"],
            error_threshold=canary["error_threshold"],
            error_count=canary["error_count"],
            pause_after_canary=canary["pause_after_canary"],
        )
    if groups is not None:
        return [GroupSpec(**dict(group)) for group in groups]
    return None


# InvalidSetting.field as the services spell it -> the API's field name.
SETTING_FIELDS = {"amountGroups": "amount_groups"}


def setting_error(field: str, problem: str) -> serializers.ValidationError:
    """A service's InvalidSetting as a DRF error under the field's path: "groups[1].target_count"
    becomes {"groups": {1: {"target_count": [problem]}}}, as DRF nests its own errors."""
    detail: Any = [problem]
    for part in reversed(SETTING_FIELDS.get(field, field).split(".")):
        name, _, index = part.partition("[")
        if index.rstrip("]").isdigit():
            detail = {int(index.rstrip("]")): detail}
        detail = {name: detail}
    return serializers.ValidationError(detail)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that says its time zone (a bare local time is ambiguous)."""

    default_error_messages = {"naive": "Give the time zone, e.g. 2026-05-01T02:00:00+02:00 or ...Z."}

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and (parsed := parse_datetime(value.strip())) is not None:
            if parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class RolloutCreateSerializer(_GroupsFields, _SafetyFields, DeploymentOptionsSerializer):
    name = serializers.CharField(trim_whitespace=False)
    feed = serializers.CharField(
        required=False, trim_whitespace=False, help_text="the feed its devices follow; optional with a query"
    )
    query = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="RSQL device query ('' = all)"
    )
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    dynamic = serializers.BooleanField(
        required=False, default=True, help_text="devices that come to match later join the last group"
    )
    start_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="ISO 8601 with its time zone: starts by itself then"
    )
    software = serializers.IntegerField(help_text="software id")
    start = serializers.BooleanField(required=False, default=False, help_text="start at once (else a draft)")
    confirmation_required = serializers.BooleanField(
        required=False,
        default=True,
        help_text="hawkBit's confirmationRequired: with the confirmation flow on "
        "(GOOSEBIT_CONFIRMATION_FLOW), each device's update waits for the device to confirm it",
    )


class RolloutUpdateSerializer(_GroupsFields, _SafetyFields):
    # Groups and start_at only before the start (409 after).
    name = serializers.CharField(required=False, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    start_at = AwareDateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        fixed = [
            field
            for field in ("feed", "query", "dynamic", "software", *OPTION_FIELDS)
            if field in self.initial_data
        ]
        if fixed:
            raise serializers.ValidationError(
                f"{' and '.join(fixed)} of a rollout cannot change; "
                "create a new rollout (it takes the feed over)"
            )
        return super().validate(attrs)


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


class GroupPreviewHardwareSerializer(serializers.Serializer):
    model = serializers.CharField()
    revision = serializers.CharField()
    devices = serializers.IntegerField()


class GroupPreviewSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    devices = serializers.IntegerField(help_text="devices the group holds (as planned before the start)")
    already_on_version = serializers.IntegerField()
    to_update = serializers.IntegerField()
    by_hardware = GroupPreviewHardwareSerializer(many=True)
    sample = serializers.ListField(child=serializers.CharField(), help_text="the first controller ids")


class GroupDeviceSerializer(serializers.ModelSerializer):
    hardware_model = serializers.CharField(source="hardware.model", read_only=True, allow_null=True)
    hardware_revision = serializers.CharField(source="hardware.revision", read_only=True, allow_null=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "controller_id",
            "name",
            "hardware_model",
            "hardware_revision",
            "sw_version",
            "state",
            "last_seen",
        ]
        read_only_fields = fields


class RemarkSerializer(serializers.Serializer):
    remark = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class RetrySerializer(serializers.Serializer):
    start = serializers.BooleanField(required=False, default=False, help_text="start it at once")


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
