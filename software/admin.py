"""Software in the admin: add by upload or URL (through the services), view, delete."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin

from software import services
from software.exceptions import SoftwareError
from software.models import Software


class SoftwareAddForm(forms.ModelForm):
    """Creates the software while validating, so parser errors appear on the form itself."""

    package = forms.FileField(required=False, help_text="A .swu or .raucb file.")
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
        cleaned = super().clean()
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


@admin.register(Software)
class SoftwareAdmin(admin.ModelAdmin):
    list_display = ["filename", "version", "image_format", "size", "signed", "source", "created"]
    list_filter = ["image_format", "signed", "compatibility"]
    search_fields = ["filename", "version", "sha1", "sha256"]
    ordering = ["-created", "-pk"]
    # The URL field itself may hold a password: only its masked form is ever displayed.
    detail_fields = [
        "version",
        "image_format",
        "filename",
        "source",
        "size",
        "sha1",
        "md5",
        "sha256",
        "signed",
        "compatibility",
        "metadata",
        "created",
    ]

    @admin.display(description="source")
    def source(self, software: Software) -> str:
        return software.masked_url if software.is_remote else "uploaded"

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
