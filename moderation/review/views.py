from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import roles, wellness
from accounts.access import reviewer_required, supervisor_required
from accounts.models import User
from lib.forms import add_service_errors
from lib.http import client_ip
from lib.text import is_storable
from moderation.cases import assignment
from moderation.cases import services as case_services
from moderation.cases.access import get_visible_case
from moderation.cases.models import Case, Queue
from moderation.decisions.models import Decision
from moderation.decisions.rules import DEFAULT_POLICY, requirement_notes
from moderation.escalations import custody
from moderation.escalations.models import Escalation
from moderation.review import (
    account_evidence,
    cluster_decisions,
    conflicts,
    conversations,
    guard,
    links,
    media_views,
    selectors,
    services,
)
from moderation.review.access import get_reviewable_case
from moderation.review.forms import DecisionForm


@reviewer_required
@require_GET
def dashboard(request):
    queues = selectors.dashboard_queues(request.user)
    held = Case.objects.filter(assignee=request.user, status=Case.Status.OPEN).select_related(
        "queue"
    )
    return render(
        request,
        "moderation/dashboard.html",
        {
            "queues": queues,
            "held": held,
            "exposure": wellness.exposure_this_shift(request.user),
            "pause": wellness.current_pause(request.user),
        },
    )


@reviewer_required
@require_POST
def review_next(request):
    # Embedded mode: waiting time was brought up to date just before this view
    # (moderation/periodic/embedded.py).
    queue = None
    if slug := request.POST.get("queue"):
        if not is_storable(slug):
            raise Http404("No such queue")
        queue = get_object_or_404(Queue, slug=slug)
    case = case_services.case_claim_next(user=request.user, queue=queue, ip=client_ip(request))
    if case is None:
        if case_services.claimable_queue_ids(request.user):
            messages.info(request, "Nothing is waiting in your queues right now.")
        else:
            messages.error(request, selectors.no_queue_reason(request.user))
        return redirect("dashboard")
    return redirect("case_detail", case_id=case.pk)


@reviewer_required
@never_cache
@require_GET
def case_detail(request, case_id: int):
    case = get_reviewable_case(request, case_id)
    task = selectors.held_rereview(request.user, case)
    if task is not None:
        # A blind re-review must not be unblinded by opening the case's own page.
        return redirect("rereview_detail", task_id=task.pk)
    holding = case.assignee_id == request.user.pk and case.status == Case.Status.OPEN
    if holding:
        try:
            case_services.case_renew_lease(case_id=case.pk, user=request.user)
        except case_services.CaseNotHeld as e:
            messages.error(request, str(e))
            return redirect("dashboard")
    form = _decision_form(
        request,
        case,
        initial={"policy": DEFAULT_POLICY.get(case.category), "seen": services.case_version(case)},
        # Only the holder sees the form: nobody else's page reads what it offers.
        targets=holding,
    )
    return render(request, "moderation/case_detail.html", _case_context(request, case, form))


def _decision_form(request, case, data=None, *, targets: bool = True, **kwargs) -> DecisionForm:
    guarded = bool(guard.guard_notice(case=case, user=request.user))
    # A conversation's decision can be about one message or account (`targets`: offer them).
    conversation = conversations.conversation_choices(case) if targets else None
    return DecisionForm(data, guarded=guarded, conversation=conversation, **kwargs)


def _preserved_locked(request, case) -> bool:
    # Evidence kept for a report to the authorities: named roles only (custody.py).
    return not request.user.has_perm(roles.PRESERVED_EVIDENCE) and custody.case_is_preserved(case)


