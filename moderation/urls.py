from django.urls import path

from moderation.dsa import views as dsa_views
from moderation.enforcement import views as delivery_views
from moderation.escalations import custody_views, packet_views, submission_views
from moderation.escalations import views as escalation_views
from moderation.review import rereview_views as quality_views
from moderation.review import views
from moderation.supervision import audit_views, team_views, transparency_views
from moderation.supervision import views as health_views

urlpatterns = [
    path("supervise/team/", team_views.team_page, name="team"),
    path("supervise/team/<int:user_id>/", team_views.reviewer_page, name="reviewer"),
    path(
        "supervise/team/<int:user_id>/rereview/", team_views.assign_rereview, name="assign_rereview"
    ),
    path(
        "supervise/team/<int:user_id>/certifications/<int:certification_id>/renew/",
        team_views.renew_certification,
        name="renew_certification",
    ),
    path("supervise/team/<int:user_id>/pause/", team_views.pause_reviewer, name="pause_reviewer"),
    path(
        "supervise/team/<int:user_id>/resume/", team_views.resume_reviewer, name="resume_reviewer"
    ),
    path("review/", views.dashboard, name="dashboard"),
    path("review/next/", views.review_next, name="review_next"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/decide/", views.case_decide_view, name="case_decide"),
    path(
        "cases/<int:case_id>/decide-cluster/", views.case_decide_cluster, name="case_decide_cluster"
    ),
    path("cases/<int:case_id>/skip/", views.case_skip, name="case_skip"),
    path("cases/<int:case_id>/reassign/", views.case_reassign_view, name="case_reassign"),
    path("cases/<int:case_id>/lease/", views.case_lease, name="case_lease"),
    path("cases/<int:case_id>/media/<int:media_id>/", views.case_media_view, name="case_media"),
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("audit/case/<int:case_id>/", audit_views.audit_case_timeline, name="audit_case"),
    path("audit/actor/<int:user_id>/", audit_views.audit_actor_timeline, name="audit_actor"),
    path("audit/verify/", audit_views.audit_verify_request, name="audit_verify_request"),
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
    path("rereview/next/", quality_views.rereview_next, name="rereview_next"),
    path("rereview/<int:task_id>/", quality_views.rereview_detail, name="rereview_detail"),
    path(
        "rereview/<int:task_id>/record/", quality_views.rereview_record_view, name="rereview_record"
    ),
    path(
        "rereview/<int:task_id>/release/",
        quality_views.rereview_release_view,
        name="rereview_release",
    ),
    path("supervise/rereviews/", quality_views.supervise_rereviews, name="supervise_rereviews"),
    path(
        "supervise/rereviews/<int:task_id>/resolve/",
        quality_views.supervise_rereview_resolve,
        name="supervise_rereview_resolve",
    ),
    path("supervise/queues/", health_views.queue_health_page, name="queue_health"),
    path("supervise/queues/live/", health_views.queue_health_live, name="queue_health_live"),
    path("supervise/deliveries/", delivery_views.deliveries, name="deliveries"),
    path(
        "supervise/deliveries/<int:delivery_id>/",
        delivery_views.delivery_detail,
        name="delivery_detail",
    ),
    path(
        "supervise/deliveries/<int:delivery_id>/resend/",
        delivery_views.delivery_resend_view,
        name="delivery_resend",
    ),
    path(
        "supervise/statements-of-reasons/",
        dsa_views.statements_of_reasons,
        name="statements_of_reasons",
    ),
    path(
        "supervise/statements-of-reasons.csv",
        dsa_views.statements_of_reasons_csv,
        name="statements_of_reasons_csv",
    ),
    path("supervise/transparency/", transparency_views.transparency, name="transparency"),
    path(
        "supervise/transparency.csv", transparency_views.transparency_csv, name="transparency_csv"
    ),
    path(
        "supervise/transparency.json",
        transparency_views.transparency_json,
        name="transparency_json",
    ),
    path(
        "supervise/research-export/",
        transparency_views.research_export_page,
        name="research_export",
    ),
    path(
        "supervise/research-export.csv",
        transparency_views.research_export_csv,
        name="research_export_csv",
    ),
    path(
        "supervise/research-export.json",
        transparency_views.research_export_json,
        name="research_export_json",
    ),
    path(
        "cases/<int:case_id>/actions/<int:action_id>/reverse/",
        delivery_views.action_reverse_view,
        name="action_reverse",
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
