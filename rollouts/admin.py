from django.contrib import admin

from rollouts.models import Action, ActionStatus, Rollout


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    list_display = ["name", "feed", "software", "status", "created"]
    list_filter = ["status", "feed"]
    search_fields = ["name", "feed", "software__version"]
    list_select_related = ["software"]
    readonly_fields = ["pause_reason", "paused_at", "started_at", "finished_at", "created", "updated"]
    raw_id_fields = ["software"]
    ordering = ["-created"]


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