def _case_context(request, case, form):
    holding = case.assignee_id == request.user.pk and case.status == Case.Status.OPEN
    appeal, own_appeal = selectors.case_open_appeal(case, request.user)
    cluster = selectors.cluster_cases(case)
    params = request.POST if request.method == "POST" else request.GET
    # A conversation's thread, a page at a time; its attachments are shown with their messages.
    thread = conversations.case_thread(case, page=params.get("thread_page"))
    media = list(selectors.case_media(case, attachments=thread is None))
    prefs = wellness.preferences_for(request.user)
    if request.method == "POST":
        # A decision the form refused: what the reviewer had revealed stays revealed (the
        # thread is drawn again at the page the reviewer was reading).
        media_views.keep_reveals(request, case, media + _attachments_here(case, thread), prefs)
    return {
        "appeal": appeal,
        "own_appeal": own_appeal,
        "case": case,
        "media": media,
        "thread": thread,
        "account_evidence": account_evidence.account_case_evidence(case, request.user),
        "links": links.case_links(case),
        "form": form,
        "holding": holding,
        "cluster": cluster,
        # Only a case with near-duplicates can be in conflict with them.
        "conflicts": conflicts.case_conflicts(case) if cluster[0] else [],
        "owner_history": selectors.owner_history(case, request.user),
        "prefs": prefs,
        "exposure": wellness.exposure_this_shift(request.user),
        "reassign_candidates": assignment.reassign_candidates(case)
        if request.user.has_perm(roles.SUPERVISE) and case.status == Case.Status.OPEN
        else None,
        # Who reported is for supervisors only (reporter privacy).
        "show_reporters": request.user.has_perm(roles.SUPERVISE),
        "requirements": requirement_notes(case),
        "guard_notice": guard.guard_notice(case=case, user=request.user) if holding else "",
        "preserved_locked": _preserved_locked(request, case),
    }


def _attachments_here(case, thread) -> list:
    """The files of the thread's page that came with this case (those of an earlier case of the
    conversation are served through that case)."""
    if thread is None:
        return []
    return [a for m in thread.messages for a in m.attachments.all() if a.case_id == case.pk]


@reviewer_required
@never_cache
@require_GET
def case_thread(request, case_id: int):
    """One page of a conversation case's thread: the part of the case page htmx swaps in when
    the reviewer pages through it. Without htmx, the case page at that page."""
    case = get_visible_case(request, case_id)
    page, focus = request.GET.get("thread_page", ""), request.GET.get("focus", "")
    if request.headers.get("HX-Request") != "true":
        query = urlencode({"thread_page": page} if page else {})
        return redirect(f"{reverse('case_detail', args=[case.pk])}?{query}#thread")
    thread = conversations.case_thread(case, page=page, focus=focus)
    if thread is None:
        raise Http404("This case is not about a conversation")
    context = {
        "case": case,
        "thread": thread,
        "prefs": wellness.preferences_for(request.user),
        "preserved_locked": _preserved_locked(request, case),
        "swapped": True,
    }
    return render(request, "moderation/_thread.html", context)


