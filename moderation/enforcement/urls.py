"""The enforcement pages' URLs (public contract: names and paths stay)."""

from django.urls import path

from moderation.enforcement import views as delivery_views

urlpatterns = [
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
        "cases/<int:case_id>/actions/<int:action_id>/reverse/",
        delivery_views.action_reverse_view,
        name="action_reverse",
    ),
]
