from django.contrib import admin

from software.models import Software


@admin.register(Software)
class SoftwareAdmin(admin.ModelAdmin):
    list_display = ["filename", "version", "image_format", "size", "signed", "created"]
    list_filter = ["image_format", "signed", "compatibility"]
    search_fields = ["filename", "version", "sha1", "sha256"]
    readonly_fields = ["size", "sha1", "md5", "sha256", "signed", "metadata", "created"]
    filter_horizontal = ["compatibility"]
    ordering = ["-created"]
