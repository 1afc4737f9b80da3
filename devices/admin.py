"""The operator's device screens: the fleet list, bulk actions, and each device's page with its
live update log.

Everything that changes a device goes through devices.services; this module only turns forms
and clicks into service calls and service errors into messages.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split
from django.views.decorators.debug import sensitive_post_parameters

from devices import display, selectors, services
from devices.models import Device, DeviceTag, Hardware
from devices.services import tags as tag_services
from goosebit_project.admin_mixins import (
    BulkTagActionsMixin,
    HistoryGoesWithItsOwnerMixin,
    RefuseHiddenActionsMixin,
)
from goosebit_project.lib.errors import DomainError, InvalidInput
from goosebit_project.lib.tokens import MAX_TOKEN_LENGTH
from goosebit_project.lib.versions import Version, versions_equal
from rollouts import selectors as rollout_selectors
from rollouts import services as rollout_services
from rollouts.forms import OPTION_FORM_FIELDS, DeploymentOptionsFormMixin, initial_from
from rollouts.models import Action, DeviceFilter, Rollout
from rollouts.options import DeploymentOptions
from rollouts.selectors.device_queries import device_query_compile, queryable
from software.models import Software

ACTION_TEMPLATES = "admin/devices/device/"
# States in which the list shows a progress bar under the badge.
BUSY_STATES = (Device.State.PENDING, Device.State.RUNNING, Device.State.CANCELING, Device.State.ERROR)


def _whole_number(raw: str | None) -> int | None:
    """A non-negative id from a query parameter, None when absent or not a number."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def plural(count: int, singular: str = "device", many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def software_label(software: Software) -> str:
    return f"{software.version} — {software.name} ({software.kind})"


def by_version(items: list[Software]) -> list[Software]:
    return sorted(items, key=lambda software: (Version(software.version), software.created), reverse=True)


# The mixin calls ModelAdmin methods; type checkers see that base, Python sees a plain mixin.
@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    list_display = ["model", "revision", "device_link"]
    search_fields = ["model", "revision"]
    ordering = ["model", "revision"]

    @admin.display(description="Devices")
    def device_link(self, obj: Hardware) -> str:
        url = reverse("admin:devices_device_changelist") + f"?hardware__id__exact={obj.pk}"
        return format_html('<a href="{}">Show devices</a>', url)


# --- list filters -----------------------------------------------------------------------------


class _SelectorFilter(admin.SimpleListFilter):
    """A filter whose buckets and query live in devices.selectors (the dashboard links use them too)."""

    buckets: tuple = ()

    def select(self, devices, value: str):
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return self.buckets

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        try:
            return self.select(queryset, value)
        except ValueError as error:
            raise IncorrectLookupParameters(error) from None


class PresenceFilter(_SelectorFilter):
    title = "polling"
    parameter_name = "presence"
    buckets = selectors.PRESENCE_CHOICES

    def select(self, devices, value: str):
        return selectors.devices_with_presence(devices=devices, presence=value)


class FailedFilter(_SelectorFilter):
    title = "failed updates"
    parameter_name = "failed"
    buckets = rollout_selectors.FAILED_CHOICES

    def select(self, devices, value: str):
        return rollout_selectors.devices_with_failures(devices=devices, failed=value)


class RolloutFilter(admin.SimpleListFilter):
    """Devices a rollout targets: ``?rollout=<id>``, or one number of its statistics with
    ``?rollout=<id>:<bucket>`` (succeeded, failed, not_started, …; the rollout pages link here).
    """

    title = "rollout"
    parameter_name = "rollout"

    def lookups(self, request, model_admin):
        rollouts = Rollout.objects.order_by("-created", "-id").only("pk", "name")[:25]
        return [(str(rollout.pk), rollout.name) for rollout in rollouts]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        rollout_id, _, bucket = value.partition(":")
        rollout = (
            Rollout.objects.select_related("software").filter(pk=int(rollout_id)).first()
            if rollout_id.isdigit()
            else None
        )
        if rollout is None or (bucket and bucket not in rollout_selectors.ROLLOUT_BUCKETS):
            raise IncorrectLookupParameters(f"rollout filter {value!r}")
        return rollout_selectors.devices_in_rollout(devices=queryset, rollout=rollout, bucket=bucket or None)


