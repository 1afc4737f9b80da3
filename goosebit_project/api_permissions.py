"""Django model permissions, adapted to an API whose writes are mostly object commands."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request

_VIEW = ["%(app_label)s.view_%(model_name)s"]
_CHANGE = ["%(app_label)s.change_%(model_name)s"]


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions with two changes.

    - Reads need the model's *view* permission (stock DRF lets any logged-in user read).
    - A POST on one object (``/devices/x/pin/``, ``/rollouts/3/pause/``) changes that object, so
      it needs the *change* permission; stock DRF would ask for *add*.
    """

    perms_map = {**DjangoModelPermissions.perms_map, "GET": _VIEW, "HEAD": _VIEW}

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        model = self._queryset(view).model
        method = request.method or "GET"
        if method == "POST" and getattr(view, "detail", False):
            method = "PATCH"
        return request.user.has_perms(self.get_required_permissions(method, model))
