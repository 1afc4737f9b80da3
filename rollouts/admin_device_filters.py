"""Saved device filters in the admin: the query with a live count of the devices it matches,
the auto-assignment with its deployment options, and approve/deny when the tenant asks for it.

Every change goes through rollouts.services.filters; imported by rollouts.admin.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html

from goosebit_project.lib.errors import DomainError, InvalidInput
from rollouts import services
from rollouts.forms import DeploymentOptionsFormMixin
from rollouts.models import DeviceFilter
from rollouts.options import DeploymentOptions
from rollouts.selectors.device_queries import devices_matching

# Longest query the live count accepts (the services' own limit).
MAX_COUNT_QUERY = services.MAX_QUERY_LENGTH


class DeviceFilterForm(DeploymentOptionsFormMixin, forms.ModelForm):
    class Meta:
        model = DeviceFilter
        fields = ["name", "query", "auto_assign_software", "auto_assign_confirmation_required"]
        widgets = {"query": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField gb-device-query"})}
        help_texts = {
            "query": "RSQL over the devices, e.g. <code>feed==beta;attribute.region==eu</code>: fields "
            "controllerId, name, feed, hardware.model, hardware.revision, swVersion, updateStatus, "
            "overdue, lastControllerRequestAt, attribute.&lt;key&gt;, metadata.&lt;key&gt; (README).",
            "auto_assign_software": "Every device in rollout or latest mode that matches, now or later, "
            "gets this release at its next poll (an explicit assignment outranks it). Empty: none.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = DeploymentOptions.from_json(self.instance.auto_assign_options)
        if self.instance.pk and self.instance.auto_assign_software_id:
            window = options.maintenance_window
            self.initial.update(
                {
                    "action_type": options.action_type,
                    "forcetime": options.forcetime,
                    "weight": options.weight,
                    "maintenance_schedule": window.schedule if window else "",
                    "maintenance_duration": window.duration if window else "",
                    "maintenance_timezone": window.timezone if window else "",
                }
            )
        software = self.fields["auto_assign_software"]
        software.queryset = software.queryset.filter(deleted=False)  # type: ignore[attr-defined]

    def clean_query(self) -> str:
        query = self.cleaned_data.get("query") or ""
        try:
            devices_matching(query=query)
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None
        return query

    def clean(self) -> dict:
        cleaned = cast(dict[str, Any], super().clean())
        cleaned["deployment_options"] = self.deployment_options(cleaned)
        return cleaned


def _auto_assign_changed(obj: DeviceFilter, data: dict[str, Any]) -> bool:
    software = data.get("auto_assign_software")
    options = data.get("deployment_options") or DeploymentOptions()
    return (
        (software.pk if software else None) != obj.auto_assign_software_id
        or options.as_json() != (obj.auto_assign_options or DeploymentOptions().as_json())
        or data.get("auto_assign_confirmation_required") != obj.auto_assign_confirmation_required
    )


@admin.register(DeviceFilter)
class DeviceFilterAdmin(admin.ModelAdmin):
    form = DeviceFilterForm
    list_display = ["name", "query", "auto_assign_software", "auto_assign_status", "matching", "updated"]
    list_filter = ["auto_assign_status"]
    search_fields = ["name", "query"]
    ordering = ["name"]
    actions = ["approve_auto_assignments", "deny_auto_assignments"]
    readonly_fields = [
        "auto_assign_status",
        "auto_assign_set_by",
        "auto_assign_set_at",
        "auto_assign_decided_by",
        "auto_assign_decided_at",
        "created_by",
        "created",
        "updated",
    ]

    class Media:
        js = ["goosebit/device-query-count.js"]

    def get_fieldsets(self, request: HttpRequest, obj: DeviceFilter | None = None) -> Any:
        options = ["action_type", "forcetime", "weight", "maintenance_schedule", "maintenance_duration"]
        return [
            (None, {"fields": ["name", "query"]}),
            (
                "Auto-assignment",
                {
                    "fields": [
                        "auto_assign_software",
                        "auto_assign_confirmation_required",
                        *options,
                        "maintenance_timezone",
                        "auto_assign_status",
                        "auto_assign_set_by",
                        "auto_assign_set_at",
                        "auto_assign_decided_by",
                        "auto_assign_decided_at",
                    ]
                },
            ),
            ("History", {"fields": ["created_by", "created", "updated"]}),
        ]

    @admin.display(description="matching devices")
    def matching(self, obj: DeviceFilter) -> str:
        try:
            count = devices_matching(query=obj.query).count()
        except InvalidInput:
            return "invalid query"
        url = reverse("admin:devices_device_changelist") + f"?saved_filter={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    def save_model(
        self, request: HttpRequest, obj: DeviceFilter, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        by = request.user.get_username()
        # Never obj.save(): the services validate, record who did it and bump the target generation.
        if change:
            saved = DeviceFilter.objects.get(pk=obj.pk)
            services.device_filter_update(device_filter=saved, name=data["name"], query=data["query"], by=by)
        else:
            saved = services.device_filter_create(name=data["name"], query=data["query"], by=by)
        software = data.get("auto_assign_software")
        if _auto_assign_changed(saved, data):
            if software is None:
                services.device_filter_clear_auto_assign(device_filter=saved, by=by)
            else:
                services.device_filter_set_auto_assign(
                    device_filter=saved,
                    software=software,
                    options=data.get("deployment_options"),
                    confirmation_required=data.get("auto_assign_confirmation_required", True),
                    by=by,
                )
                if saved.auto_assign_status == DeviceFilter.AutoAssignStatus.WAITING_FOR_APPROVAL:
                    self.message_user(
                        request,
                        "The auto-assignment waits for another operator's approval.",
                        messages.WARNING,
                    )
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: DeviceFilter) -> None:
        services.device_filter_delete(device_filter=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DeviceFilter]) -> None:
        for device_filter in queryset:
            services.device_filter_delete(device_filter=device_filter)

    def _decide(self, request: HttpRequest, queryset: QuerySet[DeviceFilter], decide: Any, done: str) -> None:
        for device_filter in queryset:
            try:
                decide(device_filter=device_filter, by=request.user.get_username())
            except DomainError as error:
                self.message_user(request, f"{device_filter.name}: {error.message}", messages.ERROR)
            else:
                self.log_change(request, device_filter, done)
                self.message_user(request, f"{done}: {device_filter.name}.", messages.SUCCESS)

    @admin.action(description="Approve the selected auto-assignments (four eyes)", permissions=["change"])
    def approve_auto_assignments(self, request: HttpRequest, queryset: QuerySet[DeviceFilter]) -> None:
        self._decide(request, queryset, services.device_filter_approve, "Approved the auto-assignment")

    @admin.action(description="Deny the selected auto-assignments", permissions=["change"])
    def deny_auto_assignments(self, request: HttpRequest, queryset: QuerySet[DeviceFilter]) -> None:
        self._decide(request, queryset, services.device_filter_deny, "Denied the auto-assignment")

    # --- the live count while typing ---

    def get_urls(self) -> list:
        return [
            path("count/", self.admin_site.admin_view(self.count_view), name="rollouts_devicefilter_count")
        ] + super().get_urls()

    def count_view(self, request: HttpRequest) -> JsonResponse:
        """``{"count": n}`` for ``?q=``, or ``{"error": "<what is wrong>"}`` (400)."""
        if not (self.has_view_permission(request) and request.user.has_perm("devices.view_device")):
            raise PermissionDenied
        query = request.GET.get("q", "")
        if len(query) > MAX_COUNT_QUERY:
            return JsonResponse(
                {"error": f"the query is longer than {MAX_COUNT_QUERY} characters"}, status=400
            )
        try:
            count = devices_matching(query=query).count()
        except InvalidInput as error:
            return JsonResponse({"error": error.message}, status=400)
        return JsonResponse({"count": count})
