from django.urls import path

from reports import views

urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report_form, name="report"),
    path("report/self/", views.self_report_form, name="self_report"),
    path("report/conversation/", views.conversation_report_form, name="conversation_report"),
    path("report/status/", views.report_status_view, name="report_status"),
    path("report/received/<str:reference>/", views.report_received, name="report_received"),
]
