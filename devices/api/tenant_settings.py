"""The tenant settings API: hawkBit's system configuration keys (``/rest/v1/system/configs``).

``GET /api/v1/tenant-settings/`` answers every key as hawkBit does, a map of key to
``{"value", "global", "createdAt", "createdBy", "lastModifiedAt", "lastModifiedBy"}`` (times in
milliseconds since the epoch, left out while the key has its default), plus ``default``, the value
from the environment. ``PUT`` on the collection stores several keys at once (all or none);
``GET``/``PUT {"value": ...}``/``DELETE`` on ``/tenant-settings/<key>/`` read, set or reset one.

Reading needs ``devices.view_tenantconfiguration`` (or the change permission), changing and
resetting ``devices.change_tenantconfiguration``; the gateway key is masked for a user who may not change it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import selectors, services

MASK = "********"
_VIEW = "devices.view_tenantconfiguration"
_CHANGE = "devices.change_tenantconfiguration"


class TenantSettingsPermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            # As in the admin, who may change a setting may read it.
            return bool(user.has_perm(_VIEW) or user.has_perm(_CHANGE))
        return bool(user.has_perm(_CHANGE))


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _value_body(item: selectors.TenantSetting, *, reveal: bool) -> dict[str, Any]:
    def shown(value: Any) -> Any:
        return MASK if item.secret and value and not reveal else value

    body: dict[str, Any] = {
        "value": shown(item.value),
        "global": item.is_global,
        "default": shown(item.default),
    }
    if not item.is_global:
        body.update(
            createdAt=_millis(item.created_at),
            createdBy=item.created_by,
            lastModifiedAt=_millis(item.last_modified_at),
            lastModifiedBy=item.last_modified_by,
        )
    return body


def _user(request: Request) -> str:
    return str(request.user.get_username())


def _may_reveal(request: Request) -> bool:
    return bool(request.user.has_perm(_CHANGE))


_VALUE = inline_serializer(
    "TenantSettingValue",
    {
        "value": serializers.JSONField(),
        "global": serializers.BooleanField(),
        "default": serializers.JSONField(),
        "createdAt": serializers.IntegerField(required=False),
        "createdBy": serializers.CharField(required=False),
        "lastModifiedAt": serializers.IntegerField(required=False),
        "lastModifiedBy": serializers.CharField(required=False),
    },
)
_VALUE_REQUEST = inline_serializer("TenantSettingValueRequest", {"value": serializers.JSONField()})


class TenantSettingsView(APIView):
    permission_classes = [TenantSettingsPermission]

    @extend_schema(
        operation_id="tenant_settings_list",
        responses={200: OpenApiTypes.OBJECT},
        summary="Every tenant setting, by key",
    )
    def get(self, request: Request) -> Response:
        reveal = _may_reveal(request)
        items = selectors.tenant_settings_list()
        return Response({item.key: _value_body(item, reveal=reveal) for item in items})

    @extend_schema(
        operation_id="tenant_settings_update_many",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Set several tenant settings at once: a map of key to value",
    )
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict) or not request.data:
            raise exceptions.ValidationError("send a JSON object mapping tenant setting keys to their values")
        services.tenant_settings_update(values=dict(request.data), user=_user(request))
        return self.get(request)


class TenantSettingView(APIView):
    permission_classes = [TenantSettingsPermission]

    @extend_schema(
        operation_id="tenant_setting_retrieve", responses={200: _VALUE}, summary="One tenant setting"
    )
    def get(self, request: Request, key: str) -> Response:
        item = selectors.tenant_setting_get(key=key)
        return Response(_value_body(item, reveal=_may_reveal(request)))

    @extend_schema(
        operation_id="tenant_setting_update",
        request=_VALUE_REQUEST,
        responses={200: _VALUE},
        summary="Change one tenant setting",
    )
    def put(self, request: Request, key: str) -> Response:
        if not isinstance(request.data, dict) or "value" not in request.data:
            raise exceptions.ValidationError('send {"value": ...}')
        services.tenant_setting_set(key=key, value=request.data["value"], user=_user(request))
        return self.get(request, key)

    @extend_schema(
        operation_id="tenant_setting_reset",
        responses={200: _VALUE},
        summary="Reset one tenant setting to its default",
    )
    def delete(self, request: Request, key: str) -> Response:
        services.tenant_setting_reset(key=key, user=_user(request))
        return self.get(request, key)
