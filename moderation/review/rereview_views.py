"""Pages for blind re-review (reviewers) and for settling disagreements (supervisors)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.access import reviewer_required, supervisor_required
from lib.forms import add_service_errors
from lib.http import client_ip
from moderation.decisions.models import ReReview
from moderation.decisions.rules import DEFAULT_POLICY
from moderation.review import rereview as rereview_services
from moderation.review import selectors
from moderation.review.conflicts import recent_conflicts
from moderation.review.forms import ReReviewForm, ResolveForm


@reviewer_required
@require_POST
def rereview_next(request):
    task = rereview_services.rereview_claim_next(user=request.user, ip=client_ip(request))
    if task is None:
        messages.info(request, "No re-review is waiting for you right now.")
        return redirect("dashboard")
    return redirect("rereview_detail", task_id=task.pk)


def _held_task(request, task_id: int) -> ReReview:
    """The task, for its holder (or a supervisor looking over it); 403 for anyone else, so a
    reviewer cannot browse others' sampled cases by number."""
    task = get_object_or_404(ReReview.objects.select_related("queue"), pk=task_id)
    holder = task.status == ReReview.Status.OPEN and task.assignee_id == request.user.pk
    if not holder and not request.user.has_perm(roles.SUPERVISE):
        raise PermissionDenied
    return task


def _render(request, task, form, status=200):
    # The case without its decisions, actions, escalations or cluster verdicts: blind.
    case = selectors.case_for_review(task.case_id)
    return render(
        request,
        "moderation/rereview.html",
        {
            "task": task,
            "case": case,
            "media": selectors.case_media(case),
            "form": form,
            "holding": task.status == ReReview.Status.OPEN and task.assignee_id == request.user.pk,
        },
        status=status,
    )


@reviewer_required
@never_cache
@require_GET
def rereview_detail(request, task_id: int):
    task = _held_task(request, task_id)
    case_category = task.case.category
    form = ReReviewForm(initial={"policy": DEFAULT_POLICY.get(case_category)})
    return _render(request, task, form)


@reviewer_required
@require_POST
def rereview_record_view(request, task_id: int):
    task = get_object_or_404(ReReview, pk=task_id)
    form = ReReviewForm(request.POST)
    if form.is_valid():
        try:
            rereview_services.rereview_record(
                task_id=task.pk, user=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except rereview_services.ReReviewNotHeld as e:
            messages.error(request, str(e))
            return redirect("dashboard")
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"Re-review of case {task.case_id} recorded. Thank you.")
            return redirect("dashboard")
    return _render(request, _held_task(request, task.pk), form, status=400)


@reviewer_required
@require_POST
def rereview_release_view(request, task_id: int):
    task = get_object_or_404(ReReview, pk=task_id)
    try:
        rereview_services.rereview_release(
            task_id=task.pk, user=request.user, ip=client_ip(request)
        )
    except rereview_services.ReReviewNotHeld as e:
        messages.error(request, str(e))
    else:
        messages.info(request, "Re-review handed back for another reviewer.")
    return redirect("dashboard")


@supervisor_required
@require_GET
def supervise_rereviews(request):
    return render(
        request,
        "moderation/supervise_rereviews.html",
        {
            "disagreed": list(selectors.rereviews_disagreed()[:100]),
            "resolved": selectors.rereviews_resolved(),
            "conflicts": recent_conflicts(),
            "form": ResolveForm(),
        },
    )


@supervisor_required
@require_POST
def supervise_rereview_resolve(request, task_id: int):
    task = get_object_or_404(ReReview, pk=task_id)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            rereview_services.rereview_resolve(
                task_id=task.pk, user=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as e:
            for errors in e.message_dict.values():
                for error in errors:
                    messages.error(request, f"Re-review {task.pk}: {error}")
        else:
            messages.success(request, f"Re-review {task.pk} resolved.")
            return redirect("supervise_rereviews")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"Re-review {task.pk}, {field}: {error}")
    return redirect("supervise_rereviews")
