"""The rollout and action API. Lifecycle changes are POST actions that call rollouts.services."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.lib.errors import InvalidInput
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


class RolloutViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Rollouts with their live statistics (aggregated from their actions on every request)."""

    queryset = Rollout.objects.select_related("software", "created_by").order_by("-created", "-id")
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
        rollout = services.rollout_create(created_by=cast(User, request.user), options=options, **data)
        rollout = self.get_queryset().get(pk=rollout.pk)
        body = {
            **serializers.RolloutSerializer(rollout).data,
            "warnings": selectors.rollout_warnings(rollout=rollout),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.RolloutUpdateSerializer, responses=_ROLLOUT)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Rename a rollout or change its safety settings (feed and software are fixed)."""
        rollout = self.get_object()
        services.rollout_update(rollout=rollout, **_input(serializers.RolloutUpdateSerializer, request.data))
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
