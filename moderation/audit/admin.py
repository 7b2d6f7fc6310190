"""Admin changes are state changes too: they go into the audit log like any other. And the audit
log itself is read-only in the admin."""

from django.contrib import admin
from django.db import models
from django.forms.models import model_to_dict

from lib.http import client_ip
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record

# Never copied into the audit log, even hashed.
SECRET_FIELDS = frozenset({"password"})


def snapshot(obj) -> dict:
    """The object's field values as JSON-safe data: many-to-many as sorted ids, no secrets."""
    values = {}
    for key, value in model_to_dict(obj).items():
        if key in SECRET_FIELDS:
            continue
        if isinstance(value, dict):
            pass  # a JSON field's object: JSON-safe already, and more readable as one
        elif isinstance(value, list | tuple | set) or hasattr(value, "all"):
            value = sorted(v.pk if isinstance(v, models.Model) else v for v in value)
        elif not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        values[key] = value
    return values


class AuditedAdmin(admin.ModelAdmin):
    """Records every add, change and delete made through the admin as an AuditEvent.

    The "after" picture is taken in save_related, once many-to-many fields (a user's groups,
    i.e. their role) have been saved too.
    """

    def save_model(self, request, obj, form, change):
        request._vigil_audit_before = snapshot(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_vigil_audit_before", {})
        after = snapshot(obj)
        if change:
            changed = {k for k in after if after[k] != before.get(k)}
            if not changed:
                return
            before = {k: before.get(k) for k in changed}
            after = {k: after[k] for k in changed}
        audit_record(
            verb=f"{obj._meta.model_name}.{'changed' if change else 'created'}",
            obj=obj,
            actor=request.user,
            before=before or None,
            after=after,
            ip=client_ip(request),
        )

    def delete_model(self, request, obj):
        audit_record(
            verb=f"{obj._meta.model_name}.deleted",
            obj=obj,
            actor=request.user,
            before=snapshot(obj),
            ip=client_ip(request),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


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
