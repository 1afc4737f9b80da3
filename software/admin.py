"""Software in the admin: add by upload (with progress) or URL, list by version, see where each
package is used, download it, delete it when nothing depends on it.

Adding and deleting go through software.services; this module only shows the results.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from devices.models import Device
from goosebit_project.admin_mixins import HistoryGoesWithItsOwnerMixin, RefuseHiddenActionsMixin
from goosebit_project.lib.versions import Version
from rollouts.models import Rollout
from software import services
from software.downloads import serve_artifact
from software.exceptions import SoftwareError, SoftwareInUse
from software.models import Software


class SoftwareAddForm(forms.ModelForm):
    """Creates the software while validating, so parser errors appear on the form itself."""

    package = forms.FileField(
        required=False,
        help_text="A .swu or .raucb file. Version and compatible hardware are read from the package.",
        widget=forms.ClearableFileInput(attrs={"accept": ".swu,.raucb"}),
    )
    remote_url = forms.CharField(
        required=False,
        max_length=2048,
        label="or its URL",
        help_text="http(s) URL of the package; credentials in it are used but never shown.",
    )
    cache = forms.BooleanField(
        required=False,
        label="Copy a remote package into the storage",
        help_text="Otherwise devices download it from the URL.",
    )

    class Meta:
        model = Software
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cache"].initial = settings.GOOSEBIT_REMOTE_SOFTWARE_CACHE

    def clean(self):
        cleaned = cast(dict[str, Any], super().clean())
        package = cleaned.get("package")
        url = (cleaned.get("remote_url") or "").strip()
        if bool(package) == bool(url):
            raise forms.ValidationError("Upload a package file or give its URL (one of the two).")
        try:
            if package:
                self.instance = services.software_create_from_file(file=package, filename=package.name)
            else:
                self.instance = services.software_create_from_url(url=url, cache=cleaned.get("cache"))
        except SoftwareError as exc:
            self.add_error("package" if package else "remote_url", str(exc))
        return cleaned


def _count(queryset, field: str) -> Coalesce:
    """COUNT of related rows as a subquery: no JOIN + GROUP BY over the whole list."""
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")[:1]), 0)


class SoftwareChangeList(ChangeList):
    """Newest version first, by version semantics (which SQL cannot compare), unless the
    operator sorts by a column header. Fine for a software list: it holds hundreds of packages,
    not millions, so the filtered list is sorted whole and then cut into the page.
    """

    def get_results(self, request):
        super().get_results(request)
        if ORDER_VAR in self.params:
            return
        ordered = sorted(self.queryset, key=lambda s: (Version(s.version), s.created, s.pk), reverse=True)
        if (self.show_all and self.can_show_all) or not self.multi_page:
            self.result_list = ordered
        else:
            start = (self.page_num - 1) * self.list_per_page
            self.result_list = ordered[start : start + self.list_per_page]


@admin.register(Software)
class SoftwareAdmin(RefuseHiddenActionsMixin, HistoryGoesWithItsOwnerMixin, admin.ModelAdmin):
    list_display = [
        "version",
        "name",
        "image_format",
        "compatible_with",
        "size_display",
        "signed",
        "where_used",
        "created",
        "download",
    ]
    list_display_links = ["version"]
    list_filter = ["image_format", "signed", ("compatibility", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["filename", "version", "sha1", "sha256", "compatibility__model"]
    # The page is ordered by version in Python (SoftwareChangeList); "-pk" only keeps the SQL
    # stable without marking a column header as the sort.
    ordering = ["-pk"]
    list_per_page = 50
    # The URL field itself may hold a password: only its masked form is ever displayed.
    detail_fields = [
        "version",
        "image_format",
        "filename",
        "source",
        "size_display",
        "sha1",
        "md5",
        "sha256",
        "signed",
        "compatible_with",
        "where_used",
        "download",
        "metadata",
        "created",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("compatibility")
            .annotate(
                rollout_count=_count(Rollout.objects.all(), "software"),
                assigned_count=_count(Device.objects.all(), "assigned_software"),
                installed_count=_count(Device.objects.all(), "installed_action__software"),
            )
        )

    def get_changelist(self, request, **kwargs):
        return SoftwareChangeList

    # --- columns ---

    @admin.display(description="File")
    def name(self, software: Software) -> str:
        if software.is_remote:
            return format_html(
                '<span title="{}">{}</span><div class="gb-sub">remote</div>',
                software.masked_url,
                software.filename,
            )
        return software.filename

    @admin.display(description="source")
    def source(self, software: Software) -> str:
        return software.masked_url if software.is_remote else "uploaded"

    @admin.display(description="Compatible with")
    def compatible_with(self, software: Software) -> str:
        boards = sorted(
            software.compatibility.all(), key=lambda hardware: (hardware.model, hardware.revision)
        )
        if not boards:
            return format_html('<span class="gb-muted">{}</span>', "no hardware")
        return format_html_join(", ", "{}", ((str(hardware),) for hardware in boards))

    @admin.display(description="Size", ordering="size")
    def size_display(self, software: Software) -> str:
        return filesizeformat(software.size)

    @admin.display(description="Used by")
    def where_used(self, software: Software) -> str:
        links = []
        rollouts = getattr(software, "rollout_count", 0)
        installed = getattr(software, "installed_count", 0)
        assigned = getattr(software, "assigned_count", 0)
        rollout_list = reverse("admin:rollouts_rollout_changelist")
        device_list = reverse("admin:devices_device_changelist")
        if rollouts:
            links.append((f"{rollout_list}?software__id__exact={software.pk}", _plural(rollouts, "rollout")))
        if installed:
            links.append((f"{device_list}?installed_software={software.pk}", f"installed on {installed}"))
        if assigned:
            links.append(
                (f"{device_list}?assigned_software__id__exact={software.pk}", f"assigned to {assigned}")
            )
        if not links:
            return format_html('<span class="gb-muted">{}</span>', "unused")
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description="Download")
    def download(self, software: Software) -> str:
        if software.is_remote:
            return format_html('<span class="gb-muted" title="{}">{}</span>', software.masked_url, "remote")
        url = reverse("admin:software_software_download", args=[software.pk])
        return format_html('<a href="{}" download>{}</a>', url, "Download")

    # --- add, view, delete ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SoftwareAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["package", "remote_url", "cache"]
        return self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def has_change_permission(self, request, obj=None):
        # A package is immutable; a new version is a new software.
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:  # unreachable while software is read-only, kept for safety
            super().save_model(request, obj, form, change)
        # On add, SoftwareAddForm.clean() already created it through the service.

    def delete_model(self, request, obj):
        services.software_delete(software=obj)

    def delete_queryset(self, request, queryset):
        for software in queryset:
            services.software_delete(software=software)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SoftwareInUse as error:
            # Put to use between the confirmation page and the click: the service refused.
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:software_software_change", object_id)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Software", **(extra_context or {})})

    def get_urls(self):
        download = path(
            "<int:object_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="software_software_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest, object_id: int):
        """The stored package, with the same Range/ETag handling devices get."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        software = Software.objects.filter(pk=unquote(str(object_id))).first()
        if software is None or software.is_remote:
            raise Http404("no stored package with this id")
        return serve_artifact(request, software)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
