"""Basic rollout admin: create with safety settings, start/pause/resume/stop through the services."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from goosebit_project.lib.errors import DomainError
from rollouts import selectors, services
from rollouts.models import Action, ActionStatus, Rollout

SAFETY_FIELDS = ["pause_on_failure_percent", "pause_min_results", "pause_on_failure_count", "max_parallel"]


class RolloutForm(forms.ModelForm):
    """Validates with the services' own rules so errors show on the form, not as a 500."""

    start = forms.BooleanField(
        required=False, help_text="Start at once. Otherwise the rollout is saved as a draft to start later."
    )

    class Meta:
        model = Rollout
        fields = ["name", "feed", "software", *SAFETY_FIELDS]
        help_texts = {
            "feed": "Devices following this feed (in rollout mode) receive the software.",
            "pause_on_failure_percent": "Pause once this % of finished devices failed. Empty: off.",
            "pause_min_results": "Judge the percentage only after this many devices finished.",
            "pause_on_failure_count": "Pause once this many devices failed. Empty: off.",
            "max_parallel": "At most this many devices of this rollout update at once. Empty: no limit.",
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        safety = {field: cleaned.get(field, getattr(self.instance, field)) for field in SAFETY_FIELDS}
        if all(field not in self.errors for field in SAFETY_FIELDS):
            try:
                services.rollout_validate_safety(**safety)
            except DomainError as error:
                # On the field it names: that also spares the user the model's generic
                # "constraint violated" message for the same value.
                field = next((name for name in SAFETY_FIELDS if error.message.startswith(name)), None)
                self.add_error(field, error.message)
        return cleaned


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    form = RolloutForm
    list_display = ["name", "feed", "software", "status", "progress", "pause_reason", "created"]
    list_filter = ["status", "feed"]
    search_fields = ["name", "feed", "software__version"]
    list_select_related = ["software"]
    list_per_page = 25  # each row aggregates its statistics
    raw_id_fields = ["software"]
    ordering = ["-created"]
    actions = ["start_rollouts", "pause_rollouts", "resume_rollouts", "stop_rollouts"]

    def get_fields(self, request: HttpRequest, obj: Rollout | None = None) -> list[str]:
        if obj is None:
            return ["name", "feed", "software", "start", *SAFETY_FIELDS]
        return ["name", "feed", "software", "status", "statistics", *SAFETY_FIELDS, *self._timestamps]

    _timestamps = ["pause_reason", "created", "created_by", "started_at", "paused_at", "finished_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Rollout | None = None) -> list[str]:
        if obj is None:
            return []
        # Feed and software are fixed once created; the status changes only through actions.
        return ["feed", "software", "status", "statistics", *self._timestamps]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("pause_on_failure_percent", settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT)
        initial.setdefault("pause_min_results", settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS)
        initial.setdefault("pause_on_failure_count", settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT)
        initial.setdefault("max_parallel", settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL)
        return initial

    @admin.display(description="progress")
    def progress(self, rollout: Rollout) -> str:
        stats = selectors.rollout_stats(rollout=rollout)
        return f"{stats.progress_percent}% ({stats.done}/{stats.targeted}, {stats.failed} failed)"

    @admin.display(description="statistics")
    def statistics(self, rollout: Rollout) -> str:
        stats = selectors.rollout_stats(rollout=rollout)
        return (
            f"{stats.targeted} devices targeted, {stats.progress_percent}% on {rollout.software.version}: "
            f"{stats.succeeded} succeeded, {stats.already_on_version} already on version, "
            f"{stats.failed} failed, {stats.running} running, {stats.pending} pending, "
            f"{stats.canceled} canceled, {stats.not_started} not started"
            + (f"; {stats.left} left the feed" if stats.left else "")
        )

    def save_model(self, request: HttpRequest, obj: Rollout, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        safety = {field: data[field] for field in SAFETY_FIELDS}
        if change:
            # Never obj.save(): it would write back a status the automatic pause may have changed.
            services.rollout_update(rollout=obj, name=data["name"], **safety)
            return
        rollout = services.rollout_create(
            name=data["name"],
            feed=data["feed"],
            software=data["software"],
            start=data["start"],
            created_by=request.user,
            **safety,
        )
        obj.pk = rollout.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Rollout) -> None:
        services.rollout_delete(rollout=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        for rollout in queryset:
            services.rollout_delete(rollout=rollout)

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

    @admin.action(description="Start selected draft rollouts", permissions=["change"])
    def start_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(request, queryset, "Started", lambda rollout: services.rollout_start(rollout=rollout))

    @admin.action(description="Pause selected rollouts", permissions=["change"])
    def pause_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(
            request,
            queryset,
            "Paused",
            lambda rollout: services.rollout_pause(rollout=rollout, by=request.user),
        )

    @admin.action(description="Resume selected rollouts", permissions=["change"])
    def resume_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(request, queryset, "Resumed", lambda rollout: services.rollout_resume(rollout=rollout))

    @admin.action(description="Stop selected rollouts for good", permissions=["change"])
    def stop_rollouts(self, request: HttpRequest, queryset: QuerySet[Rollout]) -> None:
        self._apply(request, queryset, "Stopped", lambda rollout: services.rollout_stop(rollout=rollout))


class ActionStatusInline(admin.TabularInline):
    model = ActionStatus
    extra = 0
    can_delete = False
    fields = ["created", "source", "channel", "execution", "finished", "progress", "code", "details"]
    readonly_fields = fields
    ordering = ["-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["id", "device", "software", "rollout", "reason", "status", "progress", "created"]
    list_filter = ["status", "reason"]
    search_fields = ["device__controller_id", "software__version", "rollout__name"]
    list_select_related = ["device", "software", "rollout"]
    raw_id_fields = ["device", "software", "rollout"]
    readonly_fields = ["created", "updated", "finished_at", "last_code"]
    inlines = [ActionStatusInline]
    ordering = ["-id"]
    show_full_result_count = False
