"""Rollouts in the admin: create with a preview of the devices reached, start/pause/resume/stop,
progress per device outcome with links to those devices, and the update history.

Every change goes through rollouts.services; the numbers come from rollouts.selectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from devices import display
from goosebit_project.admin_mixins import HistoryGoesWithItsOwnerMixin, RefuseHiddenActionsMixin
from goosebit_project.lib.errors import DomainError
from rollouts import selectors, services
from rollouts.admin_groups import UNSTARTED, RolloutGroupButtonsMixin, group_progress_summary
from rollouts.admin_rollout_form import SAFETY_FIELDS, RolloutForm, rollout_preview_context
from rollouts.forms import OPTION_FORM_FIELDS
from rollouts.models import Action, ActionStatus, Rollout

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups


@admin.register(Rollout)
class RolloutAdmin(
    RolloutGroupButtonsMixin, RefuseHiddenActionsMixin, HistoryGoesWithItsOwnerMixin, admin.ModelAdmin
):
    form = RolloutForm
    list_display = [
        "name",
        "feed_link",
        "software_version",
        "status_badge",
        "groups_column",
        "progress",
        "created",
    ]
    list_display_links = ["name"]
    list_filter = ["status", "feed"]
    search_fields = ["name", "feed", "software__version"]
    list_select_related = ["software"]
    list_per_page = 25  # each row aggregates its statistics
    ordering = ["-created"]
    actions = ["start_rollouts", "pause_rollouts", "resume_rollouts", "stop_rollouts"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "software":
            # A plain select (RolloutForm orders it by version): the related-object shortcuts
            # would lead away from the rollout being created.
            return db_field.formfield(**kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Rollout | None = None) -> _FieldGroups:
        if obj is None:
            return [
                "name",
                "feed",
                "query",
                "software",
                "description",
                "groups_mode",
                "canary_size",
                "canary_unit",
                "waves",
                "success_threshold",
                "error_threshold",
                "error_count",
                "pause_after_canary",
                "dynamic",
                "start_at",
                "start",
                "confirmation_required",
                *SAFETY_FIELDS,
                *OPTION_FORM_FIELDS,
            ]
        return [
            "name",
            "description",
            "feed",
            "query",
            "software",
            "dynamic",
            "start_at",
            "approval",
            "retry_of",
            "confirmation_required",
            "status",
            "statistics",
            "offered",
            *SAFETY_FIELDS,
            *self._timestamps,
        ]

    _timestamps = ["pause_reason", "created", "created_by", "started_at", "paused_at", "finished_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Rollout | None = None) -> list[str]:
        if obj is None:
            return []
        # Targets and software are fixed once created; the status changes only through actions;
        # the start time only until the start.
        return [
            "feed",
            "query",
            "software",
            "dynamic",
            *([] if obj.status in UNSTARTED else ["start_at"]),
            "approval",
            "retry_of",
            "confirmation_required",
            "status",
            "statistics",
            "offered",
            *self._timestamps,
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # The stubs allow only the str values of query parameters; any value is a valid initial.
        initial = cast(dict[str, Any], super().get_changeform_initial_data(request))
        initial.setdefault("pause_on_failure_percent", settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT)
        initial.setdefault("pause_min_results", settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS)
        initial.setdefault("pause_on_failure_count", settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT)
        initial.setdefault("max_parallel", settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL)
        return initial

    # --- columns ---

    @admin.display(description="Feed", ordering="feed")
    def feed_link(self, rollout: Rollout) -> str:
        url = reverse("admin:devices_device_changelist") + f"?feed={rollout.feed}"
        return format_html('<a href="{}" title="Devices of this feed">{}</a>', url, rollout.feed)

    @admin.display(description="Software", ordering="software__version")
    def software_version(self, rollout: Rollout) -> str:
        return rollout.software.version

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rollout]:
        return super().get_queryset(request).prefetch_related("groups")  # the list's group column

    @admin.display(description="Status", ordering="status")
    def status_badge(self, rollout: Rollout) -> str:
        if rollout.start_at and rollout.status in UNSTARTED:
            return format_html(
                '{}<div class="gb-reason">starts at {}</div>',
                display.rollout_status_badge(rollout),
                date_format(timezone.localtime(rollout.start_at), "DATETIME_FORMAT"),
            )
        if rollout.pause_reason:
            return format_html(
                '{}<div class="gb-reason">{}</div>',
                display.rollout_status_badge(rollout),
                rollout.pause_reason,
            )
        return display.rollout_status_badge(rollout)

    @admin.display(description="Groups")
    def groups_column(self, rollout: Rollout) -> str:
        return group_progress_summary(rollout, list(rollout.groups.all()))

    @admin.display(description="Approval")
    def approval(self, rollout: Rollout) -> str:
        if not rollout.approval_decided_by:
            return "waiting" if rollout.status == Rollout.Status.WAITING_FOR_APPROVAL else "-"
        verdict = "denied" if rollout.status == Rollout.Status.APPROVAL_DENIED else "approved"
        return f"{verdict} by {rollout.approval_decided_by}" + (
            f": {rollout.approval_remark}" if rollout.approval_remark else ""
        )

    @admin.display(description="Progress")
    def progress(self, rollout: Rollout) -> str:
        return display.rollout_summary(rollout, selectors.rollout_stats(rollout=rollout))

    @admin.display(description="Offered as")
    def offered(self, rollout: Rollout) -> str:
        """Action type, weight and maintenance window: fixed once created, like feed and software."""
        return display.offered(rollout)

    @admin.display(description="statistics")
    def statistics(self, rollout: Rollout) -> str:
        stats = selectors.rollout_stats(rollout=rollout)
        return (
            f"{stats.targeted} devices targeted, {stats.progress_percent}% on {rollout.software.version}: "
            f"{stats.succeeded} succeeded, {stats.already_on_version} already on version, "
            f"{stats.failed} failed, {stats.rolled_back} rolled back, {stats.running} in progress, "
            f"{stats.pending} waiting, {stats.canceled} canceled, {stats.not_started} not started"
            + (f"; {stats.left} left the feed" if stats.left else "")
        )

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Rollouts", **(extra_context or {})})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if add and form.preview_context:
            context.update(form.preview_context, confirm_token=form.confirm_token, will_start=form.will_start)
        if obj is not None and obj.pk:
            stats = selectors.rollout_stats(rollout=obj)
            context.update(
                title=obj.name,
                subtitle=f"{obj.software.version} to feed {obj.feed}",
                stats=stats,
                summary=display.rollout_summary(obj, stats),
                can_change_rollout=self.has_change_permission(request, obj),
                targeted_url=display.rollout_devices_url(obj),
                **self.group_context(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Rollout, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        safety = {field: data[field] for field in SAFETY_FIELDS}
        if change:
            # Never obj.save(): it would write back a status the automatic pause may have changed.
            # The start time only while it can change (a read-only field is not in the data).
            schedule = {"start_at": data["start_at"]} if "start_at" in form.fields else {}
            services.rollout_update(
                rollout=obj, name=data["name"], description=data.get("description", ""), **safety, **schedule
            )
            return
        rollout = services.rollout_create(
            **cast(RolloutForm, form).create_arguments(data),
            start=data["start"],
            created_by=cast(User, request.user),  # the admin lets in only signed-in staff
        )
        obj.pk = rollout.pk
        obj.refresh_from_db()
        obj._state.adding = False
        for warning in selectors.rollout_warnings(rollout=rollout):
            self.message_user(request, warning, messages.WARNING)
        if rollout.status == Rollout.Status.WAITING_FOR_APPROVAL:
            self.message_user(
                request,
                f"{rollout.name} waits for another operator's approval before it can start.",
                messages.WARNING,
            )

    def delete_model(self, request: HttpRequest, obj: Rollout) -> None:
        services.rollout_delete(rollout=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        for rollout in queryset:
            services.rollout_delete(rollout=rollout)

    # --- lifecycle: bulk actions ---

    def _apply(self, request: HttpRequest, queryset: QuerySet[Rollout], done: str, change: Callable) -> None:
        count = 0
        for rollout in queryset:
            try:
                change(rollout)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(
                request, f"{done} {count} rollout{'s' if count != 1 else ''}.", messages.SUCCESS
            )

    @admin.action(description="Start selected draft rollouts…", permissions=["change"])
    def start_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]):
        if "apply" in request.POST:
            self._apply(request, queryset, "Started", lambda rollout: services.rollout_start(rollout=rollout))
            return None
        drafts = list(queryset.select_related("software").order_by("-created"))
        return TemplateResponse(
            request,
            "admin/rollouts/rollout/action_start.html",
            {
                **self.admin_site.each_context(request),
                "title": "Start rollouts",
                "opts": self.opts,
                "rows": [
                    {
                        "rollout": rollout,
                        **rollout_preview_context(
                            feed=rollout.feed, software=rollout.software, exclude=rollout
                        ),
                    }
                    for rollout in drafts
                ],
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across") == "1",
            },
        )

    @admin.action(description="Pause selected rollouts", permissions=["change"])
    def pause_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(
            request,
            queryset,
            "Paused",
            lambda rollout: services.rollout_pause(rollout=rollout, by=cast(User, request.user)),
        )

    @admin.action(description="Resume selected rollouts", permissions=["change"])
    def resume_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(request, queryset, "Resumed", lambda rollout: services.rollout_resume(rollout=rollout))

    @admin.action(description="Stop selected rollouts for good", permissions=["change"])
    def stop_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(request, queryset, "Stopped", lambda rollout: services.rollout_stop(rollout=rollout))

    # --- lifecycle: buttons on a rollout's page ---

    def get_urls(self):
        def view(func, name):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"rollouts_rollout_{name}",
            )

        return [
            view(self.start_view, "start"),
            view(self.pause_view, "pause"),
            view(self.resume_view, "resume"),
            view(self.stop_view, "stop"),
            *self.group_urls(),
        ] + super().get_urls()

    def _rollout_for(self, request: HttpRequest, object_id: int) -> Rollout:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(Rollout.objects.select_related("software"), pk=object_id)

    def _transition(
        self, request: HttpRequest, rollout: Rollout, change: Callable, done: str
    ) -> HttpResponse:
        try:
            change()
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.log_change(request, rollout, done)
            self.message_user(request, f"{done}: {rollout.name}.", messages.SUCCESS)
        return redirect("admin:rollouts_rollout_change", rollout.pk)

    def _confirm_page(self, request: HttpRequest, rollout: Rollout, template: str, title: str, **context):
        return TemplateResponse(
            request,
            f"admin/rollouts/rollout/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": rollout,
                "title": title,
                **context,
            },
        )

    def start_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """GET: what starting would reach; POST: start it."""
        rollout = self._rollout_for(request, object_id)
        if request.method == "POST":
            return self._transition(
                request, rollout, lambda: services.rollout_start(rollout=rollout), "Started"
            )
        preview = rollout_preview_context(feed=rollout.feed, software=rollout.software, exclude=rollout)
        if rollout.query:
            preview.pop("preview")  # the feed's preview would overstate a query's reach
        preview["group_previews"] = [
            item.as_dict() for item in selectors.rollout_group_preview(rollout=rollout)
        ]
        return self._confirm_page(request, rollout, "confirm_start.html", f"Start {rollout.name}?", **preview)

    def stop_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """GET: what stopping means; POST: stop it for good."""
        rollout = self._rollout_for(request, object_id)
        if request.method == "POST":
            return self._transition(
                request, rollout, lambda: services.rollout_stop(rollout=rollout), "Stopped"
            )
        stats = selectors.rollout_stats(rollout=rollout)
        return self._confirm_page(request, rollout, "confirm_stop.html", f"Stop {rollout.name}?", stats=stats)

    def pause_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rollout = self._rollout_for(request, object_id)
        return self._transition(
            request,
            rollout,
            lambda: services.rollout_pause(rollout=rollout, by=cast(User, request.user)),
            "Paused",
        )

    def resume_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rollout = self._rollout_for(request, object_id)
        return self._transition(request, rollout, lambda: services.rollout_resume(rollout=rollout), "Resumed")


class ActionStatusInline(admin.TabularInline):
    model = ActionStatus
    extra = 0
    can_delete = False
    fields = ["created", "source", "channel", "execution", "finished", "progress", "code", "details"]
    readonly_fields = fields  # type: ignore[assignment]  # names only; the stubs read `fields` as groups
    ordering = ["-id"]

    def has_add_permission(self, request: HttpRequest, obj: Action | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Action | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Action | None = None) -> bool:
        return False


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    """The update history of the whole fleet: one row per attempt to update one device.

    Read-only for everyone, superusers too: actions are created and ended by the update decision
    and the devices' feedback (rollouts.services); a hand-made one would block its device and a
    hand-edited one would falsify the record. History goes only with its device.
    """

    list_display = [
        "id",
        "device",
        "software",
        "rollout",
        "reason",
        "action_type",
        "status_badge",
        "progress",
        "created",
    ]
    list_filter = ["status", "reason", "action_type", ("rollout", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["device__controller_id", "software__version", "rollout__name"]
    list_select_related = ["device", "software", "rollout"]
    raw_id_fields = ["device", "software", "rollout"]
    readonly_fields = ["created", "updated", "finished_at", "last_code"]
    inlines = [ActionStatusInline]
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, action: Action) -> str:
        return display.action_status_badge(action)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Action | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Action | None = None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Update history", **(extra_context or {})})


# Saved device filters (hawkBit's target filters) have their own admin module.
from rollouts import admin_device_filters  # noqa: E402, F401
