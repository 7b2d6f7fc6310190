from django.contrib import admin

from lib.admin import AuditedAdmin
from moderation.models import AuditEvent, Queue


@admin.register(Queue)
class QueueAdmin(AuditedAdmin):
    list_display = [
        "name",
        "slug",
        "order",
        "categories",
        "involves_child",
        "sla_minutes",
        "is_active",
    ]
    list_editable = []
    ordering = ["order", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, for everyone, through every door."""

    list_display = [
        "created_at",
        "actor_label",
        "verb",
        "object_type",
        "object_id",
        "case_id",
        "ip",
    ]
    list_filter = ["verb"]
    search_fields = ["actor_label", "object_id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
