"""The rollout and action API. Lifecycle changes are POST actions that call rollouts.services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib.errors import InvalidInput, NotFound
from rollouts import selectors, services
from rollouts.api import serializers
from rollouts.filters import ActionFilterSet, RolloutFilterSet
from rollouts.models import Action, Rollout
from software.models import Software

_ROLLOUT = OpenApiResponse(serializers.RolloutSerializer)


class StatusPagination(LimitOffsetPagination):
    """An update log page: 100 lines unless asked, never more than 500 (hawkBit's cap)."""

    default_limit = 100
    max_limit = 500


def _software(software_id: int) -> Software:
    software = Software.objects.filter(pk=software_id).first()
    if software is None:
        raise InvalidInput(f"software {software_id} does not exist")
    return software


def _input(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@contextmanager
def _settings_named_by_field() -> Iterator[None]:
    """A service's InvalidSetting as a 400 under the API's field path (groups[1].target_count)."""
    try:
        yield
    except services.InvalidSetting as error:
        raise serializers.setting_error(error.field, error.problem) from error


class RolloutViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Rollouts with their live statistics (aggregated from their actions on every request)."""

    # Groups come prefetched; each rollout then costs a fixed number of queries (its statistics
    # and its group statistics, one aggregate each), whatever the fleet size.
    queryset = (
        Rollout.objects.select_related("software", "created_by")
        .prefetch_related("groups")
        .order_by("-created", "-id")
    )
    serializer_class = serializers.RolloutSerializer
    filterset_class = RolloutFilterSet

    def _respond(self, rollout: Rollout, code: int = status.HTTP_200_OK) -> Response:
        rollout = self.get_queryset().get(pk=rollout.pk)
        return Response(serializers.RolloutSerializer(rollout).data, status=code)

    @extend_schema(
        request=serializers.RolloutCreateSerializer, responses={201: serializers.RolloutCreatedSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a rollout (a draft unless start is true); omitted safety settings take the defaults.

        ``warnings`` says what to check, e.g. that it targets 0 devices right now."""
        data = _input(serializers.RolloutCreateSerializer, request.data)
        data["software"] = _software(data["software"])
        options = serializers.pop_deployment_options(data)
        with _settings_named_by_field():
            groups = serializers.pop_group_specs(data)
            rollout = services.rollout_create(
                created_by=cast(User, request.user), options=options, groups=groups, **data
            )
        rollout = self.get_queryset().get(pk=rollout.pk)
        body = {
            **serializers.RolloutSerializer(rollout).data,
            "warnings": selectors.rollout_warnings(rollout=rollout),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.RolloutUpdateSerializer, responses=_ROLLOUT)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Rename a rollout or change its safety settings (feed and software are fixed); before
        it starts, also its groups (amount_groups, canary or groups) and start_at (409 after)."""
        rollout = self.get_object()
        data = _input(serializers.RolloutUpdateSerializer, request.data)
        with _settings_named_by_field():
            groups = serializers.pop_group_specs(data)
            if groups is not None:
                data["groups"] = groups
            services.rollout_update(rollout=rollout, **data)
        return self._respond(rollout)

    def perform_destroy(self, instance: Rollout) -> None:
        """Only a rollout that never reached a device can be deleted (409 otherwise: stop it)."""
        services.rollout_delete(rollout=instance)

    @extend_schema(request=None, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        """draft → running."""
        return self._respond(services.rollout_start(rollout=self.get_object()))

    @extend_schema(request=None, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        """running → paused (no new device starts; the feed stays held)."""
        return self._respond(services.rollout_pause(rollout=self.get_object(), by=cast(User, request.user)))

    @extend_schema(request=None, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        """paused → running."""
        return self._respond(services.rollout_resume(rollout=self.get_object()))

    @extend_schema(request=None, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        """running/paused/finished → stopped, for good (updates not started yet are canceled)."""
        return self._respond(services.rollout_stop(rollout=self.get_object()))

    @extend_schema(request=serializers.RemarkSerializer, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """waiting_for_approval → draft, by another operator than its creator (four eyes)."""
        remark = _input(serializers.RemarkSerializer, request.data)["remark"]
        with _settings_named_by_field():
            rollout = services.rollout_approve(
                rollout=self.get_object(), by=cast(User, request.user), remark=remark
            )
        return self._respond(rollout)

    @extend_schema(request=serializers.RemarkSerializer, responses=_ROLLOUT)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk: str) -> Response:
        """waiting_for_approval → approval_denied, for good."""
        remark = _input(serializers.RemarkSerializer, request.data)["remark"]
        with _settings_named_by_field():
            rollout = services.rollout_deny(
                rollout=self.get_object(), by=cast(User, request.user), remark=remark
            )
        return self._respond(rollout)

    @extend_schema(request=None, responses=_ROLLOUT)
    @action(detail=True, methods=["post"], url_path="next-group", url_name="next-group")
    def next_group(self, request: Request, pk: str) -> Response:
        """Start the next scheduled group now, whatever the running group's condition says."""
        rollout = self.get_object()
        services.rollout_trigger_next_group(rollout=rollout)
        return self._respond(rollout)

    @extend_schema(request=serializers.RetrySerializer, responses={201: serializers.RolloutSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """A new rollout of the devices whose update here failed (paused, stopped or finished)."""
        if not request.user.has_perm("rollouts.add_rollout"):
            # It creates a rollout: the same permission as POST /rollouts/.
            raise PermissionDenied("retrying creates a rollout: that needs the add rollout permission")
        start = _input(serializers.RetrySerializer, request.data)["start"]
        retried = services.rollout_retry(
            rollout=self.get_object(), created_by=cast(User, request.user), start=start
        )
        return self._respond(retried, status.HTTP_201_CREATED)

    @extend_schema(filters=False, responses=serializers.RolloutGroupSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def groups(self, request: Request, pk: str) -> Response:
        """The rollout's groups in order, each with its live statistics."""
        return Response(serializers.groups_with_stats(self.get_object()))

    @extend_schema(filters=False, responses=serializers.GroupDeviceSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path=r"groups/(?P<position>[0-9]{1,5})/devices",
        url_name="group-devices",
        filterset_class=None,
    )
    def group_devices(self, request: Request, pk: str, position: str) -> Response:
        """The devices the group at ``position`` holds, paged, by id."""
        rollout = self.get_object()
        groups = selectors.rollout_groups_frozen_or_planned(rollout)
        if int(position) not in {group.position for group in groups}:
            raise NotFound(f"rollout {rollout.pk} has no group at position {position}")
        devices = (
            selectors.devices_in_group(rollout=rollout, groups=groups, position=int(position))
            .select_related("hardware")
            .order_by("pk")
        )
        page = self.paginate_queryset(devices)
        return self.get_paginated_response(serializers.GroupDeviceSerializer(page, many=True).data)

    @extend_schema(filters=False, responses=serializers.GroupPreviewSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path="preview",
        url_name="group-preview",
        filterset_class=None,
        pagination_class=None,
    )
    def group_preview(self, request: Request, pk: str) -> Response:
        """Per group: how many devices (as planned before the start), per hardware, a sample."""
        previews = selectors.rollout_group_preview(rollout=self.get_object())
        return Response([preview.as_dict() for preview in previews])

    @extend_schema(
        parameters=[
            OpenApiParameter("feed", str, required=True),
            OpenApiParameter("software", int, required=True, description="software id"),
        ],
        responses=serializers.RolloutPreviewSerializer,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def preview(self, request: Request) -> Response:
        """How many devices, per hardware, a rollout of this software on this feed would reach."""
        query = _input(serializers.RolloutPreviewQuerySerializer, request.query_params)
        preview = selectors.rollout_preview(feed=query["feed"].strip(), software=_software(query["software"]))
        return Response(preview.as_dict())


class ActionViewSet(viewsets.ReadOnlyModelViewSet):
    """Update attempts, newest first; one action's detail carries its full update log."""

    queryset = Action.objects.select_related("device", "software").order_by("-id")
    serializer_class = serializers.ActionSerializer
    filterset_class = ActionFilterSet

    def get_serializer_class(self) -> type:
        if self.action == "retrieve":
            return serializers.ActionDetailSerializer
        if self.action == "statuses":
            return serializers.ActionStatusSerializer
        return serializers.ActionSerializer

    @extend_schema(request=None, responses=serializers.ActionSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def force(self, request: Request, pk: str) -> Response:
        """Turn an open soft or time-forced update into a forced one (405 for any other)."""
        forced = services.action_force(action=self.get_object())
        return Response(serializers.ActionSerializer(self.get_queryset().get(pk=forced.pk)).data)

    @extend_schema(filters=False, responses=serializers.ActionStatusSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=StatusPagination)
    def statuses(self, request: Request, pk: str) -> Response:
        """The action's update log, newest first, paged with limit (at most 500) and offset."""
        page = self.paginate_queryset(selectors.action_statuses_newest_first(action=self.get_object()))
        return self.get_paginated_response(serializers.ActionStatusSerializer(page, many=True).data)
