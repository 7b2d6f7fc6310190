from django.urls import path

from accounts import views

urlpatterns = [
    path("account/preferences/", views.preferences, name="preferences"),
    path("supervise/team/", views.team_page, name="team"),
    path("supervise/team/<int:user_id>/pause/", views.pause_reviewer, name="pause_reviewer"),
    path("supervise/team/<int:user_id>/resume/", views.resume_reviewer, name="resume_reviewer"),
]
