"""The escalations pages' URLs (public contract: names and paths stay)."""

from django.urls import path

from moderation.escalations import custody_views, packet_views, submission_views
from moderation.escalations import views as escalation_views

urlpatterns = [
    path("escalations/", escalation_views.escalation_list, name="escalations"),
    path(
        "escalations/<int:escalation_id>/",
        escalation_views.escalation_detail,
        name="escalation_detail",
    ),
    path(
        "escalations/<int:escalation_id>/progress/",
        escalation_views.escalation_progress,
        name="escalation_progress",
    ),
    path(
        "escalations/<int:escalation_id>/details/",
        escalation_views.escalation_details,
        name="escalation_details",
    ),
    path(
        "escalations/<int:escalation_id>/request-approval/",
        escalation_views.escalation_request_approval_view,
        name="escalation_request_approval",
    ),
    path(
        "escalations/<int:escalation_id>/approve/",
        escalation_views.escalation_approve_view,
        name="escalation_approve",
    ),
    path(
        "escalations/<int:escalation_id>/return/",
        escalation_views.escalation_return_view,
        name="escalation_return",
    ),
    path(
        "escalations/<int:escalation_id>/withdraw/",
        escalation_views.escalation_withdraw_view,
        name="escalation_withdraw",
    ),
    path(
        "escalations/<int:escalation_id>/retry-assembly/",
        packet_views.escalation_retry_assembly_view,
        name="escalation_retry_assembly",
    ),
    path(
        "escalations/<int:escalation_id>/submit/",
        submission_views.escalation_submit_view,
        name="escalation_submit",
    ),
    path(
        "escalations/<int:escalation_id>/retract/",
        submission_views.escalation_retract,
        name="escalation_retract",
    ),
    path(
        "escalations/<int:escalation_id>/packet/",
        custody_views.escalation_packet,
        name="escalation_packet",
    ),
    path(
        "escalations/<int:escalation_id>/mark-submitted/",
        custody_views.escalation_mark_submitted_view,
        name="escalation_mark_submitted",
    ),
    path(
        "escalations/<int:escalation_id>/mark-acknowledged/",
        custody_views.escalation_mark_acknowledged_view,
        name="escalation_mark_acknowledged",
    ),
    path(
        "escalations/<int:escalation_id>/legal-hold/",
        custody_views.escalation_legal_hold,
        name="escalation_legal_hold",
    ),
    path(
        "escalations/<int:escalation_id>/legal-hold/lift/",
        custody_views.escalation_lift_hold,
        name="escalation_lift_hold",
    ),
]
