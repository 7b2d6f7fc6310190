from django.urls import path

from reports import views

urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report_form, name="report"),
    path("report/received/<str:reference>/", views.report_received, name="report_received"),
]
