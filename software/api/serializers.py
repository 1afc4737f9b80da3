"""Shapes of the software API; URLs are always shown masked."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from devices.models import Hardware
from software.models import Software


class HardwareSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hardware
        fields = ["id", "model", "revision"]


class SoftwareSerializer(serializers.ModelSerializer):
    compatibility = HardwareSerializer(many=True, read_only=True)
    remote = serializers.BooleanField(source="is_remote", read_only=True)
    url = serializers.CharField(source="masked_url", read_only=True, help_text="credentials masked")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Software
        fields = [
            "id",
            "version",
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
            "created",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, software: Software) -> str:
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

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("url")):
            raise serializers.ValidationError("send either a package as 'file' or its 'url', not both")
        return attrs
