"""Rollout groups in the admin: the create form's targets and "canary, then waves" part, the group
editor of a rollout not started yet, one progress bar per group, and the buttons of approval,
"start the next group now" and retry.

The rules are the services' (rollouts.services.groups, lifecycle): this module turns form input
into GroupSpecs and the services' InvalidSetting(field, problem) back into errors on the form
field that field names.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.safestring import SafeString

from devices import display
from goosebit_project.lib.errors import DomainError
from rollouts import selectors, services
from rollouts.models import Rollout, RolloutGroup
from rollouts.services import GroupSpec
from rollouts.services.groups import MAX_GROUP_NAME_LENGTH

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

UNSTARTED = (Rollout.Status.WAITING_FOR_APPROVAL, Rollout.Status.APPROVAL_DENIED, Rollout.Status.DRAFT)

GROUPS_CANARY = "canary"
GROUPS_NONE = "none"
UNIT_DEVICES = "devices"
UNIT_PERCENT = "percent"
UNIT_REST = "rest"

# The default shape: 5 % of the devices (at least one) first, then the rest in 2 waves; a group
# succeeds when all its devices run the software and stops the rollout at 20 % failures.
DEFAULT_CANARY_SIZE = 5
DEFAULT_WAVES = 2
DEFAULT_SUCCESS_THRESHOLD = 100
DEFAULT_ERROR_THRESHOLD = 20

_GROUP_FIELD = re.compile(r"^groups\[(\d+)\]\.(\w+)$")


def _datetime_field(**kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        **kwargs,
    )


class RolloutTargetsAndGroupsMixin(forms.Form):
    """The create form's query, description, dynamic, start time and groups (one default form)."""

    query = forms.CharField(
        label="Device query",
        required=False,
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional RSQL, e.g. <code>hwRevision==2 and tag==lab</code>. With a feed: the "
        "feed's devices matching it; without a feed: every matching device in rollout mode.",
    )
    description = forms.CharField(required=False, max_length=512, widget=forms.Textarea(attrs={"rows": 2}))
    dynamic = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Devices that come to match after the start join the last group.",
    )
    start_at = _datetime_field(
        label="Start at",
        required=False,
        help_text="Optional: the rollout starts by itself at this time (admin time zone).",
    )
    groups_mode = forms.ChoiceField(
        label="Groups",
        required=False,
        initial=GROUPS_CANARY,
        choices=[
            (GROUPS_CANARY, "A canary, then the rest in waves"),
            (GROUPS_NONE, "No groups (everyone at once)"),
        ],
        widget=forms.RadioSelect,
    )
    canary_size = forms.FloatField(
        label="Canary size",
        required=False,
        min_value=0.01,
        initial=DEFAULT_CANARY_SIZE,
        help_text=f"Default {DEFAULT_CANARY_SIZE} % of the devices (rounded up: never none).",
    )
    canary_unit = forms.ChoiceField(
        label="Canary size in",
        required=False,
        initial=UNIT_PERCENT,
        choices=[(UNIT_PERCENT, "% of the devices"), (UNIT_DEVICES, "devices")],
    )
    waves = forms.IntegerField(
        label="Waves after the canary",
        required=False,
        min_value=1,
        max_value=services.MAX_GROUPS - 1,
        initial=DEFAULT_WAVES,
        help_text="The remaining devices in this many equal waves.",
    )
    success_threshold = forms.IntegerField(
        label="Success threshold (%)",
        required=False,
        min_value=1,
        max_value=100,
        initial=DEFAULT_SUCCESS_THRESHOLD,
        help_text="The next group starts once this % of a group's devices run the software.",
    )
    error_threshold = forms.IntegerField(
        label="Error threshold (%)",
        required=False,
        min_value=1,
        max_value=100,
        initial=DEFAULT_ERROR_THRESHOLD,
        help_text="The rollout pauses once this % of a group's devices failed. Empty: off.",
    )
    error_count = forms.IntegerField(
        label="Error count",
        required=False,
        min_value=1,
        help_text="The rollout pauses once this many devices of a group failed. Empty: off.",
    )
    pause_after_canary = forms.BooleanField(
        label="Pause after the canary",
        required=False,
        help_text="Wait for an operator to resume once the canary succeeded.",
    )

    def group_specs(self, cleaned: dict[str, Any]) -> list[GroupSpec] | None:
        """The groups the form asks for; None for the service's single group of everyone."""
        if cleaned.get("groups_mode") != GROUPS_CANARY:
            return None
        size = cleaned.get("canary_size")
        if size is None:
            self.add_error("canary_size", "Give the canary's size, or choose “no groups”.")
            return None
        by_count = cleaned.get("canary_unit") == UNIT_DEVICES
        if by_count and size != int(size):
            self.add_error("canary_size", "A canary of devices is a whole number.")
            return None
        try:
            return services.groups_canary(
                canary_count=int(size) if by_count else None,
                canary_percentage=None if by_count else size,
                waves=cleaned.get("waves") or 1,
                success_threshold=cleaned.get("success_threshold") or DEFAULT_SUCCESS_THRESHOLD,
                error_threshold=cleaned.get("error_threshold"),
                error_count=cleaned.get("error_count"),
                pause_after_canary=bool(cleaned.get("pause_after_canary")),
            )
        except services.InvalidSetting as error:
            self.add_error(canary_error_field(error.field), error.problem)
            return None


