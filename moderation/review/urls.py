"""The review pages' URLs (public contract: names and paths stay)."""

from django.urls import path

from moderation.review import account_views, media_views, search_views, views
from moderation.review import rereview_views as quality_views

urlpatterns = [
    path("review/", views.dashboard, name="dashboard"),
    path("review/next/", views.review_next, name="review_next"),
    path("search/", search_views.search_page, name="search"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/decide/", views.case_decide_view, name="case_decide"),
    path(
        "cases/<int:case_id>/decide-cluster/", views.case_decide_cluster, name="case_decide_cluster"
    ),
    path("cases/<int:case_id>/skip/", views.case_skip, name="case_skip"),
    path("cases/<int:case_id>/reassign/", views.case_reassign_view, name="case_reassign"),
    path("cases/<int:case_id>/lease/", views.case_lease, name="case_lease"),
    # A conversation case's thread, a page at a time (htmx; the case page without it).
    path("cases/<int:case_id>/thread/", views.case_thread, name="case_thread"),
    path(
        "cases/<int:case_id>/media/<int:media_id>/",
        media_views.case_media_view,
        name="case_media",
    ),
    path(
        "cases/<int:case_id>/media/<int:media_id>/reveal/",
        media_views.case_media_reveal,
        name="case_media_reveal",
    ),
    path(
        "cases/<int:case_id>/media/<int:media_id>/frames/",
        media_views.case_media_frames,
        name="case_media_frames",
    ),
    path(
        "cases/<int:case_id>/media/<int:media_id>/frames/status/",
        media_views.case_media_frames_status,
        name="case_media_frames_status",
    ),
    path(
        "cases/<int:case_id>/media/<int:media_id>/played/",
        media_views.case_media_played,
        name="case_media_played",
    ),
    # An owner id is the platform's string: it may hold ':', '.', even '/' (hence <path:>).
    path(
        "platform-accounts/<path:owner_id>/",
        account_views.platform_account,
        name="platform_account",
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
]
