"""The admin for queues and their rules, priority weights, quality and account case settings."""

from django import forms
from django.contrib import admin

from moderation.audit.admin import AuditedAdmin
from moderation.cases.models import MAX_POINTS, AccountCaseSettings, PriorityWeights, Queue
from moderation.cases.priority import Weights
from moderation.cases.reprioritise import priority_weights_changed
from moderation.cases.route_rules import normalise_language, source_rule_error
from moderation.decisions.models import QualitySettings
from moderation.decisions.rules import QUEUE_REQUIREMENTS
from reports.categories import Category


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


class QueueForm(forms.ModelForm):
    """Routing rules as people think of them: ticked categories, comma-separated sources and
    languages, a bank rule. Every rule is checked before anything is saved."""

    categories = forms.MultipleChoiceField(
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Only these categories. None ticked: every category.",
    )
    sources = forms.CharField(
        required=False,
        help_text="Comma-separated. <code>form</code> (the public report form), <code>api</code> "
        "(user reports the platform forwards), <code>flag</code> (any automated flag), "
        "<code>flag:NAME</code> (flags from the source called NAME, e.g. "
        "<code>flag:nudity-classifier</code>). A case matches if any of its reports or flags "
        "came from one of these. Empty: any source.",
    )
    required_fields = forms.MultipleChoiceField(
        choices=QUEUE_REQUIREMENTS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Every decision here must record",
        help_text="On top of what the category needs (intent and classification on child-safety "
        "findings). Intent and classification apply to findings only; a written reason to every "
        "decision except sending the case to senior review.",
    )
    languages = forms.CharField(
        required=False,
        help_text="Comma-separated BCP 47 tags, e.g. <code>de, pt-BR</code>. <code>pt</code> also "
        "takes <code>pt-BR</code> and <code>pt-PT</code>. Content of unknown language never "
        "matches a queue with languages. Empty: any language.",
    )

    class Meta:
        model = Queue
        fields = [
            "name",
            "slug",
            "description",
            "is_active",
            "sla_minutes",
            "sensitive",
            "required_fields",
            "order",
            "categories",
            "involves_child",
            "sources",
            "languages",
            "bank_rule",
            "banks",
            "senior_only",
            "for_appeals",
        ]
        widgets = {"banks": forms.CheckboxSelectMultiple}
        help_texts = {
            "bank_rule": "Whether the case must have bank matches (its media hashed and matched "
            "against the hash banks). Matches arrive after the case opens; the case is routed "
            "again when they do.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["sources"] = ", ".join(self.instance.sources)
            self.initial["languages"] = ", ".join(self.instance.languages)

    def clean_sources(self):
        sources = _split(self.cleaned_data["sources"])
        errors = [e for e in map(source_rule_error, sources) if e]
        if errors:
            raise forms.ValidationError(errors)
        return sources

    def clean_languages(self):
        try:
            return [normalise_language(t) for t in _split(self.cleaned_data["languages"])]
        except ValueError as e:
            raise forms.ValidationError(str(e)) from None

    def clean(self):
        data = super().clean()
        rule, banks = data.get("bank_rule"), data.get("banks")
        if rule == Queue.BankRule.LISTED and not banks:
            self.add_error("banks", "Tick the banks whose matches this queue takes.")
        if banks and rule != Queue.BankRule.LISTED:
            self.add_error(
                "banks", "Banks are only used with the rule 'a match in one of the banks listed'."
            )
        return data


@admin.register(Queue)
class QueueAdmin(AuditedAdmin):
    """Queues and their routing rules. A case goes to the first active queue, lowest order
    first, whose rules all match; senior-review queues are reached only by people's decisions."""

    form = QueueForm
    list_display = [
        "name",
        "slug",
        "order",
        "categories",
        "involves_child",
        "sources",
        "languages",
        "bank_rule",
        "sla_minutes",
        "senior_only",
        "for_appeals",
        "sensitive",
        "is_active",
    ]
    list_editable = []
    ordering = ["order", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (
            None,
            {"fields": ["name", "slug", "description", "is_active", "sla_minutes", "sensitive"]},
        ),
        ("Decisions", {"fields": ["required_fields"]}),
        (
            "Routing rules",
            {
                "description": "A new case goes to the first active queue, lowest order first, "
                "whose rules all match it; an empty rule matches every case. Put narrow queues "
                "first and a catch-all (no rules) last. Cases are routed again when a rule's "
                "input changes (a more severe report, a bank match, a new source or language).",
                "fields": [
                    "order",
                    "categories",
                    "involves_child",
                    "sources",
                    "languages",
                    "bank_rule",
                    "banks",
                ],
            },
        ),
        (
            "Reached only by people",
            {
                "description": "Routing never sends a case to these queues nor moves one out: "
                "cases arrive by a reviewer's decision (senior review) or an owner's appeal.",
                "fields": ["senior_only", "for_appeals"],
            },
        ),
    ]


class _PriorityWeightsForm(forms.ModelForm):
    class Meta:
        model = PriorityWeights
        fields = Weights.number_fields()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        severity = self.instance.severity or {}
        for value in Category.values:
            self.initial.setdefault(f"severity_{value}", severity.get(value, 0))

    def clean(self):
        data = super().clean()
        severity = {value: data.get(f"severity_{value}") for value in Category.values}
        if all(isinstance(v, int) for v in severity.values()):
            self.instance.severity = severity
        return data


# One number field per category instead of raw JSON (declared on the class: the admin checks
# its fieldsets against the form's declared fields).
PriorityWeightsForm = type(
    "PriorityWeightsForm",
    (_PriorityWeightsForm,),
    {
        f"severity_{value}": forms.IntegerField(
            label=f"Category: {label}", min_value=0, max_value=MAX_POINTS
        )
        for value, label in Category.choices
    },
)


@admin.register(PriorityWeights)
class PriorityWeightsAdmin(AuditedAdmin):
    """The points each priority input is worth. Saving recomputes every open case's priority."""

    form = PriorityWeightsForm
    list_display = ["__str__", "version", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        categories = [f"severity_{value}" for value in Category.values]
        return [
            ("Category severity", {"fields": categories}),
            (
                "Other inputs",
                {
                    "description": "Saving recomputes the priority of every open case in the "
                    "background; the case page shows each case's breakdown.",
                    "fields": Weights.number_fields(),
                },
            ),
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        priority_weights_changed()


@admin.register(QualitySettings)
class QualitySettingsAdmin(AuditedAdmin):
    """One row: the share of decisions sampled for blind re-review (edits are audited)."""

    list_display = ["__str__", "rereview_share"]

    def has_add_permission(self, request):
        return not QualitySettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountCaseSettings)
class AccountCaseSettingsAdmin(AuditedAdmin):
    """One row: when reports about one account open a case about the account (edits are
    audited; they apply to the next report about an account)."""

    list_display = ["__str__", "enabled", "min_reported_items", "min_minor_contacts"]

    def has_add_permission(self, request):
        return not AccountCaseSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False