def canary_error_field(field: str) -> str | None:
    """The create form's field for a service's InvalidSetting.field (None: the whole form)."""
    match = _GROUP_FIELD.match(field)
    if match is None:
        return {"amountGroups": "waves", "query": "query", "start_at": "start_at", "feed": "feed"}.get(field)
    return {
        "target_count": "canary_size",
        "target_percentage": "canary_size",
        "success_threshold": "success_threshold",
        "error_threshold": "error_threshold",
        "error_count": "error_count",
        "query": "query",
    }.get(match.group(2))


# --- the group editor of a rollout not started yet --------------------------------------------


_NARROW = {"style": "width: 5em"}


class GroupForm(forms.Form):
    name = forms.CharField(max_length=MAX_GROUP_NAME_LENGTH, widget=forms.TextInput(attrs={"size": 14}))
    query = forms.CharField(
        required=False, max_length=4096, label="Device query", widget=forms.TextInput(attrs={"size": 18})
    )
    size = forms.FloatField(
        required=False, min_value=0.01, label="Size", widget=forms.NumberInput(attrs=_NARROW)
    )
    # The extra row's initials are what its widgets show, so an untouched row counts as unchanged.
    unit = forms.ChoiceField(
        label="in",
        initial=UNIT_REST,
        choices=[(UNIT_DEVICES, "devices"), (UNIT_PERCENT, "% of the rest"), (UNIT_REST, "all the rest")],
    )
    success_threshold = forms.IntegerField(
        min_value=1, max_value=100, initial=100, label="Success (%)", widget=forms.NumberInput(attrs=_NARROW)
    )
    success_action = forms.ChoiceField(
        choices=RolloutGroup.SuccessAction.choices,
        initial=RolloutGroup.SuccessAction.NEXT_GROUP,
        label="Then",
    )
    error_threshold = forms.IntegerField(
        required=False, min_value=1, max_value=100, label="Error (%)", widget=forms.NumberInput(attrs=_NARROW)
    )
    error_count = forms.IntegerField(
        required=False, min_value=1, label="Error count", widget=forms.NumberInput(attrs=_NARROW)
    )

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())
        unit, size = cleaned.get("unit"), cleaned.get("size")
        if unit in (UNIT_DEVICES, UNIT_PERCENT) and size is None:
            self.add_error("size", "Give the group's size, or choose “all the rest”.")
        elif unit == UNIT_DEVICES and size is not None and size != int(size):
            self.add_error("size", "A number of devices is a whole number.")
        return cleaned

    def spec(self) -> GroupSpec:
        data = self.cleaned_data
        unit, size = data["unit"], data.get("size")
        return GroupSpec(
            name=data["name"],
            query=data.get("query") or "",
            target_count=int(size) if unit == UNIT_DEVICES and size is not None else None,
            target_percentage=size if unit == UNIT_PERCENT else None,
            success_threshold=data["success_threshold"],
            success_action=data["success_action"],
            error_threshold=data.get("error_threshold"),
            error_count=data.get("error_count"),
        )


class BaseGroupFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self._kept():
            raise forms.ValidationError("A rollout needs at least one group.")

    def _kept(self) -> list[GroupForm]:
        """The filled-in rows not ticked for deletion (an untouched extra row is empty)."""
        return [
            cast(GroupForm, form)
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def specs(self) -> list[GroupSpec]:
        return [form.spec() for form in self._kept()]


GroupFormSet = forms.formset_factory(
    GroupForm, formset=BaseGroupFormSet, extra=1, can_delete=True, max_num=services.MAX_GROUPS
)
GROUPS_PREFIX = "groups"


def group_initial(group: RolloutGroup) -> dict[str, Any]:
    size: float | int | None
    if group.target_count is not None:
        unit, size = UNIT_DEVICES, group.target_count
    elif group.target_percentage is not None:
        # 50, not 50.0; a share like 33.33 stays as it is.
        percentage = group.target_percentage
        unit, size = UNIT_PERCENT, int(percentage) if percentage == int(percentage) else percentage
    else:
        unit, size = UNIT_REST, None
    return {
        "name": group.name,
        "query": group.query,
        "size": size,
        "unit": unit,
        "success_threshold": group.success_threshold,
        "success_action": group.success_action,
        "error_threshold": group.error_threshold,
        "error_count": group.error_count,
    }


def group_formset(rollout: Rollout, data: Any = None) -> BaseGroupFormSet:
    initial = [group_initial(group) for group in rollout.groups.all()]
    return cast(BaseGroupFormSet, GroupFormSet(data, initial=initial, prefix=GROUPS_PREFIX))


# --- words and progress ------------------------------------------------------------------------


def group_size_words(group: RolloutGroup) -> str:
    if group.target_count is not None:
        return f"{group.target_count} device{'s' if group.target_count != 1 else ''}"
    if group.target_percentage is not None:
        return f"{group.target_percentage:g} % of the devices left"
    return "all the devices left"


def group_condition_words(group: RolloutGroup) -> str:
    """A group's success and error conditions as an operator reads them."""
    then = (
        "the rollout pauses"
        if group.success_action == RolloutGroup.SuccessAction.PAUSE
        else "the next group starts"
    )
    words = f"When {group.success_threshold} % of its devices run the software, {then}."
    errors = []
    if group.error_threshold is not None:
        errors.append(f"{group.error_threshold} % of its devices failed")
    if group.error_count is not None:
        errors.append(f"{group.error_count} of its devices failed")
    if errors:
        words += f" The rollout pauses once {' or '.join(errors)}."
    return words + (f" Only devices matching {group.query}." if group.query else "")


def rollout_group_rows(rollout: Rollout) -> list[dict[str, Any]]:
    """Each group with its bar and numbers: two queries (groups, statistics) whatever the fleet;
    before the start, plus the sizing of the groups as planned (two queries per group)."""
    groups = (
        selectors.rollout_groups_frozen_or_planned(rollout)
        if rollout.status in UNSTARTED
        else list(rollout.groups.all())
    )
    stats = selectors.rollout_group_stats(rollout=rollout, groups=groups)
    rows = []
    for group in groups:
        group_stats = stats.get(group.position) or selectors.GroupStats(position=group.position)
        rows.append(
            {
                "group": group,
                "stats": group_stats,
                "bar": display.rollout_bar(group_stats),
                "size": group_size_words(group),
                "conditions": group_condition_words(group),
            }
        )
    return rows


def group_progress_summary(rollout: Rollout, groups: list[RolloutGroup]) -> str:
    """ "group 2 of 3" for the list: the running (or erroneous) group, else how far it got."""
    if not groups:
        return ""
    total = len(groups)
    current = next(
        (g for g in groups if g.status in (RolloutGroup.Status.RUNNING, RolloutGroup.Status.ERROR)), None
    )
    if current is not None:
        position = groups.index(current) + 1
        suffix = " (error)" if current.status == RolloutGroup.Status.ERROR else ""
        return f"group {position} of {total}{suffix}"
    finished = sum(1 for g in groups if g.status == RolloutGroup.Status.FINISHED)
    if finished:
        return f"{finished} of {total} group{'s' if total != 1 else ''} done"
    return f"{total} group{'s' if total != 1 else ''}"


# --- buttons -------------------------------------------------------------------------------------


class RolloutGroupButtonsMixin:
    """Approve, deny, edit the groups, start the next group now and retry: POST only, each with
    the change permission (_rollout_for), every refusal a message and a redirect, never a 500."""

    def group_urls(self) -> list:
        from django.urls import path

        admin = cast("ModelAdmin", self)

        def view(func, name):
            return path(
                f"<int:object_id>/{name}/", admin.admin_site.admin_view(func), name=f"rollouts_rollout_{name}"
            )

        return [
            view(self.approve_view, "approve"),
            view(self.deny_view, "deny"),
            view(self.next_group_view, "next_group"),
            view(self.retry_view, "retry"),
            view(self.groups_view, "groups"),
        ]

    def _posted_rollout(self, request: HttpRequest, object_id: int) -> Rollout | HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return self._rollout_for(request, object_id)  # type: ignore[attr-defined]

    def _run(self, request: HttpRequest, object_id: int, change, done: str) -> HttpResponse:
        rollout = self._posted_rollout(request, object_id)
        if isinstance(rollout, HttpResponse):
            return rollout
        return self._transition(request, rollout, lambda: change(rollout), done)  # type: ignore[attr-defined]

    def approve_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        remark = request.POST.get("remark", "")
        return self._run(
            request,
            object_id,
            lambda rollout: services.rollout_approve(
                rollout=rollout, by=cast(User, request.user), remark=remark
            ),
            "Approved",
        )

    def deny_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        remark = request.POST.get("remark", "")
        return self._run(
            request,
            object_id,
            lambda rollout: services.rollout_deny(
                rollout=rollout, by=cast(User, request.user), remark=remark
            ),
            "Denied",
        )

    def next_group_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda rollout: services.rollout_trigger_next_group(rollout=rollout),
            "Started the next group",
        )

    def retry_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        rollout = self._posted_rollout(request, object_id)
        if isinstance(rollout, HttpResponse):
            return rollout
        admin = cast("ModelAdmin", self)
        try:
            retry = services.rollout_retry(rollout=rollout, created_by=cast(User, request.user))
        except DomainError as error:
            admin.message_user(request, error.message, messages.ERROR)
            return redirect("admin:rollouts_rollout_change", rollout.pk)
        admin.log_addition(request, retry, f"Retry of the failed devices of {rollout.name}")
        admin.message_user(
            request,
            f"Created {retry.name}: a draft of the failed devices; start it when ready.",
            messages.SUCCESS,
        )
        return redirect("admin:rollouts_rollout_change", retry.pk)

    def groups_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST the group editor: the groups replace the old ones through rollout_update."""
        rollout = self._posted_rollout(request, object_id)
        if isinstance(rollout, HttpResponse):
            return rollout
        admin = cast("ModelAdmin", self)
        formset = group_formset(rollout, request.POST)
        if not formset.is_valid():
            problems = [str(error) for error in formset.non_form_errors()] + [
                f"group {index + 1}, {name}: {' '.join(errors)}"
                for index, form in enumerate(formset.forms)
                for name, errors in form.errors.items()
            ]
            admin.message_user(request, "The groups were not saved: " + "; ".join(problems), messages.ERROR)
            return redirect("admin:rollouts_rollout_change", rollout.pk)
        try:
            services.rollout_update(rollout=rollout, groups=formset.specs())
        except services.InvalidSetting as error:
            admin.message_user(
                request, f"The groups were not saved: {group_error_words(error)}", messages.ERROR
            )
        except DomainError as error:
            admin.message_user(request, f"The groups were not saved: {error.message}", messages.ERROR)
        else:
            admin.log_change(request, rollout, "Changed the groups")
            admin.message_user(request, f"Saved the groups of {rollout.name}.", messages.SUCCESS)
        return redirect("admin:rollouts_rollout_change", rollout.pk)

    def group_context(self, request: HttpRequest, rollout: Rollout) -> dict[str, Any]:
        unstarted = rollout.status in UNSTARTED
        context: dict[str, Any] = {"group_rows": rollout_group_rows(rollout), "groups_editable": unstarted}
        if unstarted:
            context["group_formset"] = group_formset(rollout)
            context["group_previews"] = [
                preview.as_dict() for preview in selectors.rollout_group_preview(rollout=rollout)
            ]
        context["can_retry"] = rollout.status in (
            Rollout.Status.PAUSED,
            Rollout.Status.STOPPED,
            Rollout.Status.FINISHED,
        )
        context["has_next_group"] = rollout.status == Rollout.Status.RUNNING and any(
            row["group"].status == RolloutGroup.Status.SCHEDULED for row in context["group_rows"]
        )
        context["retry_of_url"] = (
            reverse("admin:rollouts_rollout_change", args=[rollout.retry_of_id])
            if rollout.retry_of_id
            else ""
        )
        return context


def group_error_words(error: services.InvalidSetting) -> str:
    """'group 2, target_percentage: must be ...' for a service error about ``groups[1]``."""
    match = _GROUP_FIELD.match(error.field)
    if match is None:
        return error.message
    return f"group {int(match.group(1)) + 1}, {match.group(2).replace('_', ' ')} {error.problem}"


def bar_of(stats: selectors.GroupStats) -> SafeString:
    return display.rollout_bar(stats)
