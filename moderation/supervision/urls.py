"""The supervision pages' URLs (public contract: names and paths stay)."""

from django.urls import path

from moderation.supervision import audit_views, bank_views, team_views, transparency_views
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
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("audit/case/<int:case_id>/", audit_views.audit_case_timeline, name="audit_case"),
    path("audit/actor/<int:user_id>/", audit_views.audit_actor_timeline, name="audit_actor"),
    path("audit/verify/", audit_views.audit_verify_request, name="audit_verify_request"),
    path("supervise/queues/", health_views.queue_health_page, name="queue_health"),
    path("supervise/queues/live/", health_views.queue_health_live, name="queue_health_live"),
    path("supervise/banks/", bank_views.bank_health, name="bank_health"),
    path("supervise/banks/quarantined/", bank_views.quarantine_list, name="quarantined_entries"),
    path(
        "supervise/banks/quarantined/<int:entry_id>/release/",
        bank_views.quarantine_release,
        name="quarantine_release",
    ),
    path(
        "supervise/banks/quarantined/<int:entry_id>/remove/",
        bank_views.quarantine_remove,
        name="quarantine_remove",
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
]
