"""Statements of reasons for supervisors: the export page and its streamed CSV."""

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import supervisor_required
from lib.http import client_ip, csv_response
from moderation.dsa import schema as dsa_schema
from moderation.dsa import selectors as dsa
from moderation.dsa.services import statements_export_record

# Rows fetched per query while streaming: memory stays bounded however long the period.
CHUNK = 500


class PeriodForm(forms.Form):
    """A period of whole days (UTC), both ends included. `from` and `to` are the URL's names."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widget = forms.DateInput(attrs={"type": "date"})
        self.fields["from"] = forms.DateField(label="From", widget=widget)
        self.fields["to"] = forms.DateField(label="To (included)", widget=widget)

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("to", "The period ends before it starts.")
        return data

    def period(self) -> tuple[datetime, datetime]:
        now = timezone.now()
        start = datetime.combine(self.cleaned_data["from"], time.min, tzinfo=UTC)
        # A period running into the future ends now: the file then holds what the audit says.
        # (Capped before adding the day: "to" may be the last date there is, 9999-12-31.)
        to = min(self.cleaned_data["to"], now.astimezone(UTC).date())
        end = datetime.combine(to, time.min, tzinfo=UTC) + timedelta(days=1)
        return start, min(end, now)


def _page(request, form, status=200):
    return render(
        request,
        "moderation/statements_of_reasons.html",
        {"form": form, "fields": dsa_schema.FIELDS},
        status=status,
    )


@supervisor_required
@never_cache
@require_GET
def statements_of_reasons(request):
    today = timezone.now().date()
    form = PeriodForm(initial={"from": today.replace(day=1), "to": today})
    return _page(request, form)


@supervisor_required
@never_cache
@require_GET
def statements_of_reasons_csv(request):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _page(request, form, status=400)
    since, until = form.period()
    rows = dsa.statements_count(since=since, until=until) if since < until else 0
    statements_export_record(
        user=request.user, since=since, until=until, rows=rows, ip=client_ip(request)
    )

    def rows():
        yield dsa_schema.FIELDS
        if since >= until:
            return
        for envelope in dsa.statements_iter(since=since, until=until, chunk=CHUNK):
            statement = envelope["statement"]
            yield [dsa_schema.csv_value(f, statement[f]) for f in dsa_schema.FIELDS]

    name = f"statements-of-reasons-{form.cleaned_data['from']}-{form.cleaned_data['to']}.csv"
    return csv_response(rows(), filename=name)
