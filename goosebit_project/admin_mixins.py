"""Admin behaviour shared by the fleet's ModelAdmins (devices, software, rollouts).

Kept in the project package rather than in one app's admin, so no app's admin imports another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from rollouts.models import Action

if TYPE_CHECKING:
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class RefuseHiddenActionsMixin(_ModelAdminBase):
    """The admin hides bulk actions a user may not run; this refuses them (403) when posted
    anyway, where Django would only redirect with "No action selected". Shared by the fleet's
    ModelAdmins (devices, software, rollouts)."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            allowed = self.get_actions(request)
            if any(name and name not in allowed for name in request.POST.getlist("action")):
                raise PermissionDenied
        return super().changelist_view(request, extra_context)


class HistoryGoesWithItsOwnerMixin(_ModelAdminBase):
    """Update history is read-only (nobody may delete an action by hand), yet deleting a device
    deletes its actions, and a rollout or software with actions is protected: the permission that
    counts is the one on the owner, so a missing one on actions must not block or hide that."""

    def get_deleted_objects(
        self, objs: Sequence[Any] | QuerySet[Any], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Action._meta.verbose_name)
        return deleted, counts, perms_needed, protected
