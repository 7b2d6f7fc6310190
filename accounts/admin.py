from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import QueueCertification, User
from lib.admin import AuditedAdmin
from lib.http import client_ip
from moderation.audit import audit_record


def audit_certification(request, cert, what: str) -> None:
    audit_record(
        verb=f"queuecertification.{what}",
        obj=cert,
        actor=request.user,
        after={
            "user": cert.user.get_username(),
            "queue": cert.queue.slug,
            "expires_at": cert.expires_at.isoformat(),
        },
        ip=client_ip(request),
    )


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class CertificationInline(admin.TabularInline):
    model = QueueCertification
    fk_name = "user"
    extra = 0
    fields = ["queue", "granted_at", "expires_at", "granted_by"]
    readonly_fields = ["granted_by"]


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    list_display = ["username", "email", "role", "is_active", "last_login"]
    list_filter = ["groups", "is_active"]
    inlines = [CertificationInline]

    def save_formset(self, request, form, formset, change):
        # Certifications granted here record who granted them.
        for cert in formset.save(commit=False):
            created = cert.pk is None
            if cert.granted_by_id is None:
                cert.granted_by = request.user
            cert.save()
            audit_certification(request, cert, "created" if created else "changed")
        for cert in formset.deleted_objects:
            audit_certification(request, cert, "deleted")
            cert.delete()
        formset.save_m2m()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        # Only a superuser grants superuser status or permissions outside the roles.
        hidden = {"is_superuser", "user_permissions"}
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in fieldsets
        ]

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            audit_record(
                verb="user.password_changed",
                obj=user,
                actor=request.user,
                after={"username": user.get_username()},
                ip=client_ip(request),
            )
        return response

    @admin.display(description="Role")
    def role(self, obj):
        return obj.role or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(QueueCertification)
class QueueCertificationAdmin(AuditedAdmin):
    list_display = ["user", "queue", "granted_at", "expires_at", "granted_by"]
    list_filter = ["queue"]
    list_select_related = ["user", "queue", "granted_by"]
    readonly_fields = ["granted_by"]

    def save_model(self, request, obj, form, change):
        if obj.granted_by_id is None:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)
