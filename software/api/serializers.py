"""Shapes of the software API; URLs are always shown masked."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from devices.models import Hardware
from software.models import Artifact, Software, SoftwareModule, SoftwareModuleMetadata


class HardwareSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hardware
        fields = ["id", "model", "revision"]


class ArtifactSerializer(serializers.ModelSerializer):
    remote = serializers.BooleanField(source="is_remote", read_only=True)
    url = serializers.CharField(source="masked_url", read_only=True, help_text="credentials masked")
    image_format = serializers.CharField(read_only=True, help_text="swu, rauc, or empty for a raw file")

    class Meta:
        model = Artifact
        fields = [
            "id",
            "filename",
            "size",
            "sha1",
            "md5",
            "sha256",
            "image_format",
            "signed",
            "remote",
            "url",
            "created",
        ]
        read_only_fields = fields


class ModuleMetadataSerializer(serializers.ModelSerializer):
    class Meta:
        model = SoftwareModuleMetadata
        fields = ["key", "value", "target_visible"]


class SoftwareModuleSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type.key", read_only=True)
    artifacts = ArtifactSerializer(many=True, read_only=True)
    metadata = ModuleMetadataSerializer(many=True, read_only=True)

    class Meta:
        model = SoftwareModule
        fields = [
            "id",
            "type",
            "name",
            "version",
            "vendor",
            "description",
            "encrypted",
            "artifacts",
            "metadata",
            "created",
        ]
        read_only_fields = fields


class SoftwareSerializer(serializers.ModelSerializer):
    """A release. The package fields (filename ... url) describe its parsed package and are null
    for releases composed of other files; ``modules`` lists everything it holds."""

    compatibility = HardwareSerializer(many=True, read_only=True)
    modules = SoftwareModuleSerializer(many=True, read_only=True)
    image_format = serializers.CharField(source="package.image_format", read_only=True, allow_null=True)
    filename = serializers.CharField(source="package.filename", read_only=True, allow_null=True)
    size = serializers.IntegerField(source="package.size", read_only=True, allow_null=True)
    sha1 = serializers.CharField(source="package.sha1", read_only=True, allow_null=True)
    md5 = serializers.CharField(source="package.md5", read_only=True, allow_null=True)
    sha256 = serializers.CharField(source="package.sha256", read_only=True, allow_null=True)
    signed = serializers.BooleanField(source="package.signed", read_only=True, allow_null=True)
    remote = serializers.BooleanField(source="package.is_remote", read_only=True, allow_null=True)
    url = serializers.CharField(
        source="package.masked_url", read_only=True, allow_null=True, help_text="credentials masked"
    )
    metadata = serializers.JSONField(source="package.metadata", read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()
    tags: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )

    class Meta:
        model = Software
        fields = [
            "id",
            "name",
            "version",
            "description",
            "image_format",
            "filename",
            "size",
            "sha1",
            "md5",
            "sha256",
            "signed",
            "remote",
            "url",
            "compatibility",
            "metadata",
            "modules",
            "tags",
            "created",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, software: Software) -> str | None:
        if software.package is None:
            return None
        path = reverse("software-download", args=[software.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class SoftwareCreateSerializer(serializers.Serializer):
    """Either a multipart ``file`` or a ``url`` (JSON or form)."""

    file = serializers.FileField(required=False, allow_empty_file=True, use_url=False)
    url = serializers.CharField(required=False, max_length=2048, trim_whitespace=True)
    cache = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="URL only: copy the package into the storage (default GOOSEBIT_REMOTE_SOFTWARE_CACHE)",
    )
    version = serializers.CharField(
        required=False,
        max_length=255,
        help_text="file only: accept a file that is no .swu/.raucb as a raw artifact of this version",
    )
    name = serializers.CharField(required=False, max_length=255, help_text="the release name")
    module_type = serializers.SlugField(
        required=False, max_length=64, help_text="raw artifact: its module type key (default os)"
    )
    compatibility = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Hardware.objects.all(),
        help_text="raw artifact: hardware ids it fits",
    )

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("url")):
            raise serializers.ValidationError("send either a package as 'file' or its 'url', not both")
        if attrs.get("url") and (attrs.get("version") or attrs.get("compatibility")):
            raise serializers.ValidationError("'version' and 'compatibility' are for raw file uploads only")
        return attrs
