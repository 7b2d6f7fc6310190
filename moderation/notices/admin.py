"""Reporter notices in the admin: read-only, for supervisors to see which reporters were not told
(failed after every retry) and why. Never the address: it stays in ReporterIdentity."""

from django.contrib import admin

from accounts import roles
from reports.models import ReporterNotice


@admin.register(ReporterNotice)
class ReporterNoticeAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "kind",
        "outcome",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("report__reference",)
    ordering = ("-created_at",)
    list_select_related = ("report",)
    fields = list_display
    readonly_fields = list_display

    @admin.display(description="report", ordering="report__reference")
    def reference(self, obj: ReporterNotice) -> str:
        return obj.report.reference

    def has_module_permission(self, request):
        return request.user.has_perm(roles.SUPERVISE)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(roles.SUPERVISE)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