class SavedFilterFilter(admin.SimpleListFilter):
    """Devices a saved filter (rollouts.DeviceFilter) matches: ``?saved_filter=<id>``, so bulk
    actions apply to exactly those devices."""

    title = "saved filter"
    parameter_name = "saved_filter"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name)
            for pk, name in DeviceFilter.objects.order_by("name").values_list("pk", "name")[:50]
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        saved = DeviceFilter.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if saved is None:
            raise IncorrectLookupParameters(f"saved filter {value!r}")
        try:
            return queryable(queryset).filter(device_query_compile(query=saved.query))
        except InvalidInput as error:
            raise IncorrectLookupParameters(error.message) from None


class InstalledSoftwareFilter(admin.SimpleListFilter):
    """Devices that run a software: ``?installed_software=<id>`` (the software list links here).

    Shown in the sidebar only while active (there may be hundreds of packages to choose from).
    """

    title = "installed software"
    parameter_name = "installed_software"

    def lookups(self, request, model_admin):
        value = self.value()
        software = Software.objects.filter(pk=value).first() if value and value.isdigit() else None
        return [(value, software.version)] if software else []

    def has_output(self) -> bool:
        # Applied (and shown) whenever the parameter is given, so an unknown id is an error
        # rather than a silently unfiltered list.
        return self.value() is not None

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not self.lookup_choices:
            raise IncorrectLookupParameters(f"installed software filter {value!r}")
        return queryset.filter(installed_action__software_id=int(value))


# --- forms ------------------------------------------------------------------------------------


