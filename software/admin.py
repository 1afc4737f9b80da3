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
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from devices.models import Device, Hardware
from goosebit_project.admin_mixins import (
    BulkTagActionsMixin,
    HistoryGoesWithItsOwnerMixin,
    RefuseHiddenActionsMixin,
)
from goosebit_project.lib.versions import Version
from rollouts.models import Rollout
from software import services
from software.downloads import serve_artifact
from software.exceptions import SoftwareError, SoftwareInUse
from software.models import (
    Artifact,
    DistributionSetType,
    ReleaseTag,
    Software,
    SoftwareModule,
    SoftwareModuleMetadata,
    SoftwareModuleType,
)


class SoftwareAddForm(forms.ModelForm):
    """Creates the release while validating, so service errors appear on the form itself.

    Three sources: a package upload or URL (version and hardware from the package), a raw file
    with the version given here, or existing modules composed into a release.
    """

    package = forms.FileField(
        required=False,
        label="File",
        help_text="A .swu or .raucb package (version and hardware are read from it), or any other "
        "file when a version is given below.",
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
    compose = forms.ModelMultipleChoiceField(
        queryset=SoftwareModule.objects.select_related("type").order_by("type__key", "name", "version"),
        required=False,
        label="or compose from modules",
        help_text="A release made of existing modules (name and version below are required).",
    )
    release_name = forms.CharField(required=False, max_length=255, label="Name")
    release_version = forms.CharField(
        required=False,
        max_length=255,
        label="Version",
        help_text="For a raw file or a composed release; leave empty for packages.",
    )
    module_type = forms.ModelChoiceField(
        queryset=SoftwareModuleType.objects.order_by("key"),
        required=False,
        to_field_name="key",
        help_text="Raw file: the module type it becomes (default os).",
    )
    hardware = forms.ModelMultipleChoiceField(
        queryset=Hardware.objects.order_by("model", "revision"),
        required=False,
        help_text="Raw file or composed release: the hardware it fits.",
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
        modules = list(cleaned.get("compose") or [])
        if sum(bool(source) for source in (package, url, modules)) != 1:
            raise forms.ValidationError(
                "Upload a file, give a package URL or pick modules (one of the three)."
            )
        module_type = cleaned.get("module_type")
        try:
            if package:
                self.instance = services.software_create_from_file(
                    file=package,
                    filename=package.name,
                    version=cleaned.get("release_version"),
                    name=cleaned.get("release_name"),
                    module_type=module_type.key if module_type else None,
                    compatibility=list(cleaned.get("hardware") or []),
                )
            elif url:
                self.instance = services.software_create_from_url(url=url, cache=cleaned.get("cache"))
            else:
                self.instance = services.release_create(
                    name=cleaned.get("release_name") or "",
                    version=cleaned.get("release_version") or "",
                    modules=modules,
                    compatibility=list(cleaned.get("hardware") or []),
                )
        except SoftwareError as exc:
            field = "package" if package else "remote_url" if url else "compose"
            self.add_error(field, str(exc))
        return cleaned


class SoftwareChangeForm(forms.ModelForm):
    """Name and description always; modules and hardware while no device was offered it."""

    class Meta:
        model = Software
        fields = ["name", "description", "modules", "compatibility"]

    def clean(self):
        cleaned = cast(dict[str, Any], super().clean())
        if self.errors:
            return cleaned
        software = Software.objects.get(pk=self.instance.pk)
        changed_parts = {"modules", "compatibility"} & set(self.changed_data)
        try:
            services.release_update(
                software=software,
                name=cleaned.get("name", software.name),
                description=cleaned.get("description", software.description),
                modules=list(cleaned["modules"]) if "modules" in changed_parts else None,
                compatibility=list(cleaned["compatibility"]) if "compatibility" in changed_parts else None,
            )
        except SoftwareError as exc:
            self.add_error(None, str(exc))
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
class SoftwareAdmin(
    RefuseHiddenActionsMixin, BulkTagActionsMixin, HistoryGoesWithItsOwnerMixin, admin.ModelAdmin
):
    actions = ["add_tag", "remove_tag"]
    tag_model = ReleaseTag
    tag_get_or_create = staticmethod(services.release_tag_get_or_create)
    tag_assign = staticmethod(services.release_tag_assign_releases)
    tag_unassign = staticmethod(services.release_tag_unassign_releases)
    tag_queryset_keyword = "releases"
    list_display = [
        "version",
        "release_name",
        "formats",
        "compatible_with",
        "size_display",
        "signed_display",
        "where_used",
        "created",
        "download",
    ]
    list_display_links = ["version"]
    # Soft-deleted releases (kept for device history, never offered again) stay listed, filterable.
    list_filter = [
        ("compatibility", admin.RelatedOnlyFieldListFilter),
        ("tags", admin.RelatedOnlyFieldListFilter),
        "deleted",
        "type",
    ]
    search_fields = [
        "name",
        "version",
        "modules__name",
        "modules__artifacts__filename",
        "modules__artifacts__sha1",
        "modules__artifacts__sha256",
        "compatibility__model",
    ]
    # The page is ordered by version in Python (SoftwareChangeList); "-pk" only keeps the SQL
    # stable without marking a column header as the sort.
    ordering = ["-pk"]
    list_per_page = 50
    # The URL field itself may hold a password: only its masked form is ever displayed.
    detail_fields = [
        "version",
        "formats",
        "module_list",
        "source",
        "size_display",
        "signed_display",
        "where_used",
        "download",
        "package_metadata",
        "created",
    ]
    filter_horizontal = ["modules", "compatibility"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("compatibility", "modules__type", "modules__artifacts")
            .annotate(
                rollout_count=_count(Rollout.objects.all(), "software"),
                assigned_count=_count(Device.objects.all(), "assigned_software"),
                installed_count=_count(Device.objects.all(), "installed_action__software"),
            )
        )

    def get_changelist(self, request, **kwargs):
        return SoftwareChangeList

    # --- columns ---

    @admin.display(description="Name", ordering="name")
    def release_name(self, software: Software) -> str:
        package = software.package
        if package is not None and package.is_remote:
            return format_html(
                '<span title="{}">{}</span><div class="gb-sub">remote</div>',
                package.masked_url,
                software.name,
            )
        return software.name

    @admin.display(description="Modules")
    def module_list(self, software: Software) -> str:
        rows = []
        for module in software.modules.all():
            url = reverse("admin:software_softwaremodule_change", args=[module.pk])
            files = ", ".join(artifact.filename for artifact in module.artifacts.all()) or "no artifacts"
            rows.append((url, module.type.key, module.name, module.version, files))
        if not rows:
            return format_html('<span class="gb-muted">{}</span>', "no modules")
        return format_html_join(
            "", '<div><a href="{}">{}: {} {}</a> <span class="gb-sub">{}</span></div>', rows
        )

    @admin.display(description="Package metadata")
    def package_metadata(self, software: Software) -> str:
        package = software.package
        return str(package.metadata) if package is not None else "-"

    @admin.display(description="Format")
    def formats(self, software: Software) -> str:
        package = software.package
        if package is not None:
            return package.get_image_format_display()
        count = len(software.modules.all())
        return _plural(count, "module")

    @admin.display(description="Signed", boolean=True)
    def signed_display(self, software: Software) -> bool | None:
        package = software.package
        return package.signed if package is not None else None

    @admin.display(description="source")
    def source(self, software: Software) -> str:
        package = software.package
        if package is None:
            return "composed of modules"
        return package.masked_url if package.is_remote else "uploaded"

    @admin.display(description="Compatible with")
    def compatible_with(self, software: Software) -> str:
        boards = sorted(
            software.compatibility.all(), key=lambda hardware: (hardware.model, hardware.revision)
        )
        if not boards:
            return format_html('<span class="gb-muted">{}</span>', "no hardware")
        return format_html_join(", ", "{}", ((str(hardware),) for hardware in boards))

    @admin.display(description="Size")
    def size_display(self, software: Software) -> str:
        total = sum(artifact.size for module in software.modules.all() for artifact in module.artifacts.all())
        return filesizeformat(total)

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
        package = software.package
        if package is None:
            return format_html('<span class="gb-muted">{}</span>', "per module")
        if package.is_remote:
            return format_html('<span class="gb-muted" title="{}">{}</span>', package.masked_url, "remote")
        url = reverse("admin:software_software_download", args=[software.pk])
        return format_html('<a href="{}" download>{}</a>', url, "Download")

    # --- add, view, delete ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = SoftwareAddForm if obj is None else SoftwareChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    add_fields = [
        "package",
        "remote_url",
        "cache",
        "compose",
        "release_name",
        "release_version",
        "module_type",
        "hardware",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return [
            "name",
            "description",
            *self.detail_fields[:3],
            "modules",
            "compatibility",
            *self.detail_fields[3:],
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if not self.has_change_permission(request, obj):
            return ["name", "description", "modules", "compatibility", *self.detail_fields]
        return self.detail_fields

    def save_model(self, request, obj, form, change):
        # Both forms already saved through the services in clean(): SoftwareAddForm created the
        # release, SoftwareChangeForm applied release_update.
        return None

    def save_related(self, request, form, formsets, change):
        return None

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
        package = software.package if software is not None else None
        if package is None or package.is_remote:
            raise Http404("no stored package with this id")
        return serve_artifact(request, package)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class ModuleMetadataInline(admin.TabularInline):
    model = SoftwareModuleMetadata
    extra = 1
    fields = ["key", "value", "target_visible"]


class ArtifactInline(admin.TabularInline):
    """The module's files, read-only; a file is added with the upload field of the module form."""

    model = Artifact
    extra = 0
    fields = ["filename", "size_display", "image_format", "sha256", "download"]
    readonly_fields = ["filename", "size_display", "image_format", "sha256", "download"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Size")
    def size_display(self, artifact: Artifact) -> str:
        return filesizeformat(artifact.size)

    @admin.display(description="Download")
    def download(self, artifact: Artifact) -> str:
        if artifact.is_remote:
            return format_html('<span class="gb-muted" title="{}">{}</span>', artifact.masked_url, "remote")
        url = reverse(
            "admin:software_softwaremodule_artifact_download", args=[artifact.module_id, artifact.pk]
        )
        return format_html('<a href="{}" download>{}</a>', url, "Download")


class SoftwareModuleForm(forms.ModelForm):
    add_artifact = forms.FileField(
        required=False,
        label="Add an artifact",
        help_text="Any file; it is hashed (sha1, md5, sha256) while it is stored.",
    )

    class Meta:
        model = SoftwareModule
        fields = ["type", "name", "version", "vendor", "description", "encrypted"]

    def clean(self):
        cleaned = cast(dict[str, Any], super().clean())
        if self.instance.pk and {"type", "name", "version", "encrypted"} & set(self.changed_data):
            try:
                services.module_check_unlocked(module=SoftwareModule.objects.get(pk=self.instance.pk))
            except SoftwareError as exc:
                self.add_error(None, str(exc))
        return cleaned


@admin.register(SoftwareModule)
class SoftwareModuleAdmin(RefuseHiddenActionsMixin, admin.ModelAdmin):
    form = SoftwareModuleForm
    list_display = ["name", "version", "type", "artifact_count", "release_list", "created"]
    list_filter = ["type", "deleted"]
    search_fields = ["name", "version", "vendor", "artifacts__filename", "artifacts__sha256"]
    inlines = [ModuleMetadataInline, ArtifactInline]
    ordering = ["-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("type").prefetch_related("artifacts", "releases")

    @admin.display(description="Artifacts")
    def artifact_count(self, module: SoftwareModule) -> int:
        return len(module.artifacts.all())

    @admin.display(description="Releases")
    def release_list(self, module: SoftwareModule) -> str:
        releases = [
            (reverse("admin:software_software_change", args=[release.pk]), str(release))
            for release in module.releases.all()
        ]
        if not releases:
            return format_html('<span class="gb-muted">{}</span>', "none")
        return format_html_join(", ", '<a href="{}">{}</a>', releases)

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.module_create(
                type_key=obj.type.key,
                name=obj.name,
                version=obj.version,
                vendor=obj.vendor,
                description=obj.description,
                encrypted=obj.encrypted,
            )
            obj.pk = created.pk
            obj.created = created.created
        else:
            super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("add_artifact")
        if upload:
            try:
                services.module_add_artifact(module=obj, file=upload, filename=upload.name)
            except SoftwareError as exc:
                self.message_user(request, f"The artifact was not added: {exc}", messages.ERROR)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Artifact:
            return super().save_formset(request, form, formset, change)
        # Artifacts are read-only rows here; the only change is a deletion, done by the service.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for artifact_form in formset.forms:
            artifact = artifact_form.instance
            if artifact.pk and artifact_form.cleaned_data.get("DELETE"):
                try:
                    services.artifact_delete(artifact=artifact)
                    formset.deleted_objects.append(artifact)
                except SoftwareError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
        return None

    def delete_model(self, request, obj):
        services.module_delete(module=obj)

    def delete_queryset(self, request, queryset):
        for module in queryset:
            services.module_delete(module=module)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SoftwareInUse as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:software_softwaremodule_change", object_id)

    def get_urls(self):
        download = path(
            "<int:module_id>/artifacts/<int:artifact_id>/download/",
            self.admin_site.admin_view(self.artifact_download_view),
            name="software_softwaremodule_artifact_download",
        )
        return [download, *super().get_urls()]

    def artifact_download_view(self, request: HttpRequest, module_id: int, artifact_id: int):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        artifact = Artifact.objects.filter(pk=artifact_id, module_id=module_id).first()
        if artifact is None or artifact.is_remote:
            raise Http404("no stored artifact with this id")
        return serve_artifact(request, artifact)


@admin.register(DistributionSetType)
class DistributionSetTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "description", "deleted"]
    search_fields = ["key", "name"]
    filter_horizontal = ["mandatory_types", "optional_types"]

    def get_readonly_fields(self, request, obj=None):
        return ["key", "deleted"] if obj is not None else ["deleted"]


@admin.register(SoftwareModuleType)
class SoftwareModuleTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "max_assignments", "description", "deleted"]
    search_fields = ["key", "name"]

    def get_readonly_fields(self, request, obj=None):
        # The key is the chunk part devices see; renaming it would silently change deployments.
        return ["key"] if obj is not None else []


@admin.register(ReleaseTag)
class ReleaseTagAdmin(admin.ModelAdmin):
    """Release tags: created here or through the APIs; assigned in bulk through /api/v1 and /rest/v1."""

    list_display = ["name", "description", "colour", "release_count"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "colour"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReleaseTag]:
        return super().get_queryset(request).annotate(releases_tagged=Count("releases"))

    @admin.display(description="releases", ordering="releases_tagged")
    def release_count(self, tag: ReleaseTag) -> int:
        return tag.releases_tagged  # type: ignore[attr-defined]
