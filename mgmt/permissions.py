"""hawkBit's permissions, granted by our Django model permissions.

hawkBit checks named permissions (READ_TARGET, CREATE_SOFTWARE_MODULE, ...); our users and groups
hold Django model permissions, the same ones the admin and /api/v1 check. Each hawkBit
permission below is held by a user who holds every Django permission it maps to, so one grant in
the admin opens the same operations everywhere. /rest/v1/userinfo lists the hawkBit permissions a
user holds, computed from this table.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from mgmt import errors

# hawkBit permission -> the Django permissions that grant it.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "READ_TARGET": ("devices.view_device",),
    "CREATE_TARGET": ("devices.add_device",),
    "UPDATE_TARGET": ("devices.change_device",),
    "DELETE_TARGET": ("devices.delete_device",),
    "READ_TARGET_SECURITY_TOKEN": ("devices.view_device", "devices.view_device_token"),
    "READ_SOFTWARE_MODULE": ("software.view_softwaremodule",),
    "CREATE_SOFTWARE_MODULE": ("software.add_softwaremodule",),
    "UPDATE_SOFTWARE_MODULE": ("software.change_softwaremodule",),
    "DELETE_SOFTWARE_MODULE": ("software.delete_softwaremodule",),
    "READ_SOFTWARE_MODULE_ARTIFACT": ("software.view_softwaremodule", "software.view_artifact"),
    "READ_SOFTWARE_MODULE_TYPE": ("software.view_softwaremoduletype",),
    "CREATE_SOFTWARE_MODULE_TYPE": ("software.add_softwaremoduletype",),
    "UPDATE_SOFTWARE_MODULE_TYPE": ("software.change_softwaremoduletype",),
    "DELETE_SOFTWARE_MODULE_TYPE": ("software.delete_softwaremoduletype",),
    "READ_DISTRIBUTION_SET": ("software.view_software",),
    "CREATE_DISTRIBUTION_SET": ("software.add_software",),
    "UPDATE_DISTRIBUTION_SET": ("software.change_software",),
    "DELETE_DISTRIBUTION_SET": ("software.delete_software",),
    # Reading the types stays with reading releases (everyone who reads a release needs them).
    "READ_DISTRIBUTION_SET_TYPE": ("software.view_software",),
    "CREATE_DISTRIBUTION_SET_TYPE": ("software.add_distributionsettype",),
    "UPDATE_DISTRIBUTION_SET_TYPE": ("software.change_distributionsettype",),
    "DELETE_DISTRIBUTION_SET_TYPE": ("software.delete_distributionsettype",),
    "READ_ROLLOUT": ("rollouts.view_rollout",),
    "CREATE_ROLLOUT": ("rollouts.add_rollout",),
    "UPDATE_ROLLOUT": ("rollouts.change_rollout",),
    "DELETE_ROLLOUT": ("rollouts.delete_rollout",),
    "HANDLE_ROLLOUT": ("rollouts.change_rollout",),
    # Approving is changing the rollout; the four eyes (not its creator) are the service's rule.
    "APPROVE_ROLLOUT": ("rollouts.change_rollout",),
    "READ_TENANT_CONFIGURATION": ("devices.view_tenantconfiguration",),
    "TENANT_CONFIGURATION": ("devices.change_tenantconfiguration",),
    "READ_GATEWAY_SECURITY_TOKEN": ("devices.change_tenantconfiguration",),
}


def holds(user: Any, permission: str) -> bool:
    """Whether the user holds the hawkBit permission (KeyError for a name not in the table)."""
    return bool(user and user.is_authenticated and user.has_perms(PERMISSIONS[permission]))


def held_by(user: Any) -> list[str]:
    """Every hawkBit permission the user holds, in the table's order."""
    return [name for name in PERMISSIONS if holds(user, name)]


class HawkbitPermission(BasePermission):
    """Checks the view's ``required_permissions[method]``: every named hawkBit permission.

    A method the view does not list is refused (fail closed); ``[]`` means any signed-in user.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else (request.method or "")
        if not hasattr(view, method.lower()):
            return True  # DRF answers 405 for a method the view does not have
        required = getattr(view, "required_permissions", {}).get(method)
        if required is None:
            raise errors.insufficient_permission(f"{request.method} is not allowed here")
        missing = [name for name in required if not holds(request.user, name)]
        if missing:
            raise errors.insufficient_permission(f"this needs the permission {', '.join(missing)}")
        return True
