"""The device API: the registry, plus operator commands as POST actions on one device.

Every write calls devices.services; errors come back as {"detail": ...} through
goosebit_project.api_errors.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from devices import selectors, services
from devices.api import serializers
from devices.filters import DeviceFilterSet
from devices.models import Device, DeviceTag
from goosebit_project.lib.errors import InvalidInput
from rollouts import services as rollout_services
from rollouts.api.serializers import deployment_options
from software.models import Software

_DEVICE = OpenApiResponse(serializers.DeviceSerializer)


class DeviceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Devices, addressed by their controller id."""

    queryset = (
        Device.objects.select_related("hardware")
        .prefetch_related(Prefetch("tags", queryset=DeviceTag.objects.order_by("name")))
        .order_by("controller_id", "id")
    )
    serializer_class = serializers.DeviceSerializer
    filterset_class = DeviceFilterSet
    lookup_field = "controller_id"
    lookup_value_regex = "[^/]+"

    def get_object(self) -> Device:
        # No controller id holds a NUL, and PostgreSQL refuses one in a query (a 500 otherwise).
        if "\x00" in self.kwargs.get(self.lookup_field, ""):
            raise exceptions.NotFound(f"device {self.kwargs[self.lookup_field]!r} does not exist")
        return super().get_object()

    def _respond(self, device: Device, code: int = status.HTTP_200_OK) -> Response:
        device.refresh_from_db()
        return Response(serializers.DeviceSerializer(device).data, status=code)

    def _input(self, serializer_class: type, request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        request=serializers.DeviceCreateSerializer, responses={201: serializers.DeviceCreatedSerializer}
    )
    def create(self, request: Request) -> Response:
        """Pre-register a device; a token given or generated here is returned only in this response."""
        data = self._input(serializers.DeviceCreateSerializer, request)
        device = services.device_create(
            controller_id=data["controller_id"],
            name=data["name"],
            feed=data["feed"],
            token=data.get("token"),
            generate=data["generate_token"],
        )
        device = self.get_queryset().get(pk=device.pk)
        token = selectors.device_token(device=device) if device.has_token else None
        device.token = token
        response = Response(serializers.DeviceCreatedSerializer(device).data, status=status.HTTP_201_CREATED)
        if token:
            add_never_cache_headers(response)  # keep the token out of every cache
        return response

    @extend_schema(request=serializers.DeviceUpdateSerializer, responses=_DEVICE)
    def partial_update(self, request: Request, controller_id: str) -> Response:
        """Rename a device or change its feed (the update mode stays as it is)."""
        device = self.get_object()
        data = self._input(serializers.DeviceUpdateSerializer, request)
        services.device_update(device=device, name=data.get("name"), feed=data.get("feed"))
        return self._respond(device)

    def perform_destroy(self, instance: Device) -> None:
        services.device_delete(device=instance)

    @extend_schema(
        request=serializers.AssignSoftwareSerializer,
        responses=OpenApiResponse(serializers.DeviceAssignedSerializer),
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, controller_id: str) -> Response:
        """Assigned mode: the device should run this software.

        It must fit the device's hardware when that is known; when it is not, the assignment is
        made unchecked and ``warnings`` says so.
        """
        device = self.get_object()
        data = self._input(serializers.AssignSoftwareSerializer, request)
        software_id = data["software"]
        software = Software.objects.filter(pk=software_id).first()
        if software is None:
            raise InvalidInput(f"software {software_id} does not exist")
        options = deployment_options(data)
        rollout_services.device_assign_software(
            device=device,
            software=software,
            confirmation_required=data["confirmation_required"],
            options=options,
        )
        device = self.get_queryset().get(pk=device.pk)
        device.warnings = rollout_services.device_assignment_warnings(device=device, software=software)
        return Response(serializers.DeviceAssignedSerializer(device).data)

    @extend_schema(request=serializers.SetFeedSerializer, responses=_DEVICE)
    @action(detail=True, methods=["post"], url_path="set-feed")
    def set_feed(self, request: Request, controller_id: str) -> Response:
        """Rollout mode: the device follows the rollouts of this feed."""
        device = self.get_object()
        rollout_services.device_set_feed(
            device=device, feed=self._input(serializers.SetFeedSerializer, request)["feed"]
        )
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"])
    def latest(self, request: Request, controller_id: str) -> Response:
        """Latest mode: the highest compatible software version."""
        device = self.get_object()
        rollout_services.device_set_latest(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"])
    def pin(self, request: Request, controller_id: str) -> Response:
        """Pinned: no update is offered (one already running may finish)."""
        device = self.get_object()
        rollout_services.device_pin(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"])
    def unpin(self, request: Request, controller_id: str) -> Response:
        """Back to rollout mode on the device's feed."""
        device = self.get_object()
        rollout_services.device_unpin(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, controller_id: str) -> Response:
        """Offer the target software again on the next poll (after a failure or a cancel)."""
        device = self.get_object()
        rollout_services.device_retry(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"], url_path="cancel-update")
    def cancel_update(self, request: Request, controller_id: str) -> Response:
        """Cancel the update under way: at once if not started, else the device is asked to stop."""
        device = self.get_object()
        rollout_services.device_cancel_update(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"], url_path="force-quit")
    def force_quit(self, request: Request, controller_id: str) -> Response:
        """Close a cancel the device has not confirmed."""
        device = self.get_object()
        rollout_services.device_force_quit(device=device)
        return self._respond(device)

    @extend_schema(
        responses={
            200: serializers.TokenSerializer,
            403: OpenApiResponse(description="the user lacks devices.view_device_token"),
            404: OpenApiResponse(description="no such device, or it has no token"),
            409: OpenApiResponse(
                description="not readable until the device authenticates or the token is rotated "
                "(a token from before encryption, or encrypted with a key no longer configured)"
            ),
        }
    )
    @action(detail=True, methods=["get"], url_path="token")
    def token(self, request: Request, controller_id: str) -> Response:
        """Read the device's TargetToken again (hawkBit's READ_TARGET_SECURITY_TOKEN)."""
        if not request.user.has_perm("devices.view_device_token"):
            raise exceptions.PermissionDenied(
                "reading device tokens needs the permission devices.view_device_token"
            )
        device = self.get_object()
        response = Response({"token": selectors.device_token(device=device)})
        add_never_cache_headers(response)
        return response

    @extend_schema(request=serializers.ActivateAutoConfirmSerializer, responses=_DEVICE)
    @action(detail=True, methods=["post"], url_path="activate-auto-confirm")
    def activate_auto_confirm(self, request: Request, controller_id: str) -> Response:
        """Auto-confirm (hawkBit's user consent): updates waiting for this device's confirmation
        are confirmed now, later ones as they come. 409 when it is active already."""
        device = self.get_object()
        data = self._input(serializers.ActivateAutoConfirmSerializer, request)
        rollout_services.device_activate_auto_confirm(
            device=device,
            initiator=data.get("initiator") or request.user.get_username(),
            remark=data.get("remark"),
        )
        return self._respond(device)

    @extend_schema(request=None, responses=_DEVICE)
    @action(detail=True, methods=["post"], url_path="deactivate-auto-confirm")
    def deactivate_auto_confirm(self, request: Request, controller_id: str) -> Response:
        """Turn auto-confirm off: later updates wait for the device to confirm them again."""
        device = self.get_object()
        rollout_services.device_deactivate_auto_confirm(device=device)
        return self._respond(device)

    @extend_schema(request=None, responses=serializers.TokenSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request: Request, controller_id: str) -> Response:
        """Give the device a new random token, returned only in this response."""
        device = self.get_object()
        response = Response({"token": services.device_rotate_token(device=device)})
        add_never_cache_headers(response)  # the token exists only in this response
        return response
