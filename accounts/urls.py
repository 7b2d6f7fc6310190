from django.urls import path

from accounts import views

urlpatterns = [
    path("account/preferences/", views.preferences, name="preferences"),
    path("supervise/team/", views.team_page, name="team"),
    path("supervise/team/<int:user_id>/", views.reviewer_page, name="reviewer"),
    path("supervise/team/<int:user_id>/rereview/", views.assign_rereview, name="assign_rereview"),
    path(
        "supervise/team/<int:user_id>/certifications/<int:certification_id>/renew/",
        views.renew_certification,
        name="renew_certification",
    ),
    path("supervise/team/<int:user_id>/pause/", views.pause_reviewer, name="pause_reviewer"),
    path("supervise/team/<int:user_id>/resume/", views.resume_reviewer, name="resume_reviewer"),
]
