from django.urls import path

from accounts import views

urlpatterns = [
    path("account/preferences/", views.preferences, name="preferences"),
]
