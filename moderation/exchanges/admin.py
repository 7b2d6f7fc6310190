"""The admin for hash exchanges (docs/exchanges.md) and for partner platforms' feed tokens
(docs/feeds.md: made here or with `manage.py create_feed_token`, shown once, revoked, never
deleted: the audit log names them)."""

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from accounts.roles import ADMINISTER
from moderation.audit.admin import AuditedAdmin
from moderation.banks.models import HashBank
from moderation.exchanges.feed_tokens import (
    FeedTokenRefused,
    feed_token_create,
    feed_token_revoke,
)
from moderation.exchanges.models import Exchange, FeedToken


class AdministratorsOnly:
    """For administrators only, by the permission the code checks (not model permissions a
    migration would have to grant)."""

    def has_module_permission(self, request):
        return request.user.has_perm(ADMINISTER)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(ADMINISTER)

    def has_add_permission(self, request):
        return request.user.has_perm(ADMINISTER)


class FeedTokenAddForm(forms.ModelForm):
    banks = forms.ModelMultipleChoiceField(
        queryset=HashBank.objects.filter(is_published=True).order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        help_text="The published banks this partner may read. Publish a bank on its own page.",
    )

    class Meta:
        model = FeedToken
        fields = ["name", "banks"]
        help_texts = {"name": "Who it is for, e.g. the partner platform's name."}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if FeedToken.objects.filter(name=name, revoked_at__isnull=True).exists():
            raise ValidationError("A feed token with this name is in use; revoke it first.")
        return name


@admin.register(FeedToken)
class FeedTokenAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["name", "bank_slugs", "created_at", "created_by", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "bank_slugs",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]

    # A token is never changed, only revoked and replaced.
    def has_revoke_permission(self, request):
        return request.user.has_perm(ADMINISTER)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("banks")

    @admin.display(description="Banks")
    def bank_slugs(self, obj):
        return ", ".join(sorted(b.slug for b in obj.banks.all()))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = FeedTokenAddForm
            kwargs["fields"] = FeedTokenAddForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else FeedTokenAddForm.Meta.fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        row, token = feed_token_create(
            name=form.cleaned_data["name"],
            banks=list(form.cleaned_data["banks"]),
            user=request.user,
        )
        obj.pk = row.pk
        messages.warning(
            request,
            f"New feed token {row.name!r}: {token} — copy it now and give it to the partner. It "
            "is not stored and will not be shown again.",
        )

    def save_related(self, request, form, formsets, change):
        pass  # the service set the banks

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except FeedTokenRefused as e:
            messages.error(request, str(e))
            return redirect(request.path)

    @admin.action(description="Revoke the selected feed tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = sum(feed_token_revoke(token=t, user=request.user) for t in queryset)
        messages.success(request, f"{revoked} feed token(s) revoked.")


class ExchangeForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="The programme's API base URL, or the feed's URL (https).",
    )

    class Meta:
        model = Exchange
        fields = [
            "name",
            "slug",
            "kind",
            "bank",
            "url",
            "options",
            "credentials_env",
            "is_enabled",
            "sync_every_minutes",
            "send_feedback",
        ]
        help_texts = {
            "options": 'What the client needs that is not secret, e.g. {"privacy_group": '
            '"1234"} for ThreatExchange, {"mode": "incremental"} for another Vigil\'s feed '
            "(docs/exchanges.md).",
            "credentials_env": "The prefix of the server's environment variables holding the "
            "credentials, e.g. VIGIL_EXCHANGE_NCMEC for VIGIL_EXCHANGE_NCMEC_USER and "
            "_PASSWORD. Never the credentials themselves.",
        }

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.startswith("https://"):
            raise ValidationError("Credentials and hash lists travel only over https.")
        return url

    def clean_options(self):
        options = self.cleaned_data["options"]
        if not isinstance(options, dict):
            raise ValidationError('An object, e.g. {"privacy_group": "1234"}, or {}.')
        return options

    def clean_credentials_env(self):
        prefix = self.cleaned_data["credentials_env"].strip()
        if prefix and not re.fullmatch(r"[A-Z][A-Z0-9_]{2,80}", prefix):
            raise ValidationError(
                "The name of environment variables: capital letters, digits and underscores."
            )
        return prefix

    def clean(self):
        cleaned = super().clean()
        kind, options = cleaned.get("kind"), cleaned.get("options") or {}
        if kind == Exchange.Kind.THREATEXCHANGE and not str(options.get("privacy_group", "")):
            self.add_error("options", 'ThreatExchange needs {"privacy_group": "<its id>"}.')
        if kind in (Exchange.Kind.NCMEC, Exchange.Kind.STOPNCII) and not cleaned.get(
            "credentials_env"
        ):
            self.add_error("credentials_env", "This programme needs credentials.")
        if kind == Exchange.Kind.HTTPS_FEED and options.get("mode", "list") not in (
            "list",
            "incremental",
        ):
            self.add_error("options", 'A feed\'s "mode" is "list" or "incremental".')
        return cleaned


@admin.register(Exchange)
class ExchangeAdmin(AdministratorsOnly, AuditedAdmin):
    """Administrators configure the exchanges; supervisors follow them on their own pages
    (/supervise/exchanges/). Deleting is refused once it has synced: switch it off instead."""

    form = ExchangeForm
    list_display = ["name", "kind", "bank", "is_enabled", "sync_every_minutes", "last_success_at"]
    list_select_related = ["bank"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["last_synced_at", "last_success_at", "failures", "next_attempt_at"]

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(ADMINISTER)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(ADMINISTER) and (obj is None or not obj.syncs.exists())