@reviewer_required
@require_POST
def case_decide_view(request, case_id: int):
    case = get_reviewable_case(request, case_id)
    form = _decision_form(request, case, request.POST)
    if form.is_valid():
        try:
            decision = services.case_decide(
                case_id=case.pk, user=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except services.CaseChanged as e:
            return _look_again(request, case_id, str(e))
        except case_services.CaseNotHeld as e:
            messages.error(request, str(e))
            return redirect("dashboard")
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if decision.referral_reason:
                messages.warning(
                    request,
                    f"Case {case.pk} went to senior review; your choice "
                    f"({decision.get_proposed_action_display()}) is on it for the senior "
                    f"reviewer. {decision.referral_reason}",
                )
                return redirect("dashboard")
            messages.success(request, f"Decision recorded on case {case.pk}.")
            escalation = _escalation_to_prepare(case, decision.action)
            if escalation is not None:
                # The report to the authority is best written by who just looked at the content.
                messages.info(
                    request,
                    "Describe the incident for the report to the authority, then send it for "
                    "approval.",
                )
                return redirect("escalation_detail", escalation.pk)
            return _onwards(request)
    return render(
        request, "moderation/case_detail.html", _case_context(request, case, form), status=400
    )


def _onwards(request):
    """Where a reviewer goes after a decision or a skip: the next case, claimed, when their
    preferences ask for it (auto-advance), otherwise their queues."""
    if not wellness.preferences_for(request.user).auto_advance:
        return redirect("dashboard")
    case = case_services.case_claim_next(user=request.user, ip=client_ip(request))
    if case is None:
        if case_services.claimable_queue_ids(request.user):
            messages.info(request, "Nothing else is waiting in your queues right now.")
        else:
            messages.error(request, selectors.no_queue_reason(request.user))
        return redirect("dashboard")
    return redirect("case_detail", case_id=case.pk)


def _escalation_to_prepare(case, action: str):
    if action != Decision.Action.ESCALATE:
        return None

    return case.escalations.filter(status__in=Escalation.GATHERING).first()


def _look_again(request, case_id: int, message: str):
    """The case page as it is now, keeping the reviewer's choices, with what changed said."""
    case = get_reviewable_case(request, case_id)
    data = request.POST.copy()
    data["seen"] = services.case_version(case)
    form = _decision_form(request, case, data)
    form.is_valid()
    form.add_error(None, message)
    return render(
        request, "moderation/case_detail.html", _case_context(request, case, form), status=409
    )


@reviewer_required
@require_POST
def case_decide_cluster(request, case_id: int):
    """Step one shows the cases the decision would cover; step two (confirmed) decides them."""
    case = get_reviewable_case(request, case_id)
    form = _decision_form(request, case, request.POST)
    if form.is_valid() and form.cleaned_data.get("target"):
        # Other cases share a file, not this conversation's messages or accounts.
        form.add_error("target", "A decision about one message or account is for this case only.")
    if not form.is_valid():
        return render(
            request, "moderation/case_detail.html", _case_context(request, case, form), status=400
        )
    others = cluster_decisions.cluster_open_cases(case=case, user=request.user)
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "moderation/cluster_confirm.html",
            {
                "case": case,
                "others": others,
                "form": form,
                "data": form.cleaned_data,
                "conflicts": conflicts.case_conflicts(case),
            },
        )
    confirmed = {int(x) for x in request.POST.getlist("cases") if x.isascii() and x.isdecimal()}
    # The confirmation step lists the cluster as it is now; cluster_decide checks it again.
    fields = {
        k: v for k, v in form.cleaned_data.items() if k not in ("seen", "target", "target_ref")
    }
    try:
        decided = cluster_decisions.cluster_decide(
            case_id=case.pk,
            user=request.user,
            confirmed_case_ids=confirmed,
            ip=client_ip(request),
            **fields,
        )
    except (case_services.CaseNotHeld, cluster_decisions.ClusterChanged) as e:
        messages.error(request, str(e))
        return redirect("case_detail", case_id=case.pk)
    except ValidationError as e:
        add_service_errors(form, e)
        return render(
            request, "moderation/case_detail.html", _case_context(request, case, form), status=400
        )
    messages.success(
        request, f"Decision recorded on {len(decided)} cases: {', '.join(map(str, decided))}."
    )
    return _onwards(request)


@supervisor_required
@require_POST
def case_reassign_view(request, case_id: int):
    """A supervisor gives an open case to a certified reviewer, or back to its queue."""
    case = get_reviewable_case(request, case_id)
    to_id = request.POST.get("to", "")
    to = None
    if to_id:
        if not (to_id.isascii() and to_id.isdecimal()):
            raise Http404("No such reviewer")
        to = get_object_or_404(User, pk=int(to_id))
    try:
        assignment.case_reassign(case_id=case.pk, by=request.user, to=to, ip=client_ip(request))
    except assignment.ReassignRefused as e:
        messages.error(request, str(e))
    else:
        where = f"to {to.get_username()}" if to else f"back to the {case.queue.name} queue"
        messages.success(request, f"Case {case.pk} went {where}.")
    return redirect("case_detail", case_id=case.pk)


@reviewer_required
@require_POST
def case_skip(request, case_id: int):
    case = get_reviewable_case(request, case_id)
    try:
        case_services.case_release(case_id=case.pk, user=request.user, ip=client_ip(request))
    except case_services.CaseNotHeld as e:
        messages.error(request, str(e))
    else:
        messages.info(request, f"Case {case.pk} went back to its queue.")
        return _onwards(request)
    return redirect("dashboard")


@reviewer_required
@require_POST
def case_lease(request, case_id: int):
    """Polled by the open case page (htmx): keeps the case while the reviewer has it open, and
    says so at once when something new arrived on it since the page was drawn (the form's
    `seen`), rather than only when a decision is refused."""
    case = get_reviewable_case(request, case_id)
    lost = ""
    try:
        case_services.case_renew_lease(case_id=case.pk, user=request.user)
    except case_services.CaseNotHeld as e:
        lost = str(e)
    seen = request.POST.get("seen", "")
    changed = bool(seen) and seen != services.case_version(case)
    case.refresh_from_db(fields=["assignee", "lease_expires_at", "status"])
    context = {"case": case, "changed": changed, "lost": lost}
    return render(request, "moderation/_lease.html", context)
