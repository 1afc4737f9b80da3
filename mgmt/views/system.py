"""``/rest/v1/userinfo`` and ``/rest/v1/system/configs``: who am I, and the runtime tenant settings.

The configs are the same keys as the admin's Tenant settings and /api/v1/tenant-settings/
(devices.tenant_config); a PUT takes effect on the next poll. The gateway token key is shown
only to users holding READ_GATEWAY_SECURITY_TOKEN.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from devices import selectors as device_selectors
from devices import services as device_services
from goosebit_project.lib.errors import InvalidInput, NotFound
from mgmt import errors, permissions
from mgmt.views.base import MgmtView, link, millis, without_none

MASK = "********"


class UserInfoView(MgmtView):
    required_permissions = {"GET": []}

    def get(self, request: Request) -> Response:
        return Response(
            {
                "tenant": settings.GOOSEBIT_TENANTS[0],
                "username": request.user.get_username(),
                "permissions": permissions.held_by(request.user),
            }
        )


def _config_value(request: Request, item: device_selectors.TenantSetting, *, reveal: bool) -> dict[str, Any]:
    value = MASK if item.secret and item.value and not reveal else item.value
    return without_none(
        {
            "value": value,
            "global": item.is_global,
            "createdAt": millis(item.created_at),
            "createdBy": item.created_by or None,
            "lastModifiedAt": millis(item.last_modified_at),
            "lastModifiedBy": item.last_modified_by or None,
            "_links": {"self": link(request, "system-config", item.key)},
        }
    )


def _may_reveal(request: Request) -> bool:
    return permissions.holds(request.user, "READ_GATEWAY_SECURITY_TOKEN")


def _setting(key: str) -> device_selectors.TenantSetting:
    try:
        return device_selectors.tenant_setting_get(key=key)
    except NotFound as exc:
        raise errors.config_key_invalid(exc.message) from None


class SystemConfigsView(MgmtView):
    required_permissions = {"GET": ["READ_TENANT_CONFIGURATION"], "PUT": ["TENANT_CONFIGURATION"]}

    def get(self, request: Request) -> Response:
        reveal = _may_reveal(request)
        items = device_selectors.tenant_settings_list()
        return Response({item.key: _config_value(request, item, reveal=reveal) for item in items})

    def put(self, request: Request) -> Response:
        values = self.body_object(request)
        if not values:
            raise errors.bad_request("send a JSON object mapping configuration keys to their values")
        try:
            device_services.tenant_settings_update(values=dict(values), user=request.user.get_username())
        except NotFound as exc:
            raise errors.config_key_invalid(exc.message) from None
        except InvalidInput as exc:
            raise errors.config_value_invalid(exc.message) from None
        reveal = _may_reveal(request)
        return Response({key: _config_value(request, _setting(key), reveal=reveal) for key in values})


class SystemConfigView(MgmtView):
    required_permissions = {
        "GET": ["READ_TENANT_CONFIGURATION"],
        "PUT": ["TENANT_CONFIGURATION"],
        "DELETE": ["TENANT_CONFIGURATION"],
    }

    def get(self, request: Request, key: str) -> Response:
        return Response(_config_value(request, _setting(key), reveal=_may_reveal(request)))

    def put(self, request: Request, key: str) -> Response:
        body = self.body_object(request)
        if "value" not in body:
            raise errors.bad_request('send {"value": ...}')
        _setting(key)
        try:
            device_services.tenant_setting_set(key=key, value=body["value"], user=request.user.get_username())
        except InvalidInput as exc:
            raise errors.config_value_invalid(exc.message) from None
        return Response(_config_value(request, _setting(key), reveal=_may_reveal(request)))

    def delete(self, request: Request, key: str) -> Response:
        _setting(key)
        device_services.tenant_setting_reset(key=key, user=request.user.get_username())
        return Response(status=204)
