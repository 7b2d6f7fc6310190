"""The exchanges' pages' URLs."""

from django.urls import path

from moderation.exchanges import views

urlpatterns = [
    path("supervise/exchanges/", views.exchanges, name="exchanges"),
    path("supervise/exchanges/<int:exchange_id>/", views.exchange_detail, name="exchange_detail"),
    path(
        "supervise/exchanges/<int:exchange_id>/sync/",
        views.exchange_sync_now,
        name="exchange_sync_now",
    ),
]
