from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from accounts.models import ApiToken, QueueCertification, User
from accounts.services import TokenRefused, api_token_create, api_token_revoke
from lib.http import client_ip
from moderation.audit.admin import AuditedAdmin
from moderation.audit.services import audit_record


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


class ApiTokenAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave empty for everything the user's role allows.",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "rate_limit_per_minute", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created here or with `manage.py create_api_token`; the token itself is shown
    once, on the page after creation, and never stored."""

    list_display = [
        "name",
        "user",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "lookup",
        "scopes",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    fields = readonly_fields + ["rate_limit_per_minute", "expires_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
            kwargs["fields"] = ApiTokenAddForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return self.fields if obj else ApiTokenAddForm.Meta.fields

    def save_model(self, request, obj, form, change):
        if change:
            before = {"rate_limit_per_minute": form.initial.get("rate_limit_per_minute")}
            super().save_model(request, obj, form, change)
            audit_record(
                verb="apitoken.changed",
                obj=obj,
                actor=request.user,
                before=before,
                after={
                    "rate_limit_per_minute": obj.rate_limit_per_minute,
                    "expires_at": obj.expires_at.isoformat() if obj.expires_at else None,
                },
                ip=client_ip(request),
            )
            return
        data = form.cleaned_data
        try:
            row, token = api_token_create(
                user=data["user"],
                name=data["name"],
                scopes=data["scopes"] or None,
                rate_limit_per_minute=data["rate_limit_per_minute"],
                created_by=request.user,
                expires_at=data["expires_at"],
            )
        except TokenRefused as e:
            raise ValidationError(str(e)) from None
        obj.pk = row.pk
        messages.warning(
            request,
            f"New token for {row.user}: {token} — copy it now. It is not stored and will not be "
            "shown again.",
        )

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
            return redirect(request.path)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.select_related("user"):
            api_token_revoke(token=token, revoked_by=request.user)

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: a deleted token would take its history with it.
        return False
