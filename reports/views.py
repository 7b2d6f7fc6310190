import re
import secrets

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from lib.access import public
from lib.http import client_ip, rate_limit_key
from lib.ratelimit import hit
from moderation.cases.accounts import FORM_ACCOUNT_PREFIX
from reports.categories import Category
from reports.content import ContentFacts
from reports.conversation_intake import NotAConversation, conversation_report_submit
from reports.conversations import ConversationFacts, ParticipantFacts
from reports.forms import ConversationReportForm, ReportForm, SelfReportForm, StatusForm
from reports.models import Participant, Report
from reports.services import report_status, report_submit

REFERENCE_SHAPE = re.compile(r"[Vv][Rr]-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}")
# Lookups by reference are cheap to make and could be used to probe for valid references.
STATUS_LOOKUPS_PER_MINUTE = 30


def _too_many(request, wait: int):
    response = render(request, "reports/rate_limited.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


@public
@require_GET
def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return redirect("report")


def _public_report(request, form, template: str, context: dict, **fixed):
    """The public forms' shared handling: rate limit, validate, submit, POST-redirect-GET.
    `fixed` holds what the form itself decides (a self-report's category, say)."""
    if request.method == "POST":
        key = f"form:{rate_limit_key(client_ip(request))}"
        if wait := hit(key, limit=settings.PUBLIC_FORM_RATE_PER_MINUTE):
            return _too_many(request, wait)
        if form.is_valid():
            data = form.cleaned_data
            report = report_submit(
                **{
                    "category": data.get("category"),
                    "involves_child": data.get("involves_child", False),
                    **fixed,
                },
                content=ContentFacts(url=data["content_url"], language=data.get("language", "")),
                description=data["description"],
                images=data["images"],
                reporter_email=data["email"],
                # Leaving an address on the form asks to hear back; the form says so.
                reporter_notify=bool(data["email"]),
                reporter_ip=client_ip(request),
                source=Report.Source.FORM,
            )
            return redirect("report_received", reference=report.reference)
    # Files chosen are not sent back to the browser with the errors: ask for them again.
    files_dropped = form.is_bound and bool(form.errors) and bool(request.FILES)
    return render(request, template, {"form": form, "files_dropped": files_dropped, **context})


@public
@require_http_methods(["GET", "POST"])
def report_form(request):
    form = ReportForm(request.POST or None, request.FILES or None)
    other_fields = [f for f in form if f.name != "category"]
    return _public_report(
        request,
        form,
        "reports/report_form.html",
        {"other_fields": other_fields},
        reporter_kind=Report.ReporterKind.PUBLIC,
    )


@public
@require_http_methods(["GET", "POST"])
def self_report_form(request):
    """The "take it down" path for a young person reporting an image of themselves."""
    form = SelfReportForm(request.POST or None, request.FILES or None)
    return _public_report(
        request,
        form,
        "reports/self_report_form.html",
        # Somewhere ordinary to go at once if someone comes into the room.
        {"quick_exit_url": settings.QUICK_EXIT_URL},
        category=Category.SELF_GENERATED,
        involves_child=True,
        reporter_kind=Report.ReporterKind.SELF,
    )


@public
@require_http_methods(["GET", "POST"])
def conversation_report_form(request):
    """Reporting a conversation from outside the platform: the other person, the ages of the
    people in it, what was said (as the reporter pastes it) and screenshots."""
    form = ConversationReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if wait := hit(
            f"form:{rate_limit_key(client_ip(request))}",
            limit=settings.PUBLIC_FORM_RATE_PER_MINUTE,
        ):
            return _too_many(request, wait)
        if form.is_valid():
            data = form.cleaned_data
            other, child = _conversation_people(data)
            try:
                stored = _submit_conversation(request, data, other, child)
            except NotAConversation:
                form.add_error(
                    "content_url",
                    "That link is to a post, not a conversation. Give the link to the chat or to "
                    "the person's profile, or report the post on the report form.",
                )
            else:
                return redirect("report_received", reference=stored.report.reference)
    files_dropped = form.is_bound and bool(form.errors) and bool(request.FILES)
    return render(
        request,
        "reports/conversation_report_form.html",
        {
            "form": form,
            "about_them": [form[name] for name in ("content_url", "other_handle", "other_age")],
            "about_the_rest": [
                form[name]
                for name in ("child_handle", "child_age", "description", "images", "email")
            ],
            "files_dropped": files_dropped,
            "quick_exit_url": settings.QUICK_EXIT_URL,
        },
    )


def _submit_conversation(request, data: dict, other, child):
    return conversation_report_submit(
        category=data["category"],
        reporter_kind=Report.ReporterKind.PUBLIC,
        source=Report.Source.FORM,
        content=ContentFacts(url=data["content_url"], owner_handle=other.handle),
        conversation=ConversationFacts(
            participants=[other, child],
            messages=[],
            reported_id=other.account_id,
            reporter_id=child.account_id if data["reporter_in_conversation"] == "me" else "",
        ),
        description=data["description"],
        involves_child=child.age is not None and child.age < 18,
        images=data["images"],
        reporter_email=data["email"],
        reporter_notify=bool(data["email"]),
        reporter_ip=client_ip(request),
    )


def _conversation_people(data: dict) -> tuple[ParticipantFacts, ParticipantFacts]:
    """The reported person and the one they were talking to, as the form describes them. The
    form knows usernames, not account ids: each stands for its person under a `form:` id, never
    taken for a platform account (nor tallied into an account case); a person whose username was
    not given is a participant of their own. Ages are what the reporter said."""
    other = ParticipantFacts(
        account_id=FORM_ACCOUNT_PREFIX + data["other_handle"],
        handle=data["other_handle"],
        age=data["other_age"],
        age_source=Participant.AgeSource.REPORTED if data["other_age"] is not None else "",
    )
    handle = data["child_handle"]
    child = ParticipantFacts(
        account_id=FORM_ACCOUNT_PREFIX + (handle or f"unnamed-{secrets.token_hex(4)}"),
        handle=handle,
        display_name="" if handle else "Username not given",
        age=data["child_age"],
        age_source=Participant.AgeSource.REPORTED if data["child_age"] is not None else "",
    )
    return other, child


@public
@require_GET
def report_received(request, reference: str):
    # Shows only the reference and what happens next: nothing about the report's content, so a
    # guessed or shared link reveals nothing.
    report = None
    if REFERENCE_SHAPE.fullmatch(reference):
        report = (
            Report.objects.filter(reference=reference.upper())
            .only("reference", "reporter_kind", "category")
            .first()
        )
    if report is None:
        raise Http404("No such report")
    return render(
        request,
        "reports/report_received.html",
        {
            "report": report,
            "self_report": report.is_self_report,
            "platform_name": settings.VIGIL_PLATFORM_NAME,
        },
    )


@public
@require_GET
def report_status_view(request):
    form = StatusForm(request.GET or None)
    status = None
    looked_up = False
    if form.is_bound:
        if wait := hit(
            f"status:{rate_limit_key(client_ip(request))}", limit=STATUS_LOOKUPS_PER_MINUTE
        ):
            return _too_many(request, wait)
        if form.is_valid():
            looked_up = True
            status = report_status(form.cleaned_data["reference"])
    return render(
        request,
        "reports/report_status.html",
        {"form": form, "status": status, "looked_up": looked_up},
    )