class DeviceForm(DeploymentOptionsFormMixin, forms.ModelForm):
    new_token = forms.CharField(
        label="New token",
        required=False,
        max_length=MAX_TOKEN_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 40}),
        help_text="The device sends it as <code>Authorization: TargetToken …</code>. It is stored "
        "encrypted. Leave empty to keep the current token; a new device then gets a generated one "
        "when device authentication is on in strict mode.",
    )
    clear_token = forms.BooleanField(label="Remove the token", required=False)

    class Meta:
        model = Device
        fields = [
            "controller_id",
            "name",
            "update_mode",
            "feed",
            "assigned_software",
            "assigned_confirmation_required",
        ]
        labels = {"assigned_confirmation_required": "Confirmation required"}
        help_texts = {
            "assigned_confirmation_required": "Assigned mode, with the confirmation flow on "
            "(GOOSEBIT_CONFIRMATION_FLOW): the update waits until the device confirms it.",
            "feed": "Rollout mode: the device gets the software of the newest rollout of this feed.",
            "assigned_software": "Assigned mode: only software compatible with the device's hardware "
            "is listed, highest version first (all software while it has not reported its hardware: "
            "compatibility is then not checked).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial.update(initial_from(DeploymentOptions.from_json(self.instance.assignment_options)))
        field = cast("forms.ModelChoiceField[Software] | None", self.fields.get("assigned_software"))
        if field is not None:
            # A deleted release is offered only to the device that has it assigned already.
            software = Software.objects.filter(Q(deleted=False) | Q(pk=self.instance.assigned_software_id))
            if self.instance.pk:
                hardware_id = self.instance.hardware_id
                # Without reported hardware nothing can be checked: every software is offered.
                software = software.filter(compatibility=hardware_id) if hardware_id else software
            field.queryset = software
            field.choices = [("", "---------")] + [
                (s.pk, software_label(s)) for s in by_version(list(software))
            ]

    def clean_controller_id(self) -> str:
        try:
            return services.device_validate_controller_id(controller_id=self.cleaned_data["controller_id"])
        except DomainError as error:
            raise forms.ValidationError(error.message) from None

    def clean(self):
        data = cast(dict[str, Any], super().clean())
        mode = data.get("update_mode")
        if mode:
            device = (
                self.instance if self.instance.pk else Device(controller_id=data.get("controller_id", ""))
            )
            try:
                rollout_services.device_validate_configuration(
                    device=device,
                    update_mode=mode,
                    feed=data.get("feed", ""),
                    assigned_software=data.get("assigned_software"),
                )
            except DomainError as error:
                field = "feed" if mode == Device.UpdateMode.ROLLOUT else "assigned_software"
                self.add_error(field if field in self.fields else None, error.message)
            if mode == Device.UpdateMode.ASSIGNED and "action_type" in self.fields:
                data["deployment_options"] = self.deployment_options(data)
        if data.get("new_token"):
            if data.get("clear_token"):
                self.add_error("clear_token", "Either set a new token or remove it, not both.")
            try:
                data["new_token"] = services.device_validate_token(token=data["new_token"])
            except DomainError as error:
                self.add_error("new_token", error.message)
        return data


class AssignSoftwareForm(DeploymentOptionsFormMixin, forms.Form):
    software = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Software")
    confirmation_required = forms.BooleanField(
        required=False,
        initial=True,
        label="Confirmation required",
        help_text="With the confirmation flow on, each device's update waits until the device confirms it.",
    )

    def clean(self):
        data = cast(dict[str, Any], super().clean())
        data["deployment_options"] = self.deployment_options(data)
        return data

    def __init__(self, *args, software: list[Software], **kwargs):
        super().__init__(*args, **kwargs)
        # Declared fields live in base_fields (the form metaclass takes them off the class), so
        # the name is free on instances; the stubs still see the class attribute.
        self.software = {item.pk: item for item in software}  # type: ignore[assignment]
        cast(forms.TypedChoiceField, self.fields["software"]).choices = [
            (item.pk, software_label(item)) for item in software
        ]

    def clean_software(self) -> Software:
        return self.software[self.cleaned_data["software"]]  # type: ignore[index]  # see __init__


class FeedForm(forms.Form):
    feed = forms.CharField(
        max_length=255,
        widget=forms.TextInput(attrs={"list": "gb-feeds", "autofocus": True}),
        help_text="Devices follow the newest rollout of this feed that fits their hardware.",
    )

    def clean_feed(self) -> str:
        try:
            return services.device_validate_feed(feed=self.cleaned_data["feed"])
        except DomainError as error:
            raise forms.ValidationError(error.message) from None


# --- the device list --------------------------------------------------------------------------


class DeviceChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Targets for the page only, in a fixed number of queries (not one per row).
        self.result_list = list(self.result_list)
        targets = rollout_selectors.targets_for_devices(devices=self.result_list, include_held=True)
        for device in self.result_list:
            device.target = targets.get(device.pk)


@admin.register(Device)
class DeviceAdmin(
    RefuseHiddenActionsMixin, BulkTagActionsMixin, HistoryGoesWithItsOwnerMixin, admin.ModelAdmin
):
    form = DeviceForm
    list_display = [
        "controller_id",
        "name",
        "hardware",
        "installed",
        "target",
        "mode",
        "state_badge",
        "last_seen_display",
        "last_ip",
    ]
    list_display_links = ["controller_id"]
    list_filter = [
        "state",
        PresenceFilter,
        FailedFilter,
        "update_mode",
        "feed",
        ("hardware", admin.RelatedOnlyFieldListFilter),
        ("tags", admin.RelatedOnlyFieldListFilter),
        RolloutFilter,
        SavedFilterFilter,
        InstalledSoftwareFilter,
    ]
    search_fields = [
        "controller_id",
        "name",
        "last_ip",
        "sw_version",
        "assigned_software__version",
        "hardware__model",
        "attributes",
    ]
    search_help_text = (
        "Device id, name, IP address (v4 or v6), installed or assigned version, board, or any "
        "attribute value. Search one attribute with key=value, e.g. hw_revision=2."
    )
    list_select_related = ["hardware", "assigned_software"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["controller_id"]
    actions = [
        "assign_software",
        "put_in_feed",
        "follow_latest",
        "pin",
        "unpin",
        "retry_failed",
        "force_update",
        "cancel_updates",
        "rotate_tokens",
        "add_tag",
        "remove_tag",
        "delete_devices",
    ]
    tag_model = DeviceTag
    tag_get_or_create = staticmethod(tag_services.device_tag_get_or_create)
    tag_assign = staticmethod(tag_services.device_tag_assign_devices)
    tag_unassign = staticmethod(tag_services.device_tag_unassign_devices)
    tag_queryset_keyword = "devices"

    # --- columns ---

    @admin.display(description="Installed", ordering="sw_version")
    def installed(self, obj: Device) -> str:
        return obj.sw_version or display.DASH

    @admin.display(description="Target")
    def target(self, obj: Device) -> str:
        target = getattr(obj, "target", None)
        if target is None:
            return display.DASH
        source = f"rollout {target.rollout.name}" if target.rollout else target.reason
        if target.held and target.rollout is not None:
            source += f" ({display.rollout_hold(target.rollout, target.group)})"
        if versions_equal(target.software.version, obj.sw_version):
            return format_html('<span title="installed ({})">{} ✓</span>', source, target.software.version)
        return format_html('<strong>{}</strong><div class="gb-sub">{}</div>', target.software.version, source)

    @admin.display(description="Updates", ordering="update_mode")
    def mode(self, obj: Device) -> str:
        label = display.UPDATE_MODE_SHORT.get(obj.update_mode, obj.update_mode)
        if obj.update_mode == Device.UpdateMode.ROLLOUT:
            return format_html('{}<div class="gb-sub">feed {}</div>', label, obj.feed)
        return label

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: Device) -> str:
        if obj.progress is None or obj.state not in BUSY_STATES:
            return display.device_state_badge(obj)
        return format_html("{}<div>{}</div>", display.device_state_badge(obj), display.device_progress(obj))

    @admin.display(description="Last seen", ordering="last_seen")
    def last_seen_display(self, obj: Device) -> str:
        return display.last_seen(obj)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "assigned_software":
            # A plain select: DeviceForm lists only compatible software; the add/edit/delete
            # shortcuts of the admin's related-object widget would lead away from the device.
            return db_field.formfield(**kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_changelist(self, request, **kwargs):
        return DeviceChangeList

    def get_search_results(self, request, queryset, search_term):
        """The stock search, plus ``key=value`` terms that match one attribute's value."""
        plain, attribute_terms = [], []
        for term in smart_split(search_term):
            key, sep, value = term.partition("=")
            if sep and key and value and key.replace("_", "").replace("-", "").replace(".", "").isalnum():
                attribute_terms.append((key, value.strip("\"'")))
            else:
                plain.append(term)
        for index, (key, value) in enumerate(attribute_terms):
            alias = f"attribute_{index}"
            queryset = queryset.alias(**{alias: KT(f"attributes__{key}")}).filter(
                **{f"{alias}__icontains": value}
            )
        return super().get_search_results(request, queryset, " ".join(plain))

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Replaced by delete_devices, which also works for "select all" over thousands of devices.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Devices", **(extra_context or {})})

    # --- bulk actions ---

    def _action_page(
        self, request, queryset, *, action: str, title: str, template: str, **context
    ) -> TemplateResponse:
        """An intermediate page that posts back to the list with the same selection."""
        count = queryset.count()
        return TemplateResponse(
            request,
            ACTION_TEMPLATES + template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "action_name": action,
                "count": count,
                "count_label": plural(count),
                "sample": list(queryset.select_related("hardware").order_by("controller_id")[:10]),
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across") == "1",
                **context,
            },
        )

    def _error(self, request, error: DomainError) -> None:
        self.message_user(request, error.message, messages.ERROR)

    @admin.action(description="Assign software…", permissions=["change"])
    def assign_software(self, request, queryset):
        choices = rollout_selectors.software_compatible_with_all(devices=queryset)
        form = AssignSoftwareForm(request.POST if "apply" in request.POST else None, software=choices)
        if form.is_bound and form.is_valid():
            software = form.cleaned_data["software"]
            try:
                changed = rollout_services.devices_assign_software(
                    devices=queryset,
                    software=software,
                    confirmation_required=form.cleaned_data["confirmation_required"],
                    options=form.cleaned_data["deployment_options"],
                )
            except DomainError as error:
                return self._error(request, error)
            self.message_user(
                request,
                f"Assigned {software.version} to {plural(changed)}; they update on their next poll.",
                messages.SUCCESS,
            )
            waiting = queryset.filter(state=Device.State.WAIT_FOR_CONFIRMATION).count()
            if waiting:
                self.message_user(
                    request,
                    f"{plural(waiting)} must confirm the update first (the confirmation flow is on); "
                    "turn on auto-confirm on a device's page to confirm in its name.",
                    messages.INFO,
                )
            unchecked = queryset.filter(hardware__isnull=True).count()
            if unchecked:
                self.message_user(
                    request,
                    f"{plural(unchecked)} {'has' if unchecked == 1 else 'have'} not reported hardware: "
                    f"the compatibility of {software.version} with {'it' if unchecked == 1 else 'them'} "
                    "was not checked.",
                    messages.WARNING,
                )
            return None
        without_hardware = queryset.filter(hardware__isnull=True).count()
        boards = list(Hardware.objects.filter(devices__in=queryset.order_by().values("pk")).distinct())
        return self._action_page(
            request,
            queryset,
            action="assign_software",
            title="Assign software",
            template="action_assign_software.html",
            form=form,
            without_hardware=without_hardware,
            boards=boards,
        )

    @admin.action(description="Put in a feed (rollout mode)…", permissions=["change"])
    def put_in_feed(self, request, queryset):
        form = FeedForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            feed = form.cleaned_data["feed"]
            changed = rollout_services.devices_set_feed(devices=queryset, feed=feed)
            self.message_user(
                request, f"{plural(changed)} now follow the rollouts of feed “{feed}”.", messages.SUCCESS
            )
            return None
        return self._action_page(
            request,
            queryset,
            action="put_in_feed",
            title="Put devices in a feed",
            template="action_put_in_feed.html",
            form=form,
            feeds=rollout_selectors.feeds_in_use(),
        )

    @admin.action(description="Follow the latest compatible software", permissions=["change"])
    def follow_latest(self, request, queryset):
        changed = rollout_services.devices_set_latest(devices=queryset)
        self.message_user(request, f"{plural(changed)} now follow the latest compatible software.")

    @admin.action(description="Pin (stop offering updates)", permissions=["change"])
    def pin(self, request, queryset):
        changed = rollout_services.devices_pin(devices=queryset)
        self.message_user(request, f"Pinned {plural(changed)}: they get no updates until unpinned.")

    @admin.action(description="Unpin (back to their feed)", permissions=["change"])
    def unpin(self, request, queryset):
        changed = rollout_services.devices_unpin(devices=queryset)
        skipped = queryset.count() - changed
        note = f" {plural(skipped)} were not pinned and stay as they are." if skipped else ""
        self.message_user(request, f"Unpinned {plural(changed)}: they follow their feed again.{note}")

    @admin.action(description="Retry failed updates", permissions=["change"])
    def retry_failed(self, request, queryset):
        changed = rollout_services.devices_retry_failed(devices=queryset)
        if not changed:
            self.message_user(request, "None of the selected devices has a failed update.", messages.WARNING)
            return
        self.message_user(request, f"{plural(changed)} will retry on their next poll.", messages.SUCCESS)

    @admin.action(description="Force update (reinstall the target)", permissions=["change"])
    def force_update(self, request, queryset):
        changed = rollout_services.devices_force_update(devices=queryset)
        self.message_user(request, f"{plural(changed)} will be offered their target on the next poll.")

    @admin.action(description="Cancel running updates…", permissions=["change"])
    def cancel_updates(self, request, queryset):
        if "apply" in request.POST:
            canceled = rollout_services.devices_cancel_updates(devices=queryset)
            self.message_user(
                request,
                f"Canceled {plural(canceled, 'update')}. Devices that already started are asked to "
                "stop on their next poll.",
                messages.SUCCESS if canceled else messages.WARNING,
            )
            return None
        active = queryset.filter(
            state__in=[Device.State.PENDING, Device.State.WAIT_FOR_CONFIRMATION, Device.State.RUNNING]
        ).count()
        return self._action_page(
            request,
            queryset,
            action="cancel_updates",
            title="Cancel running updates",
            template="action_cancel_updates.html",
            active=active,
        )

    @admin.action(description="Rotate tokens…", permissions=["change"])
    def rotate_tokens(self, request, queryset):
        if "apply" in request.POST:
            pairs = services.devices_rotate_tokens(devices=queryset)
            response = TemplateResponse(
                request,
                ACTION_TEMPLATES + "tokens.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "New device tokens",
                    "opts": self.opts,
                    "pairs": pairs,
                    "csv": "\n".join(f"{device.controller_id},{token}" for device, token in pairs),
                },
            )
            # The tokens exist only in this response: keep them out of every cache.
            add_never_cache_headers(response)
            return response
        return self._action_page(
            request,
            queryset,
            action="rotate_tokens",
            title="Rotate device tokens",
            template="action_rotate_tokens.html",
        )

    @admin.action(description="Delete devices…", permissions=["delete"])
    def delete_devices(self, request, queryset):
        if "apply" in request.POST:
            deleted = services.devices_delete(devices=queryset)
            self.message_user(
                request, f"Deleted {plural(deleted)} with their update history.", messages.SUCCESS
            )
            return None
        updates = Action.objects.filter(device__in=queryset.order_by().values("pk")).count()
        return self._action_page(
            request,
            queryset,
            action="delete_devices",
            title="Delete devices",
            template="action_delete_devices.html",
            updates=updates,
        )

    # --- the device page ---

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": ["controller_id", "name"],
                        "description": "Register a device before it first polls, e.g. to give it "
                        "a token for strict device authentication. Its hardware and version come "
                        "from its own report (configData).",
                    },
                ),
                ("Updates", {"fields": ["update_mode", "feed"]}),
                ("Authentication", {"fields": ["new_token"]}),
            ]
        auth = ["token_status"]
        if self.has_change_permission(request, obj):
            auth += ["new_token", "clear_token"]
        return [
            (
                None,
                {
                    "fields": [
                        "controller_id",
                        "name",
                        "hardware",
                        "sw_version",
                        "state_badge",
                        "last_seen_display",
                        "last_ip",
                        "created",
                    ]
                },
            ),
            (
                "Updates",
                {
                    "fields": [
                        "update_mode",
                        "feed",
                        "assigned_software",
                        "assigned_confirmation_required",
                        "target_display",
                        "auto_confirm_display",
                    ]
                },
            ),
            (
                "How the assignment is offered",
                {
                    "fields": OPTION_FORM_FIELDS,
                    "description": "Assigned mode only: applies to the update of the assigned software.",
                },
            ),
            ("Authentication", {"fields": auth}),
            ("Attributes", {"fields": ["attributes_table"], "classes": ["gb-attributes"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "controller_id",
            "hardware",
            "sw_version",
            "state_badge",
            "last_seen_display",
            "last_ip",
            "created",
            "target_display",
            "auto_confirm_display",
            "token_status",
            "attributes_table",
        ]

    @admin.display(description="Auto-confirm")
    def auto_confirm_display(self, obj: Device) -> str:
        if not obj.auto_confirm:
            return "Off: updates that require confirmation wait until the device confirms them."
        parts = [f"by {obj.auto_confirm_initiator}"] if obj.auto_confirm_initiator else []
        if obj.auto_confirm_activated_at is not None:
            parts.append(f"since {timezone.localtime(obj.auto_confirm_activated_at):%Y-%m-%d %H:%M}")
        if obj.auto_confirm_remark:
            parts.append(f"remark: {obj.auto_confirm_remark}")
        return (
            "On: updates are confirmed in the device's name"
            + (f" ({'; '.join(parts)})" if parts else "")
            + "."
        )

    @admin.display(description="Target software")
    def target_display(self, obj: Device) -> str:
        target = rollout_selectors.target_for_device(device=obj, include_held=True)
        if target is None:
            if obj.update_mode == Device.UpdateMode.PINNED:
                return "None: the device is pinned."
            if obj.hardware_id is None:
                return "None until the device reports its hardware."
            return "None: nothing in this mode fits the device's hardware."
        reasons: dict[str, str] = {
            Action.Reason.ROLLOUT: "from rollout",
            Action.Reason.LATEST: "the latest compatible software",
            Action.Reason.ASSIGNED: "assigned",
        }
        why = reasons[target.reason]
        current = " (installed)" if versions_equal(target.software.version, obj.sw_version) else ""
        if target.held and target.rollout is not None:
            # Nothing is offered while the rollout is held, but the target stays visible.
            return format_html(
                '{}{} — rollout <a href="{}">{}</a> ({})',
                target.software.version,
                current,
                reverse("admin:rollouts_rollout_change", args=[target.rollout.pk]),
                target.rollout.name,
                display.rollout_hold(target.rollout, target.group),
            )
        if target.rollout is not None:
            url = reverse("admin:rollouts_rollout_change", args=[target.rollout.pk])
            return format_html(
                '{}{} — {} <a href="{}">{}</a>',
                target.software.version,
                current,
                why,
                url,
                target.rollout.name,
            )
        return format_html("{}{} — {}", target.software.version, current, why)

    @admin.display(description="Token")
    def token_status(self, obj: Device) -> str:
        if not obj.has_token:
            return (
                "No token: the device can connect only while device authentication is off or in setup mode."
            )
        reason = selectors.token_unreadable_reason(device=obj)
        if reason is not None:
            return f"A token is set. {reason}"
        return "A token is set (stored encrypted; users allowed to view device tokens can show it)."

    @admin.display(description="Reported attributes")
    def attributes_table(self, obj: Device) -> str:
        if not obj.attributes:
            return format_html(
                '<span class="gb-muted">{}</span>', "The device has not sent any attributes yet."
            )
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", sorted((str(k), str(v)) for k, v in obj.attributes.items())
        )
        return format_html('<table class="gb-kv">{}</table>', rows)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            current = rollout_selectors.action_current_for_device(device=obj)
            # The newest lines, or with ?log_before=<id> (the "older lines" link without
            # JavaScript) the page before that line; then the live log shows no new lines.
            before = _whole_number(request.GET.get("log_before"))
            statuses, has_older = (
                rollout_selectors.action_statuses_before(action=current, before_id=before)
                if current
                else ([], False)
            )
            lines = [display.log_line(s) for s in statuses]
            context.update(
                log_paged_back=before is not None,
                log_has_older=has_older,
                title=obj.controller_id,
                subtitle=obj.name,
                current_action=current,
                state_tone=display.DEVICE_STATE_TONES.get(obj.state, "muted"),
                progress=display.device_progress_parts(obj),
                rollback=rollout_selectors.action_rolled_back_for_device(device=obj),
                status_tone=display.ACTION_STATUS_TONES.get(current.status, "muted") if current else "",
                log_lines=lines,
                last_line_id=lines[-1]["id"] if lines else 0,
                log_url=reverse("admin:devices_device_log", args=[obj.pk]),
                history=rollout_selectors.action_history_for_device(device=obj),
                can_change_device=self.has_change_permission(request, obj),
                can_view_token=request.user.has_perm("devices.view_device_token"),
                can_view_actions=request.user.has_perm("rollouts.view_action"),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # A failing request's error report (DEBUG page, mail to ADMINS) must not show the token.
    @method_decorator(sensitive_post_parameters("new_token"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.device_create(
                controller_id=data["controller_id"],
                name=data.get("name", ""),
                feed=data.get("feed") or "default",
                token=data.get("new_token") or None,
            )
            if created.has_token and not data.get("new_token"):
                # Never the token itself: messages are stored in the session.
                self.message_user(
                    request,
                    "A token was generated for the device: use “Show token” on its page to read it.",
                    messages.INFO,
                )
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False
        rollout_services.device_configure(
            device=obj,
            name=data.get("name", ""),
            update_mode=data["update_mode"],
            feed=data.get("feed", ""),
            assigned_software=data.get("assigned_software"),
            confirmation_required=data.get("assigned_confirmation_required", True),
            options=data.get("deployment_options"),
        )
        if data["update_mode"] == Device.UpdateMode.ASSIGNED and data.get("assigned_software"):
            for warning in rollout_services.device_assignment_warnings(
                device=obj, software=data["assigned_software"]
            ):
                self.message_user(request, warning, messages.WARNING)
        if not change:
            return  # the token went with device_create
        if data.get("clear_token"):
            services.device_clear_token(device=obj)
        elif data.get("new_token"):
            services.device_set_token(device=obj, token=data["new_token"])

    # --- extra views: live log, token, update controls ---

    def get_urls(self):
        def view(func, name):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"devices_device_{name.replace('-', '_')}",
            )

        return [
            view(self.live_log_view, "log"),
            view(self.rotate_token_view, "rotate-token"),
            view(self.show_token_view, "token"),
            view(self.cancel_update_view, "cancel-update"),
            view(self.force_quit_view, "force-quit"),
            view(self.retry_view, "retry"),
            view(self.force_action_view, "force-action"),
            view(self.auto_confirm_on_view, "auto-confirm-on"),
            view(self.auto_confirm_off_view, "auto-confirm-off"),
        ] + super().get_urls()

    def _device_for(self, request: HttpRequest, object_id: int, *, change: bool) -> Device:
        allowed = (
            self.has_change_permission(request) if change else self.has_view_or_change_permission(request)
        )
        if not allowed:
            raise PermissionDenied
        return get_object_or_404(Device.objects.select_related("hardware"), pk=object_id)

    def live_log_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """New log lines of the device's current update, for the change page to poll (JSON).

        With ``?before=<id>`` instead: the page of older lines before that one ("older lines").
        """
        device = self._device_for(request, object_id, change=False)
        action = rollout_selectors.action_current_for_device(device=device)
        if "before" in request.GET:
            before = _whole_number(request.GET["before"])
            if before is None:
                return JsonResponse({"error": "before must be a whole number"}, status=400)
            older, has_older = (
                rollout_selectors.action_statuses_before(action=action, before_id=before)
                if action
                else ([], False)
            )
            return JsonResponse({"lines": [display.log_line(line) for line in older], "has_older": has_older})
        try:
            after = int(request.GET.get("after", "0"))
        except ValueError:
            return JsonResponse({"error": "after must be a whole number"}, status=400)
        lines = rollout_selectors.action_statuses_after(action=action, after_id=after) if action else []
        return JsonResponse(
            {
                "device": {
                    "state": device.state,
                    "state_label": device.get_state_display(),
                    "state_tone": display.DEVICE_STATE_TONES.get(device.state, "muted"),
                    "progress": device.progress,
                    **display.device_progress_fields(device),
                    "sw_version": device.sw_version,
                },
                "action": None
                if action is None
                else {
                    "id": action.pk,
                    "status": action.status,
                    "status_label": action.get_status_display(),
                    "status_tone": display.ACTION_STATUS_TONES.get(action.status, "muted"),
                    "progress": action.progress,
                    "active": action.is_active,
                },
                "lines": [display.log_line(line) for line in lines],
            }
        )

    def rotate_token_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        device = self._device_for(request, object_id, change=True)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": device}
        if request.method == "POST":
            token = services.device_rotate_token(device=device)
            self.log_change(request, device, "Rotated the device token.")
            response = TemplateResponse(
                request,
                ACTION_TEMPLATES + "tokens.html",
                {**context, "title": "New device token", "pairs": [(device, token)], "csv": ""},
            )
            add_never_cache_headers(response)
            return response
        return TemplateResponse(
            request, ACTION_TEMPLATES + "rotate_token.html", {**context, "title": "Generate a new token"}
        )

    def show_token_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Read the device's token again: GET asks, POST (with CSRF) shows it, never cached."""
        device = self._device_for(request, object_id, change=False)
        if not request.user.has_perm("devices.view_device_token"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": device,
            "title": "Device token",
        }
        if request.method == "POST":
            try:
                context["token"] = selectors.device_token(device=device)
            except DomainError as error:
                context["error"] = error.message
            else:
                # Who read it, for the history; never the token.
                self.log_change(request, device, "Viewed the device token.")
        response = TemplateResponse(request, ACTION_TEMPLATES + "show_token.html", context)
        add_never_cache_headers(response)
        return response

    def _device_command(self, request: HttpRequest, object_id: int, command, done: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        device = self._device_for(request, object_id, change=True)
        try:
            command(device=device)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.log_change(request, device, done)
            self.message_user(request, done, messages.SUCCESS)
        return redirect("admin:devices_device_change", device.pk)

    def cancel_update_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._device_command(
            request,
            object_id,
            rollout_services.device_cancel_update,
            "Canceled the update (a started one stops on the next poll).",
        )

    def force_quit_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._device_command(
            request,
            object_id,
            rollout_services.device_force_quit,
            "Closed the update without waiting for the device.",
        )

    def auto_confirm_on_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        def activate(*, device: Device) -> None:
            rollout_services.device_activate_auto_confirm(
                device=device, initiator=request.user.get_username(), remark="activated in the admin"
            )

        return self._device_command(
            request,
            object_id,
            activate,
            "Auto-confirm is on: updates waiting for the device's confirmation proceed.",
        )

    def auto_confirm_off_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._device_command(
            request,
            object_id,
            rollout_services.device_deactivate_auto_confirm,
            "Auto-confirm is off: later updates wait for the device to confirm them.",
        )

    def retry_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._device_command(
            request,
            object_id,
            rollout_services.device_retry,
            "The device gets its target again on its next poll.",
        )

    def force_action_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._device_command(
            request,
            object_id,
            rollout_services.device_force_action,
            "The update is forced now: the device is told so on its next poll.",
        )


@admin.register(DeviceTag)
class DeviceTagAdmin(admin.ModelAdmin):
    """Device tags: created here or through the APIs; assigned in bulk through /api/v1 and /rest/v1."""

    list_display = ["name", "description", "colour", "device_count"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "colour"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeviceTag]:
        return super().get_queryset(request).annotate(devices_tagged=Count("devices"))

    @admin.display(description="devices", ordering="devices_tagged")
    def device_count(self, tag: DeviceTag) -> int:
        return tag.devices_tagged  # type: ignore[attr-defined]


# The Tenant settings page (devices.tenant_admin) registers itself with the admin site.
from devices import tenant_admin  # noqa: E402,F401
