from django.contrib import admin

from devices.models import Device, Hardware


@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    list_display = ["model", "revision"]
    search_fields = ["model", "revision"]
    ordering = ["model", "revision"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "controller_id",
        "name",
        "hardware",
        "sw_version",
        "update_mode",
        "feed",
        "state",
        "progress",
        "last_seen",
        "last_ip",
    ]
    list_filter = ["state", "update_mode", "feed", "hardware"]
    search_fields = ["controller_id", "name", "sw_version", "last_ip"]
    list_select_related = ["hardware"]
    readonly_fields = ["state", "progress", "last_seen", "last_ip", "attributes", "created", "updated"]
    autocomplete_fields = ["hardware"]
    raw_id_fields = ["assigned_software"]
    ordering = ["controller_id"]
    show_full_result_count = False
