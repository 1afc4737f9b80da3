"""/api/v1/device-filters/: saved device filters and their auto-assignment (rollouts.services.filters)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib.errors import InvalidInput
from rollouts import services
from rollouts.api.serializers import (
    DeploymentOptionsSerializer,
    SoftwareRefSerializer,
    pop_deployment_options,
)
from rollouts.models import DeviceFilter
from software.models import Software


class DeviceFilterSerializer(serializers.ModelSerializer):
    auto_assign_software = SoftwareRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = DeviceFilter
        fields = [
            "id",
            "name",
            "query",
            "created",
            "updated",
            "created_by",
            "updated_by",
            "auto_assign_software",
            "auto_assign_options",
            "auto_assign_confirmation_required",
            "auto_assign_status",
            "auto_assign_set_by",
            "auto_assign_set_at",
            "auto_assign_decided_by",
            "auto_assign_decided_at",
        ]
        read_only_fields = fields


class DeviceFilterWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.MAX_FILTER_NAME_LENGTH, trim_whitespace=False)
    query = serializers.CharField(
        max_length=services.MAX_QUERY_LENGTH,
        trim_whitespace=False,
        help_text="RSQL over the device fields (README: Saved device filters)",
    )


class DeviceFilterUpdateSerializer(DeviceFilterWriteSerializer):
    name = serializers.CharField(max_length=services.MAX_FILTER_NAME_LENGTH, required=False)
    query = serializers.CharField(max_length=services.MAX_QUERY_LENGTH, required=False, trim_whitespace=False)


class AutoAssignSerializer(DeploymentOptionsSerializer):
    software = serializers.IntegerField(min_value=1, max_value=2**62, help_text="software id")
    confirmation_required = serializers.BooleanField(required=False, default=True)


def _input(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_FILTER = OpenApiResponse(DeviceFilterSerializer)


class DeviceFilterViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Saved device filters; ``auto_assign`` makes matching devices get a release on their next poll."""

    queryset = DeviceFilter.objects.select_related("auto_assign_software").order_by("name", "id")
    serializer_class = DeviceFilterSerializer

    def _respond(self, device_filter: DeviceFilter, code: int = status.HTTP_200_OK) -> Response:
        device_filter = self.get_queryset().get(pk=device_filter.pk)
        return Response(DeviceFilterSerializer(device_filter).data, status=code)

    def _by(self, request: Request) -> str:
        return str(getattr(request.user, "username", "") or "")

    @extend_schema(request=DeviceFilterWriteSerializer, responses={201: DeviceFilterSerializer})
    def create(self, request: Request) -> Response:
        """Save a filter; a query that does not compile is a 400 naming the problem."""
        data = _input(DeviceFilterWriteSerializer, request.data)
        device_filter = services.device_filter_create(
            name=data["name"], query=data["query"], by=self._by(request)
        )
        return self._respond(device_filter, status.HTTP_201_CREATED)

    @extend_schema(request=DeviceFilterUpdateSerializer, responses=_FILTER)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _input(DeviceFilterUpdateSerializer, request.data)
        device_filter = services.device_filter_update(
            device_filter=self.get_object(),
            name=data.get("name"),
            query=data.get("query"),
            by=self._by(request),
        )
        return self._respond(device_filter)

    def perform_destroy(self, instance: DeviceFilter) -> None:
        services.device_filter_delete(device_filter=instance)

    @extend_schema(request=AutoAssignSerializer, responses=_FILTER)
    @action(detail=True, methods=["post"])
    def auto_assign(self, request: Request, pk: str) -> Response:
        """Auto-assign a release (with deployment options); waits for approval when the tenant asks."""
        data = _input(AutoAssignSerializer, request.data)
        software = Software.objects.filter(pk=data.pop("software")).first()
        if software is None:
            raise InvalidInput("the release to auto-assign does not exist")
        confirmation_required = data.pop("confirmation_required")
        options = pop_deployment_options(data)
        device_filter = services.device_filter_set_auto_assign(
            device_filter=self.get_object(),
            software=software,
            options=options,
            confirmation_required=confirmation_required,
            by=self._by(request),
        )
        return self._respond(device_filter)

    @extend_schema(request=None, responses=_FILTER)
    @action(detail=True, methods=["post"])
    def clear_auto_assign(self, request: Request, pk: str) -> Response:
        return self._respond(
            services.device_filter_clear_auto_assign(device_filter=self.get_object(), by=self._by(request))
        )

    @extend_schema(request=None, responses=_FILTER)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """A second operator (not who set it) approves the auto-assignment."""
        return self._respond(
            services.device_filter_approve(device_filter=self.get_object(), by=self._by(request))
        )

    @extend_schema(request=None, responses=_FILTER)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk: str) -> Response:
        return self._respond(
            services.device_filter_deny(device_filter=self.get_object(), by=self._by(request))
        )
