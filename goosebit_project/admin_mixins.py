"""Admin behaviour shared by the fleet's ModelAdmins (devices, software, rollouts): refused hidden
actions, history deletion, bulk tags.

Kept in the project package rather than in one app's admin, so no app's admin imports another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from goosebit_project.lib.errors import DomainError, NotAllowed, NotFound
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


class BulkTagActionsMixin(_ModelAdminBase):
    """The "Add tag…" and "Remove tag…" list actions (devices, releases): an intermediate page to
    choose or type a tag's name, then one service call for the whole selection ("select all"
    included), so the cost does not grow with the selection. Adding creates a new tag.

    Subclasses name the tag model and the app's tag services; permissions: change, and the tag's
    add permission to create one."""

    tag_model: Any
    tag_get_or_create: Any  # (*, name) -> (tag, created)
    tag_assign: Any  # (*, tag, <queryset keyword>) -> int
    tag_unassign: Any
    tag_queryset_keyword: str  # "devices" or "releases"

    def _tag_action(self, request: HttpRequest, queryset: QuerySet[Any], *, adding: bool) -> Any:
        things = self.opts.verbose_name_plural
        error = ""
        name = request.POST.get("tag_name", "") if "apply" in request.POST else None
        if name is not None:
            try:
                if adding:
                    existing = self.tag_model._default_manager.filter(name=name.strip()).exists()
                    meta = self.tag_model._meta
                    if not existing and not request.user.has_perm(f"{meta.app_label}.add_{meta.model_name}"):
                        # Tagging is a change of the devices; a new tag is an addition of its own.
                        raise NotAllowed(
                            f"there is no tag named {name.strip()!r}, and you may not create tags"
                        )
                    tag, created = type(self).tag_get_or_create(name=name)
                    changed = type(self).tag_assign(tag=tag, **{self.tag_queryset_keyword: queryset})
                    note = " (a new tag)" if created else ""
                    text = f"Tagged {changed} {things} “{tag.name}”{note}."
                else:
                    tag = self.tag_model._default_manager.filter(name=name.strip()).first()
                    if tag is None:
                        raise NotFound(f"there is no tag named {name.strip()!r}")
                    changed = type(self).tag_unassign(tag=tag, **{self.tag_queryset_keyword: queryset})
                    text = f"Removed the tag “{tag.name}” from {changed} {things}."
            except DomainError as failure:
                error = failure.message
            else:
                self.message_user(request, text, messages.SUCCESS)
                return None
        count = queryset.count()
        return TemplateResponse(
            request,
            "admin/bulk_tag.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{'Add a tag to' if adding else 'Remove a tag from'} {things}",
                "opts": self.opts,
                "action_name": "add_tag" if adding else "remove_tag",
                "count": count,
                "things": things if count != 1 else self.opts.verbose_name,
                "tags": list(self.tag_model._default_manager.order_by("name").values_list("name", flat=True)),
                "tag_name": name or "",
                "error": error,
                "adding": adding,
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across") == "1",
            },
        )

    @admin.action(description="Add tag…", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return self._tag_action(request, queryset, adding=True)

    @admin.action(description="Remove tag…", permissions=["change"])
    def remove_tag(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return self._tag_action(request, queryset, adding=False)
