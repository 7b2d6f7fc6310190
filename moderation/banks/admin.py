"""The admin for hash banks: lists, their entries, and importing a list (all or nothing)."""

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from moderation.audit.admin import AuditedAdmin
from moderation.banks.models import BankEntry, BankVersion, HashBank
from moderation.banks.services import ImportFailed, bank_entry_remove, bank_import


class BankImportForm(forms.Form):
    file = forms.FileField(
        help_text="python-threatexchange CSV (signal_type,signal_str,...) or '<type> <hash>' lines."
    )


@admin.register(HashBank)
class HashBankAdmin(AuditedAdmin):
    list_display = ["name", "slug", "policy", "signal_types", "live_entries", "is_active"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(live=Count("entries", filter=Q(entries__removed_at__isnull=True)))
        )

    @admin.display(description="Live entries", ordering="live")
    def live_entries(self, obj):
        return obj.live

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Thresholds and activity change what matches: every process rebuilds its index.
        BankVersion.bump()

    def get_urls(self):
        return [
            path(
                "<int:bank_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="moderation_hashbank_import",
            )
        ] + super().get_urls()

    def import_view(self, request, bank_id: int):
        bank = get_object_or_404(HashBank, pk=bank_id)
        if not self.has_change_permission(request, bank):
            raise PermissionDenied
        form = BankImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                # Read as it goes (an upload of millions of lines is a file on disk by now).
                lines = io.TextIOWrapper(form.cleaned_data["file"].file, encoding="utf-8")
                added, present = bank_import(bank=bank, lines=lines, user=request.user)
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            except ImportFailed as e:
                shown = e.errors[:50]
                more = [f"… and {len(e.errors) - 50} more"] if len(e.errors) > 50 else []
                form.add_error("file", ["Nothing was imported."] + shown + more)
            else:
                messages.success(request, f"{bank.name}: {added} added, {present} already present.")
                return redirect("admin:moderation_hashbank_change", bank.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import hashes into {bank.name}",
            "form": form,
            "bank": bank,
            "opts": self.model._meta,
        }
        return render(request, "admin/moderation/hashbank/import.html", context)


@admin.register(BankEntry)
class BankEntryAdmin(admin.ModelAdmin):
    """Entries are added by import and removed (never deleted: matches refer to them)."""

    list_display = ["value", "signal_type", "bank", "labels", "added_at", "removed_at"]
    list_filter = ["bank", "signal_type"]
    search_fields = ["value"]
    list_select_related = ["bank"]
    actions = ["remove"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Remove the selected entries from their bank", permissions=["view"])
    def remove(self, request, queryset):
        if not request.user.has_perm("moderation.change_hashbank"):
            raise PermissionDenied
        for entry in queryset.select_related("bank"):
            bank_entry_remove(entry=entry, user=request.user)
