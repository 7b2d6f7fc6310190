"""Admin changes are state changes too: they go into the audit log like any other."""

from django.contrib import admin
from django.forms.models import model_to_dict

from lib.http import client_ip
from moderation.audit import audit_record

# Never copied into the audit log, even hashed.
SECRET_FIELDS = frozenset({"password"})


def _plain(values: dict) -> dict:
    """JSON-safe values, without secrets."""
    return {
        k: v if isinstance(v, str | int | float | bool | type(None) | list) else str(v)
        for k, v in values.items()
        if k not in SECRET_FIELDS
    }


class AuditedAdmin(admin.ModelAdmin):
    """Records every add, change and delete made through the admin as an AuditEvent."""

    def save_model(self, request, obj, form, change):
        fields = form.changed_data
        before = (
            _plain(model_to_dict(type(obj).objects.get(pk=obj.pk), fields=fields)) if change else {}
        )
        super().save_model(request, obj, form, change)
        after = _plain(model_to_dict(obj, fields=fields))
        if change:
            # Forms report fields as changed that compare equal (JSON, blank values): keep real changes.
            changed = {k for k in after if after[k] != before.get(k)}
            if not changed:
                return
            before = {k: before[k] for k in changed}
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
        before = _plain(model_to_dict(obj))
        audit_record(
            verb=f"{obj._meta.model_name}.deleted",
            obj=obj,
            actor=request.user,
            before=before,
            ip=client_ip(request),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
