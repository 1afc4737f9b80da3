"""Device API shapes. Tokens appear only in the answers that set them and in GET …/token/ (for
holders of devices.view_device_token); their hashes and ciphertexts never leave the server."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devices.models import Device
from rollouts.api.serializers import DeploymentOptionsSerializer

# One "Hardware" schema component for the whole API (the software API defined it first).
from software.api.serializers import HardwareSerializer


class DeviceSerializer(serializers.ModelSerializer):
    hardware = HardwareSerializer(read_only=True)
    has_token = serializers.BooleanField(read_only=True)
    tags: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "controller_id",
            "name",
            "hardware",
            "sw_version",
            "update_mode",
            "feed",
            "assigned_software",
            "assignment_options",
            "assigned_confirmation_required",
            "force_update",
            "state",
            "progress",
            "last_seen",
            "last_ip",
            "has_token",
            "auto_confirm",
            "auto_confirm_initiator",
            "auto_confirm_remark",
            "auto_confirm_activated_at",
            "attributes",
            "tags",
            "created",
            "updated",
        ]
        read_only_fields = fields


class DeviceCreatedSerializer(DeviceSerializer):
    token = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="the device's token (given or generated); later only GET …/token/ shows it",
    )

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "token"]
        read_only_fields = fields


class DeviceAssignedSerializer(DeviceSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="what to know about the assignment, e.g. that the device has not reported its "
        "hardware so compatibility was not checked; empty when there is nothing to say",
    )

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class DeviceCreateSerializer(serializers.Serializer):
    controller_id = serializers.CharField(trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    feed = serializers.CharField(required=False, default="default")
    token = serializers.CharField(
        required=False, write_only=True, trim_whitespace=False, help_text="TargetToken the device will send"
    )
    generate_token = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: generate a random token; false: none; omitted: generated when device "
        "authentication is on in strict mode (devices need one then)",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("token") is not None and attrs["generate_token"]:
            raise serializers.ValidationError("give a token or generate_token, not both")
        return attrs


class DeviceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    feed = serializers.CharField(
        required=False, help_text="changes the feed without changing the update mode"
    )


class AssignSoftwareSerializer(DeploymentOptionsSerializer):
    software = serializers.IntegerField(help_text="software id")
    confirmation_required = serializers.BooleanField(
        required=False,
        default=True,
        help_text="hawkBit's confirmationRequired: with the confirmation flow on "
        "(GOOSEBIT_CONFIRMATION_FLOW), the update waits for the device to confirm it",
    )


class ActivateAutoConfirmSerializer(serializers.Serializer):
    initiator = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="in whose name updates are confirmed (default: the operator's user name)",
    )
    remark = serializers.CharField(required=False, allow_blank=True, max_length=512)


class SetFeedSerializer(serializers.Serializer):
    feed = serializers.CharField(allow_blank=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="the device's TargetToken")
