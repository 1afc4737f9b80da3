"""What the device-tag and release-tag APIs share: the tag's shape and its CRUD + bulk views.

Writes go through the apps' tag services (devices.services.tags, software.services.tags), which
trim names and refuse duplicates, NULs and overlong fields. Tagging or untagging changes the
tagged objects, so ``assign``/``unassign`` need the change permission of *those* (devices.change_device,
software.change_software) besides viewing the tag, as hawkBit asks UPDATE_TARGET for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.db.models import Count, Model, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from goosebit_project.api_permissions import ModelPermissions


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(max_length=512, required=False, allow_blank=True)
    colour = serializers.CharField(max_length=16, required=False, allow_blank=True)
    count = serializers.IntegerField(read_only=True, help_text="how many devices (releases) carry it")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)


class TaggedChangePermission(BasePermission):
    """Viewing the tag and changing the objects it is put on (the view's ``tagged_permission``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        model = view.get_queryset().model
        return user.has_perms(
            [f"{model._meta.app_label}.view_{model._meta.model_name}", view.tagged_permission]
        )


class TagViewSet(viewsets.GenericViewSet):
    """CRUD of one kind of tag plus ``POST {id}/assign/`` and ``{id}/unassign/``."""

    serializer_class = TagSerializer
    permission_classes = [ModelPermissions]
    parser_classes = [JSONParser]  # bodies are JSON; no form or upload parsing (temporary files)
    tag_model: ClassVar[type[Model]]
    count_relation: ClassVar[str]
    tagged_permission: ClassVar[str]
    assign_serializer: ClassVar[type[serializers.Serializer]]

    def get_queryset(self) -> QuerySet[Any]:
        return self.tag_model._default_manager.annotate(count=Count(self.count_relation)).order_by(
            "name", "pk"
        )

    def get_permissions(self) -> Sequence[Any]:
        if self.action in ("assign", "unassign"):
            return [TaggedChangePermission()]
        return super().get_permissions()

    # the app's services
    def create_tag(self, **fields: Any) -> Model:
        raise NotImplementedError

    def update_tag(self, tag: Any, **fields: Any) -> Model:
        raise NotImplementedError

    def delete_tag(self, tag: Any) -> None:
        raise NotImplementedError

    def change(self, tag: Any, ids: list[Any], *, assign: bool) -> int:
        raise NotImplementedError

    def _answer(self, tag: Model, code: int = status.HTTP_200_OK) -> Response:
        return Response(TagSerializer(self.get_queryset().get(pk=tag.pk)).data, status=code)

    def _input(self, request: Request, *, partial: bool) -> dict[str, Any]:
        serializer = TagSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TagSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TagSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        return self._answer(self.create_tag(**self._input(request, partial=False)), status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        tag = self.get_object()
        return self._answer(self.update_tag(tag, **self._input(request, partial=True)))

    def destroy(self, request: Request, pk: str) -> Response:
        self.delete_tag(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _bulk(self, request: Request, *, assign: bool) -> Response:
        tag = self.get_object()
        serializer = self.assign_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = next(iter(serializer.validated_data.values()))
        changed = self.change(tag, ids, assign=assign)
        return Response({"changed": changed, **TagSerializer(self.get_queryset().get(pk=tag.pk)).data})


def bulk_actions(
    assign_serializer: type[serializers.Serializer],
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``assign`` and ``unassign`` actions documented with the app's request body."""

    @extend_schema(request=assign_serializer, responses=TagSerializer)
    @action(detail=True, methods=["post"])
    def assign(self: TagViewSet, request: Request, pk: str) -> Response:
        """Put the tag on every listed object (all or none: an unknown one refuses the lot)."""
        return self._bulk(request, assign=True)

    @extend_schema(request=assign_serializer, responses=TagSerializer)
    @action(detail=True, methods=["post"])
    def unassign(self: TagViewSet, request: Request, pk: str) -> Response:
        """Take the tag off every listed object."""
        return self._bulk(request, assign=False)

    return assign, unassign
