"""The software endpoints of the operator API; the work happens in software.services."""

from __future__ import annotations

from django.conf import settings
from django.http import UnreadablePostError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from goosebit_project.lib.errors import is_no_space
from software import selectors, services
from software.api.serializers import SoftwareCreateSerializer, SoftwareSerializer
from software.downloads import serve_artifact, serve_md5sum
from software.exceptions import PackageTooLarge, SoftwareError, StorageFull
from software.filters import SoftwareFilterSet
from software.models import Artifact, Software

# Multipart framing around the file; the service enforces the exact limit on the file itself.
_MULTIPART_OVERHEAD = 64 * 1024


def _error(exc: SoftwareError) -> Response:
    # 400 bad input, 409 duplicate/clash/in use, 413 too large (software.exceptions).
    return Response({"detail": str(exc)}, status=exc.status_code)


def _flatten(errors) -> str:
    if isinstance(errors, dict):
        return "; ".join(
            _flatten(value) if key == "non_field_errors" else f"{key}: {_flatten(value)}"
            for key, value in errors.items()
        )
    if isinstance(errors, list):
        return " ".join(_flatten(item) for item in errors)
    return str(errors)


class _AnyMediaRenderer(JSONRenderer):
    """Downloads return Django responses; never refuse a client for its Accept header.

    Only errors (404, 403) are rendered through this, as JSON whatever the client accepts.
    """

    media_type = "*/*"
    format = "bin"


_DOWNLOAD_RENDERERS = [JSONRenderer, _AnyMediaRenderer]
_ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}}


class SoftwareViewSet(viewsets.GenericViewSet):
    serializer_class = SoftwareSerializer
    filterset_class = SoftwareFilterSet

    def get_queryset(self):
        return selectors.software_list()

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request={
            "multipart/form-data": SoftwareCreateSerializer,
            "application/json": SoftwareCreateSerializer,
        },
        responses={
            201: SoftwareSerializer,
            400: OpenApiResponse(_ERROR, description="not a package, bad URL, bad request"),
            409: OpenApiResponse(_ERROR, description="same package or same version for that hardware"),
            413: OpenApiResponse(_ERROR, description="larger than GOOSEBIT_MAX_UPLOAD_SIZE"),
            507: OpenApiResponse(_ERROR, description="no space left for the package"),
        },
    )
    def create(self, request):
        length = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.GOOSEBIT_MAX_UPLOAD_SIZE
        if length.isdigit() and int(length) > limit + _MULTIPART_OVERHEAD:
            # Refuse before reading a body that is too big anyway.
            return _error(PackageTooLarge(f"the package is larger than the limit of {limit} bytes"))
        try:
            payload = request.data
        except UnreadablePostError as exc:
            # The client went away mid-upload. Django's multipart parser leaves the partial
            # temporary file open on this path; upload_interrupted() closes and removes it.
            for handler in request._request.upload_handlers:
                handler.upload_interrupted()
            return Response({"detail": f"the upload broke off: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
        except OSError as exc:
            # Django spools the multipart file into FILE_UPLOAD_TEMP_DIR; a full disk there is 507.
            for handler in request._request.upload_handlers:
                handler.upload_interrupted()
            if is_no_space(exc):
                return _error(StorageFull("no space left in the temporary upload folder"))
            raise
        serializer = SoftwareCreateSerializer(data=payload)
        if not serializer.is_valid():
            return Response({"detail": _flatten(serializer.errors)}, status=status.HTTP_400_BAD_REQUEST)
        data = serializer.validated_data
        try:
            if data.get("file"):
                software = services.software_create_from_file(
                    file=data["file"],
                    filename=data["file"].name,
                    version=data.get("version"),
                    name=data.get("name"),
                    module_type=data.get("module_type"),
                    compatibility=data.get("compatibility"),
                )
            else:
                software = services.software_create_from_url(url=data["url"], cache=data.get("cache"))
        except SoftwareError as exc:
            return _error(exc)
        return Response(self.get_serializer(software).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: OpenApiResponse(_ERROR, description="still in use")})
    def destroy(self, request, pk=None):
        try:
            services.software_delete(software=self.get_object())
        except SoftwareError as exc:
            return _error(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 206: bytes, 302: None, 416: None})
    @action(detail=True, methods=["get"], renderer_classes=_DOWNLOAD_RENDERERS, filterset_class=None)
    def download(self, request, pk=None):
        """The package, with the same Range/ETag behaviour devices get."""
        return serve_artifact(request._request, _package_of(self.get_object()))

    @extend_schema(responses={(200, "text/plain"): str})
    @action(detail=True, methods=["get"], renderer_classes=_DOWNLOAD_RENDERERS, filterset_class=None)
    def md5sum(self, request, pk=None):
        """``<md5>  <filename>``, for ``md5sum -c``."""
        return serve_md5sum(request._request, _package_of(self.get_object()))


def _package_of(software: Software) -> Artifact:
    package = software.package
    if package is None:
        raise NotFound("this release has no package to download; download its artifacts by module")
    return package
