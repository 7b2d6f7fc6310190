"""The console's URLs, gathered from each domain's `urls.py`."""

from django.urls import include, path

urlpatterns = [
    path("", include("moderation.supervision.urls")),
    path("", include("moderation.review.urls")),
    path("", include("moderation.escalations.urls")),
    path("", include("moderation.enforcement.urls")),
    path("", include("moderation.dsa.urls")),
    path("", include("moderation.exchanges.urls")),
]
